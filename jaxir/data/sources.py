"""Where the data lives: `--data-dir`, else `$JAXIR_DATA`, else `../shared/data` beside the checkout."""
import os
from pathlib import Path

from jaxir.errors import JaxirError

_DEFAULT = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def data_root(data_dir=None):
  root = data_dir or os.environ.get("JAXIR_DATA") or _DEFAULT
  root = Path(root).expanduser()
  if not root.is_dir():
    raise JaxirError(f"data directory not found: {root} (pass --data-dir DIR or set JAXIR_DATA)")
  return root


def benchmark_dir(name, data_dir=None):
  """The folder holding `<lang>.json` files: `<root>/<name>`, or `root` itself when it is that folder."""
  root = data_root(data_dir)
  for cand in (root / name, root):
    if cand.is_dir() and any(cand.glob("*.json")):
      return cand
  raise JaxirError(f"no {name} files under {root} (expected {root / name}/<lang>.json; pass --data-dir DIR or set JAXIR_DATA)")

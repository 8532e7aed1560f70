"""`models_from`: evaluate the models another sweep trained, with other evaluation options, without training.

A sweep with `models_from: SOURCE` (a sweep directory) trains nothing: each training cell evaluates
`SOURCE/cells/<name>/train/export`. Use it to evaluate a finished sweep at another scale (all of
XQuAD-R instead of a slice, other languages), which the source sweep itself refuses because its
results depend on those options. The source must have been built from the same training config
and hold every training cell of this grid; that is checked before anything is written. A cell the
source has not finished training yet stops the sweep with one line when its turn comes (the
cells before it are kept: rerun once the source has trained it). Each cell records the fingerprint
of the model it evaluated; if the source retrains a cell later, a rerun evaluates it again.
"""
import json
from pathlib import Path

from jaxir import storage
from jaxir.errors import JaxirError, some


def check(spec):
  """JaxirError unless `spec.models_from` is a sweep trained like `spec`, holding every training cell of it."""
  from jaxir.sweep.spec import FORMAT, differing
  src = Path(spec.models_from)
  if not (src / "sweep.json").is_file():
    raise JaxirError(f"models_from: {src} is not a jaxir sweep directory (no sweep.json)")
  old = storage.read_json(src / "sweep.json", "sweep record")
  if old.get("format") != FORMAT:
    raise JaxirError(f"models_from: {src} was written by an incompatible jaxir sweep (format {old.get('format')!r})")
  changed = differing((old.get("spec") or {}).get("train") or {}, json.loads(json.dumps(spec.to_json()["train"])))
  if changed:
    raise JaxirError(f"models_from: {src} was trained with another config (differs in "
                     f"{', '.join('train.' + k for k in changed[:5])})")
  theirs = {c["name"]: c for c in old.get("cells") or []}
  ours = [c.to_json() for c in spec.cells() if c.kind == "train"]
  missing = [c["name"] for c in ours if theirs.get(c["name"]) != c]
  if missing:
    raise JaxirError(f"models_from: {src} has no cell {some(missing)}; its grid must include this one")


def trained_model(spec, cell):
  """(export directory, run record) of `cell` in the source sweep; JaxirError while it is not trained there."""
  run_dir = _run_dir(spec, cell)
  if not (run_dir / "run.json").is_file() or not (run_dir / "export").is_dir():
    raise JaxirError(f"models_from: {spec.models_from} has not finished training {cell.name} yet; finish that "
                     "sweep (rerun its command), then rerun this one")
  return (run_dir / "export").absolute(), storage.read_json(run_dir / "run.json", "run record")


def retrained(spec, cell, cell_dir):
  """Whether the source's model of `cell` is no longer the one `cell_dir` recorded evaluating (the
  source retrained it since); False where nothing was recorded (before fingerprints were) or the
  source has no export now (it is retraining: `trained_model` stops there)."""
  try:
    made_from = storage.read_json(Path(cell_dir) / "config.json", "cell config").get("model_fingerprint")
  except (JaxirError, OSError, ValueError):
    return False
  export = _run_dir(spec, cell) / "export"
  if made_from is None or not (export / "config.json").is_file():
    return False
  from jaxir.model.hf_io import fingerprint
  return fingerprint(export) != made_from


def _run_dir(spec, cell):
  return Path(spec.models_from) / "cells" / cell.name / "train"

"""Storage: atomic writes (a reader never sees a half-written file or directory) and checked reads."""
import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np


@contextlib.contextmanager
def atomic_path(path):
  """Yields a temporary path beside `path`; renames it onto `path` only on success."""
  path = Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  tmp = None
  try:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    yield Path(tmp)
    os.chmod(tmp, 0o666 & ~_umask())   # mkstemp creates owner-only files
    os.replace(tmp, path)
  except OSError as e:
    raise _naming(e, path, tmp) from e
  finally:
    if tmp is not None and os.path.exists(tmp):
      os.unlink(tmp)


def _naming(e, path, tmp=None):
  """`e`, naming the destination `path` where it names no file (a full disk fails a write, which names
  none) or a temporary one (`tmp`, or the one mkstemp / mkdtemp tried); the destination is left as it was."""
  name = None if e.filename is None else str(e.filename)
  if name is None:
    where = str(path)
  elif tmp is not None and name.startswith(str(tmp)):
    where = str(path) + name[len(str(tmp)):]
  elif name.startswith(str(path.parent / f".{path.name}.")) and name.endswith(".tmp"):
    where = str(path)
  else:
    return e
  return type(e)(e.errno, e.strerror or str(e), where)


def write_text(path, text):
  with atomic_path(path) as tmp:
    tmp.write_text(text, encoding="utf-8")


def write_json(path, obj):
  write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def write_npy(path, array):
  with atomic_path(path) as tmp:
    with open(tmp, "wb") as f:
      np.save(f, array)


def check_replaceable(path, marker=None, force=False, what="directory"):
  """JaxirError, one line, unless `path` is missing, an empty directory or a directory jaxir wrote
  (it holds the file `marker`): a user's folder (or file) is never replaced unless `force`."""
  from jaxir.errors import JaxirError
  path = Path(path)
  if force or not (path.exists() or path.is_symlink()):
    return
  if path.is_dir() and not path.is_symlink():
    if not any(path.iterdir()) or (marker and (path / marker).is_file()):
      return
    mine = f" (no {marker})" if marker else ""
    raise JaxirError(f"{path} is not empty and not a {what} jaxir wrote{mine}; refusing to replace it:"
                     " choose another output, or pass --force to replace it")
  raise JaxirError(f"{path} exists and is not a directory; refusing to replace it: choose another output,"
                   " or pass --force to replace it")


@contextlib.contextmanager
def atomic_dir(path, marker=None, force=False):
  """Yields a temporary directory beside `path`; it replaces `path` only on success.

  An existing `path` is replaced only when it is empty or holds the file `marker` (jaxir wrote it),
  or with `force`; otherwise JaxirError before anything is written (`check_replaceable`)."""
  path = Path(path)
  check_replaceable(path, marker, force)
  path.parent.mkdir(parents=True, exist_ok=True)
  try:
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
  except OSError as e:
    raise _naming(e, path) from e
  try:
    yield tmp
    _share(tmp)
    if path.exists() or path.is_symlink():
      old = path.with_name(f".{path.name}.old")
      _remove(old)
      os.replace(path, old)
      os.replace(tmp, path)
      _remove(old)
    else:
      os.replace(tmp, path)
  except OSError as e:
    raise _naming(e, path, tmp) from e
  finally:
    shutil.rmtree(tmp, ignore_errors=True)


def _remove(path):
  """Deletes a file, link or directory tree at `path` (nothing when there is none)."""
  if path.is_symlink() or path.is_file():
    path.unlink()
  else:
    shutil.rmtree(path, ignore_errors=True)


def _umask():
  mask = os.umask(0)
  os.umask(mask)
  return mask


def _share(root):
  """mkdtemp (and some writers) create owner-only entries; give them the usual umask modes."""
  mask = _umask()
  for p in (root, *root.rglob("*")):
    p.chmod((0o777 if p.is_dir() else 0o666) & ~mask)


def read_json(path, what="file"):
  """The JSON document at `path`; JaxirError, one line, when missing or malformed."""
  return _read_doc(path, what, "JSON", json.loads, (json.JSONDecodeError, UnicodeDecodeError))


def read_yaml(path, what="file"):
  """The YAML document at `path` (None when empty); JaxirError, one line, when missing or malformed."""
  import yaml
  return _read_doc(path, what, "YAML", yaml.safe_load, (yaml.YAMLError, UnicodeDecodeError))


def _read_doc(path, what, kind, parse, errors):
  from jaxir.errors import JaxirError
  path = Path(path)
  if not path.is_file():
    raise JaxirError(f"{what} not found: {path}")
  try:
    return parse(path.read_text(encoding="utf-8"))
  except errors as e:
    raise JaxirError(f"{path}: malformed {kind} ({(str(e).splitlines() or [type(e).__name__])[0]})") from None


def read_manifest(path, fmt, partial_marker):
  """The manifest of a finished export directory of format `fmt`: one clear error when the directory
  is missing, unfinished (no manifest.json; `partial_marker` tells an interrupted export apart) or
  of another format."""
  from jaxir.errors import JaxirError
  path = Path(path)
  if not path.is_dir():
    raise JaxirError(f"embeddings directory not found: {path}")
  if not (path / "manifest.json").is_file():
    hint = " (an unfinished export: rerun `jaxir encode` to finish it)" if (path / partial_marker).exists() else ""
    raise JaxirError(f"{path} is not a finished jaxir export: no manifest.json{hint}")
  manifest = read_json(path / "manifest.json", "manifest")
  if not isinstance(manifest, dict):
    raise JaxirError(f"{path}/manifest.json must hold a JSON object, got {type(manifest).__name__}")
  if manifest.get("format") != fmt:
    raise JaxirError(f"{path}: format {manifest.get('format')!r} is not a {fmt} export")
  return manifest

"""Storage: atomic writes (a reader never sees a half-written file or directory) and checked reads,
on a local (or shared, NFS-mounted) filesystem and on Google Cloud Storage (`gs://bucket/path`).

Local paths are `pathlib.Path`s and keep POSIX guarantees: a file or directory is written beside its
destination and renamed onto it (`os.replace`, atomic on one filesystem).

A `gs://` URI is an `etils.epath.Path` (through tf.io.gfile, or fsspec/gcsfs without TensorFlow). Object
storage has no atomic rename (a rename is copy + delete) and no append (objects are immutable), so:
  - a file is one object, written whole in one upload (prepared in a local temporary file first): GCS
    makes an object visible only once its upload completes, so a reader sees the old object or the
    new one, never part of one (`atomic_path`, `write_text`, `write_json`, `write_npy`). The limit: the
    upload is one `write` between open and close; a Ctrl-C in the instant between `open` and `write`
    leaves an empty object (tf.io.gfile uploads what it holds when the file is closed on an exception);
  - a directory is "complete" when its marker object (`marker`, e.g. jaxir.json or manifest.json) is
    there: `atomic_dir` deletes the marker of the one it replaces first, uploads every other file, and
    the marker last; readers check the marker (`read_manifest`, `check_replaceable`). Unlike a local
    rename, the replacement is not instant: between the first delete and the last upload the
    directory is unfinished (no marker), never a mix that claims to be finished;
  - a log that grows is rewritten whole at each record (`jaxir.train.log.JsonlLog`);
  - a lock needs an object created only if absent (GCS's `ifGenerationMatch=0` precondition). epath and
    tf.io.gfile expose no such precondition, so the sweep's cell locks (`jaxir.sweep.lock`) go through
    google-cloud-storage (the `gcs` extra), with generation preconditions on every write and delete; a
    `gs://` sweep without it refuses in one line. A run directory (`jaxir train`) takes no lock: it is
    written by process 0 of one (multi-host) run only;
  - a resumable export (`jaxir encode`) writes each finished chunk or shard as one object and its manifest
    last, so a rerun trusts what is there exactly as on a local disk; an unfinished one is deleted object
    by object (`rmtree`);
  - reading: arrays are read whole (`load`: no memory map of an object), and a model directory is copied to
    a local temporary directory to be loaded (`local_copy`: tokenizers and safetensors read local files).
"""
import contextlib
import functools
import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np


def is_cloud(path):
  """Whether `path` is a URI (`gs://bucket/...`) rather than a local path."""
  return "://" in str(path)


def as_path(path):
  """A local path as `pathlib.Path`, a `gs://` URI as `etils.epath.Path` (a URI given to pathlib would silently
  become a local folder named "gs:"); JaxirError, one line, for another scheme."""
  if not is_cloud(path):
    return Path(path)
  from etils import epath
  if isinstance(path, epath.Path):
    return path
  text = str(path)
  if not text.startswith("gs://") or len(text) <= len("gs://"):
    from jaxir.errors import JaxirError
    raise JaxirError(f"{text}: jaxir writes to local paths and gs://bucket/path URIs only")
  return epath.Path(text)


def absolute(path):
  """`path` made absolute: a local one against the working directory, a URI as it is (epath's `absolute()`
  would turn `gs://b/x` into a local folder "gs:")."""
  return as_path(path) if is_cloud(path) else Path(path).absolute()


def rmtree(path):
  """Deletes the directory tree (or file) at `path`, local or `gs://` (object by object); nothing when there
  is none."""
  path = as_path(path)
  if not is_cloud(path):
    _remove(path)
  elif path.is_dir():
    path.rmtree()
  elif path.exists():
    path.unlink()


def load(path, mmap_mode=None):
  """`np.load` of a .npy / .npz file: a local one (memory-mapped with `mmap_mode`), or a `gs://` object read
  whole into memory (objects cannot be mapped)."""
  if is_cloud(path):
    import io
    return np.load(io.BytesIO(as_path(path).read_bytes()))
  if mmap_mode is not None:
    return np.load(path, mmap_mode=mmap_mode)
  # Opened here, not by np.load: np.load hands its own file to NpzFile before that reads the zip directory, so a
  # damaged .npz leaked the open file (closed only by garbage collection). An NpzFile takes this one over
  # (its close(), and so `with`, closes `fid`); anything else is read whole and the file closed.
  f = open(path, "rb")
  try:
    out = np.load(f)
  except BaseException:
    f.close()
    raise
  if isinstance(out, np.lib.npyio.NpzFile):
    out.fid = f
  else:
    f.close()
  return out


def local_copy(path, what="directory"):
  """A local directory holding the files of the `gs://` directory `path` (a fresh temporary one, deleted when
  the process exits), for readers of local files only (tokenizers, safetensors); a local `path` as it is.
  Never reused: a model retrained in place is read anew (object times say seconds only). The caller deletes
  it when done (`hf_io.load_pretrained` does once the model is in memory); what a crash leaves goes at exit."""
  if not is_cloud(path):
    return Path(path)
  import atexit
  src = as_path(path)
  if not src.is_dir():
    from jaxir.errors import JaxirError
    raise JaxirError(f"{what} not found: {src}")
  dest = Path(tempfile.mkdtemp(prefix=f"jaxir-{src.name}-"))
  atexit.register(shutil.rmtree, dest, ignore_errors=True)
  for root, _, files in src.walk():
    for name in files:
      f = as_path(root) / name
      local = dest / f.relative_to(src).as_posix()
      local.parent.mkdir(parents=True, exist_ok=True)
      local.write_bytes(f.read_bytes())
  return dest


def local_only(path, what, why):
  """`path` as a `pathlib.Path`; JaxirError, one line, for a URI: `what` (e.g. "jaxir report") works there
  in ways object storage cannot hold (`why`), so a URI is never taken as a local folder named "gs:"."""
  if is_cloud(path):
    from jaxir.errors import JaxirError
    raise JaxirError(f"{path}: {what} works on a local or shared filesystem only ({why})")
  return Path(path)


def _upload(local, dest):
  """Writes the local file `local` as the object `dest` in one upload (GCS publishes an object whole when its
  upload completes; there are no parent directories to make). One `write` call, which Python's Ctrl-C cannot
  cut: tf.io.gfile closes, and so uploads, a file left by an exception, and would publish a partial one."""
  data = Path(local).read_bytes()
  with dest.open("wb") as out:
    out.write(data)


@contextlib.contextmanager
def atomic_path(path):
  """Yields a temporary path beside `path`; renames it onto `path` only on success. For a `gs://` path: a
  local temporary file, uploaded as one object only on success."""
  if is_cloud(path):
    path = as_path(path)
    with tempfile.TemporaryDirectory(prefix="jaxir-") as d:
      tmp = Path(d) / path.name
      yield tmp
      _upload(tmp, path)
    return
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


def json_safe(value):
  """`value` with every non-finite float (NaN, inf) replaced by None, which JSON writes as null."""
  if isinstance(value, float):
    return value if math.isfinite(value) else None
  if isinstance(value, dict):
    return {k: json_safe(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [json_safe(v) for v in value]
  return value


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
  path = as_path(path)
  link = not is_cloud(path) and path.is_symlink()
  if force or not (path.exists() or link):
    return
  if path.is_dir() and not link:
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
  or with `force`; otherwise JaxirError before anything is written (`check_replaceable`). For a `gs://`
  path: a local temporary directory, published on success by `_publish` (the marker uploaded last)."""
  if is_cloud(path):
    path = as_path(path)
    check_replaceable(path, marker, force)
    with tempfile.TemporaryDirectory(prefix="jaxir-") as d:
      tmp = Path(d) / path.name
      tmp.mkdir()
      yield tmp
      _publish(tmp, path, marker)
    return
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


def _publish(local, dest, marker):
  """Uploads the local directory `local` as the objects under `dest`, replacing what is there: the old
  marker is deleted first and the new one uploaded last, so `dest` claims to be finished only when it is."""
  if dest.exists():
    if marker and (dest / marker).exists():
      (dest / marker).unlink()
    dest.rmtree()
  files = sorted(p for p in local.rglob("*") if p.is_file())
  files.sort(key=lambda p: marker is not None and p.relative_to(local).as_posix() == marker)
  for f in files:
    _upload(f, dest / f.relative_to(local).as_posix())


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


def yaml_loads(text):
  """yaml.safe_load without YAML 1.1's base-60 numbers: `5:0.75` (a query-feedback setting) stays the string it
  is, where safe_load would read 300.75."""
  import yaml
  return yaml.load(text, Loader=_yaml_loader())


@functools.cache
def _yaml_loader():
  """yaml's SafeLoader, with a plain scalar of the base-60 form resolved as a string (yaml loads on first use)."""
  import re
  import yaml
  sexagesimal = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?")

  class Loader(yaml.SafeLoader):
    def resolve(self, kind, value, implicit):
      if kind is yaml.ScalarNode and implicit[0] and sexagesimal.fullmatch(value):
        return "tag:yaml.org,2002:str"
      return super().resolve(kind, value, implicit)
  return Loader


def read_yaml(path, what="file"):
  """The YAML document at `path` (None when empty; `yaml_loads`); JaxirError, one line, when missing or
  malformed."""
  import yaml
  return _read_doc(path, what, "YAML", yaml_loads, (yaml.YAMLError, UnicodeDecodeError))


def _read_doc(path, what, kind, parse, errors):
  from jaxir.errors import JaxirError
  path = as_path(path)
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
  path = as_path(path)
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

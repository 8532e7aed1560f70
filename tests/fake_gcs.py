"""A fake Google Cloud Storage for tests (no network here): `gs://BUCKET/KEY` is the local file ROOT/BUCKET/KEY.

It replaces only what sits below jaxir, so jaxir runs the code a real `gs://` path runs:
  - etils.epath's gs:// backend (tf.io.gfile's GCS filesystem when TensorFlow is installed, else fsspec):
    every `epath.Path("gs://...")` operation (jaxir's and orbax's) goes to ROOT instead. Like an object
    store, it refuses to append to an object (mode "a"), and an object written appears whole when its
    writer closes it (never half-written; nothing when the writer fails, as for a GCS upload never
    finalised, though tf.io.gfile would upload what it holds: see `jaxir.storage._upload`).
  - orbax-checkpoint's GCS specifics: tensorstore's `gcs` kvstore driver becomes its `file` driver on the
    same local file, and the bucket's hierarchical-namespace query (google-cloud-storage) answers no.
  - google-cloud-storage's `Client` (the sweep's cell locks, `jaxir.sweep.lock`): `FakeClient`, on the same
    ROOT, keeps GCS's generation preconditions (`if_generation_match`: 0 = only if absent; a write or delete
    matched to the generation it names), checked and applied under an flock of ROOT/.generations/.flock so
    that they hold across threads and processes. The emulator that pip installs (gcp-storage-emulator
    2026.7.19) was tried first: it ignores ifGenerationMatch on upload and delete, so it cannot test a lock.
What this leaves untested: tensorstore's gcs driver, tf.io.gfile's GCS client, google-cloud-storage's HTTP
requests and GCS itself (their consistency, upload, preconditions and auth), which only a real bucket exercises.
"""
import contextlib
import datetime
import fcntl
import json
import os
import sys
import time
import uuid
from unittest import mock

from etils.epath import backend as backend_lib
from etils.epath import gpath


class FakeGcsBackend(backend_lib.Backend):
  """epath's local backend (`os_backend`) on ROOT/<bucket>/<key> for `gs://<bucket>/<key>`."""

  def __init__(self, root):
    self.root, self.os = str(root), backend_lib.os_backend

  def local(self, path):
    path = os.fspath(path)
    if not path.startswith("gs://"):
      raise ValueError(f"the fake GCS backend got a non-gs:// path {path!r}")
    return os.path.join(self.root, path[len("gs://"):])

  def uri(self, local):
    return "gs://" + os.path.relpath(local, self.root)

  def open(self, path, mode):
    if "a" in mode or "+" in mode:
      raise OSError(f"gs:// objects cannot be appended to or updated in place: {path}")
    if "w" in mode or "x" in mode:
      dest = self.local(path)
      os.makedirs(os.path.dirname(dest), exist_ok=True)   # GCS has no directories to create
      uploads = os.path.join(self.root, ".uploads")
      os.makedirs(uploads, exist_ok=True)
      tmp = os.path.join(uploads, uuid.uuid4().hex)
      return _Upload(self.os.open(tmp, mode.replace("x", "w")), tmp, dest)
    return self.os.open(self.local(path), mode)

  def exists(self, path):
    return self.os.exists(self.local(path))

  def isdir(self, path):
    return self.os.isdir(self.local(path))

  def listdir(self, path):
    return self.os.listdir(self.local(path))

  def glob(self, path):
    return [self.uri(p) for p in self.os.glob(self.local(path))]

  def walk(self, top, *, top_down=True, on_error=None):
    for root, dirs, files in self.os.walk(self.local(top), top_down=top_down, on_error=on_error):
      yield self.uri(root), dirs, files

  def makedirs(self, path, *, exist_ok=False, mode=None):
    return self.os.makedirs(self.local(path), exist_ok=exist_ok)

  def mkdir(self, path, *, exist_ok=False, mode=None):
    return self.os.mkdir(self.local(path), exist_ok=exist_ok)

  def rmtree(self, path):
    return self.os.rmtree(self.local(path))

  def remove(self, path):
    return self.os.remove(self.local(path))

  def rename(self, path, dst):
    return self.os.rename(self.local(path), self.local(dst))

  def replace(self, path, dst):
    return self.os.replace(self.local(path), self.local(dst))

  def copy(self, path, dst, *, overwrite):
    return self.os.copy(self.local(path), self.local(dst), overwrite=overwrite)

  def stat(self, path):
    return self.os.stat(self.local(path))


class _Upload:
  """A file being uploaded: the object appears (replacing the old one) only when it is closed without error."""

  def __init__(self, f, tmp, dest):
    self._f, self._tmp, self._dest = f, tmp, dest

  def __getattr__(self, name):
    return getattr(self._f, name)

  def __enter__(self):
    return self

  def __exit__(self, kind, value, tb):
    if kind is None:
      self.close()
    else:
      self._f.close()
      os.unlink(self._tmp)

  def close(self):
    if not self._f.closed:
      self._f.close()
      os.replace(self._tmp, self._dest)


class FakeClient:
  """google.cloud.storage.Client for what jaxir calls: bucket(name).blob(key) / get_blob(key); the blob's
  upload_from_string, download_as_bytes and delete with `if_generation_match`, its generation and updated.
  An object's generation and update time live in ROOT/.generations/<bucket>/<key>.json, trusted while the
  object's file is the one they were written with (mtime and size); an object written through epath gets
  its file's mtime as both."""

  def __init__(self, root):
    self.root = str(root)

  def bucket(self, name):
    return _Bucket(self, name)


class _Bucket:
  def __init__(self, client, name):
    self.client, self.name = client, name

  def blob(self, key):
    return _Blob(self, key)

  def get_blob(self, key):
    blob = _Blob(self, key)
    with blob._flock():
      state = blob._state()
    if state is None:
      return None
    blob.generation, blob.updated = state
    return blob


class _Blob:
  def __init__(self, bucket, key):
    self.bucket, self.name = bucket, key
    self.generation = self.updated = None
    root = bucket.client.root
    self._file = os.path.join(root, bucket.name, key)
    self._meta = os.path.join(root, ".generations", bucket.name, key + ".json")

  @contextlib.contextmanager
  def _flock(self):
    path = os.path.join(self.bucket.client.root, ".generations", ".flock")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a") as f:
      fcntl.flock(f, fcntl.LOCK_EX)
      try:
        yield
      finally:
        fcntl.flock(f, fcntl.LOCK_UN)

  def _state(self):
    """(generation, updated) of the object now, None when there is none."""
    try:
      st = os.stat(self._file)
    except FileNotFoundError:
      return None
    try:
      with open(self._meta) as f:
        meta = json.load(f)
      if meta["mtime_ns"] == st.st_mtime_ns and meta["size"] == st.st_size:
        return meta["generation"], _utc(meta["updated"])
    except (OSError, ValueError, KeyError):
      pass
    return st.st_mtime_ns, _utc(st.st_mtime)

  def _check(self, if_generation_match):
    from google.api_core import exceptions
    state = self._state()
    now = 0 if state is None else state[0]
    if if_generation_match is not None and if_generation_match != now:
      raise exceptions.PreconditionFailed(f"gs://{self.bucket.name}/{self.name}: generation {now}, "
                                          f"not {if_generation_match}")
    return state

  def upload_from_string(self, data, content_type=None, if_generation_match=None):
    data = data.encode() if isinstance(data, str) else data
    with self._flock():
      state = self._check(if_generation_match)
      generation = max(time.time_ns(), 1 + (state[0] if state else 0))
      os.makedirs(os.path.dirname(self._file), exist_ok=True)
      tmp = f"{self._file}.{uuid.uuid4().hex}.upload"
      with open(tmp, "wb") as f:
        f.write(data)
      os.replace(tmp, self._file)
      st = os.stat(self._file)
      os.makedirs(os.path.dirname(self._meta), exist_ok=True)
      with open(self._meta, "w") as f:
        json.dump({"generation": generation, "updated": time.time(), "mtime_ns": st.st_mtime_ns, "size": st.st_size}, f)
      self.generation, self.updated = generation, _utc(time.time())

  def download_as_bytes(self, if_generation_match=None):
    from google.api_core import exceptions
    with self._flock():
      if self._check(if_generation_match) is None:
        raise exceptions.NotFound(f"gs://{self.bucket.name}/{self.name}")
      with open(self._file, "rb") as f:
        return f.read()

  def delete(self, if_generation_match=None):
    from google.api_core import exceptions
    with self._flock():
      if self._check(if_generation_match) is None:
        raise exceptions.NotFound(f"gs://{self.bucket.name}/{self.name}")
      os.unlink(self._file)
      with contextlib.suppress(FileNotFoundError):
        os.unlink(self._meta)


def _utc(seconds):
  return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)


def age(root, uri, seconds):
  """Makes the object at `uri` look last written `seconds` earlier (a holder whose heartbeat stopped)."""
  blob = FakeClient(root).bucket(uri[len("gs://"):].split("/", 1)[0]).get_blob(uri[len("gs://"):].split("/", 1)[1])
  with blob._flock():
    with open(blob._meta) as f:
      meta = json.load(f)
    meta["updated"] -= seconds
    with open(blob._meta, "w") as f:
      json.dump(meta, f)


@contextlib.contextmanager
def fake_gcs(root):
  """Within: `gs://...` is served from the local directory `root` (made if missing); yields the backend
  (its `local(uri)` is the file behind a URI)."""
  from orbax.checkpoint._src.path import gcs_utils
  os.makedirs(root, exist_ok=True)
  fake = FakeGcsBackend(root)

  def kvstore(path):
    return {"driver": "file", "path": fake.local(os.path.normpath(str(path)).replace("gs:/", "gs://", 1))}

  from google.cloud import storage as gcs
  client_class = type("FakeClient", (FakeClient,), {"__init__": lambda self, *a, **kw: FakeClient.__init__(self, root)})
  with mock.patch.dict(gpath._PREFIX_TO_BACKEND, {"gs": fake}), \
       mock.patch.object(gcs, "Client", client_class), \
       mock.patch.object(backend_lib, "tf_backend", fake), \
       mock.patch.object(gpath, "_is_zonal_gcs_bucket", lambda bucket: False), \
       mock.patch.object(gcs_utils, "get_kvstore_for_gcs", kvstore), \
       mock.patch.object(gcs_utils, "is_hierarchical_namespace_enabled", lambda path: False):
    yield fake


if __name__ == "__main__":
  # `python tests/fake_gcs.py ARGS...`: `jaxir ARGS...` with gs:// served from $FAKE_GCS_ROOT (the workers of
  # tests/test_launch.py's simulated pod share one fake bucket this way).
  from jaxir import cli
  with fake_gcs(os.environ["FAKE_GCS_ROOT"]):
    code = cli.main(sys.argv[1:])
  sys.exit(code)


@contextlib.contextmanager
def fake_gcs_in(tmp_path, monkeypatch):
  """fake_gcs on tmp_path/bucket-root for a test run from tmp_path, which must end with no folder "gs:" (a URI
  taken as a local path would show up there)."""
  monkeypatch.chdir(tmp_path)
  with fake_gcs(tmp_path / "bucket-root") as fake:
    yield fake
  assert not (tmp_path / "gs:").exists()

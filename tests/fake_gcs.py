"""A fake Google Cloud Storage for tests (no network here): `gs://BUCKET/KEY` is the local file ROOT/BUCKET/KEY.

It replaces only what sits below jaxir, so jaxir runs the code a real `gs://` path runs:
  - etils.epath's gs:// backend (tf.io.gfile's GCS filesystem when TensorFlow is installed, else fsspec):
    every `epath.Path("gs://...")` operation (jaxir's and orbax's) goes to ROOT instead. Like an object
    store, it refuses to append to an object (mode "a"), and an object written appears whole when its
    writer closes it (never half-written; nothing when the writer fails, as for a GCS upload never
    finalised, though tf.io.gfile would upload what it holds: see `jaxir.storage._upload`).
  - orbax-checkpoint's GCS specifics: tensorstore's `gcs` kvstore driver becomes its `file` driver on the
    same local file, and the bucket's hierarchical-namespace query (google-cloud-storage) answers no.
What this leaves untested: tensorstore's gcs driver, tf.io.gfile's GCS client and GCS itself (their
consistency, upload and auth), all of which only a real bucket exercises.
"""
import contextlib
import os
import sys
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


@contextlib.contextmanager
def fake_gcs(root):
  """Within: `gs://...` is served from the local directory `root` (made if missing); yields the backend
  (its `local(uri)` is the file behind a URI)."""
  from orbax.checkpoint._src.path import gcs_utils
  os.makedirs(root, exist_ok=True)
  fake = FakeGcsBackend(root)

  def kvstore(path):
    return {"driver": "file", "path": fake.local(os.path.normpath(str(path)).replace("gs:/", "gs://", 1))}

  with mock.patch.dict(gpath._PREFIX_TO_BACKEND, {"gs": fake}), \
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

"""A cell's lock, `SWEEP/cells/<name>/.lock`: one process runs a cell at a time.

So several `jaxir sweep` processes can work through one grid side by side (the GPUs of one host,
or hosts that share the sweep directory): each skips the cells another one holds and takes the
next free one; a second process started by mistake cannot train over the first one's cell.

The lock is created with O_EXCL and names its holder (host, pid, since, start time); it is removed when the
cell stops, finished or not. While it runs the cell, the holder touches the lock every
HEARTBEAT_S. A lock whose process is gone from this host is taken over. One from another host
cannot be checked by pid: it is taken over once its heartbeat is STALE_AFTER_S old (that host's
process was killed, or the host went away). A process of this host is trusted by its pid alone
(and its start time, which the lock records: a live pid that started at another time was reused by
an unrelated process, and its lock is taken over), so a paused one (SIGSTOP) keeps its cells.

Two backends keep these rules, chosen by the cell directory:
  - a local (or NFS) directory: the lock is a file created with O_EXCL; its heartbeat is its mtime;
  - `gs://`: the lock is an object written through google-cloud-storage (the `gcs` extra) with GCS's
    generation preconditions, which epath and tf.io.gfile do not expose: created with
    `ifGenerationMatch=0` (only if absent: of two takers, one wins), its heartbeat a rewrite with
    `ifGenerationMatch=<its generation>` (its age is the object's `updated` time), a stale lock taken over
    by a rewrite matched to the generation read (of two takers, one wins), and released by a delete matched
    to the holder's generation (a lock taken over meanwhile is not deleted by its old holder). A holder
    whose heartbeat finds its generation replaced has lost the lock (said on stderr). An object is whole,
    so a lock "still being written" does not occur there. Ages compare this host's clock with GCS's.
"""
import json
import os
import socket
import sys
import threading
import time
import uuid
from pathlib import Path

from jaxir import schema
from jaxir import storage
from jaxir.errors import JaxirError

NAME = ".lock"
UNWRITTEN_GRACE_S = 60      # a lock file still empty this long after its creation is a dead writer's
HEARTBEAT_S = 60
STALE_AFTER_S = 600         # another host's lock not touched for this long is a dead holder's
_beats = {}                 # lock path -> threading.Event that stops its heartbeat
GCS_EXTRA = "pip install -e .[gcs] (google-cloud-storage)"
_client_of = {}             # google.cloud.storage.Client (the class) -> its one client in this process


def _alive(pid):
  if not isinstance(pid, int) or pid <= 0:       # 0 and -1 would name process groups, not a holder
    return False
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:                       # someone else's live process
    return True
  except OverflowError:
    return False
  return True


def _holder(path):
  """The holder a lock file names, {} for one still being written, None for a dead writer's."""
  try:
    holder = json.loads(path.read_text())
    return holder if isinstance(holder, dict) else None
  except FileNotFoundError:
    return None
  except (OSError, ValueError):
    try:
      young = time.time() - path.stat().st_mtime < UNWRITTEN_GRACE_S
    except FileNotFoundError:
      return None
    return {} if young else None


def _check_lock(path):
  """JaxirError for a lock that no jaxir process wrote: a directory, or JSON that is not a holder record
  (a mapping with a string 'host' and an integer 'pid'). One still being written is left to `_holder`."""
  if path.is_dir():
    raise JaxirError(f"{path} is a directory, not a lock file; remove it if no sweep is running this cell")
  try:
    holder = json.loads(path.read_text())
  except (OSError, ValueError):
    return
  _check_record(holder, path)


def _check_record(holder, path):
  try:
    schema.expect(holder, "host", str, path)
    schema.expect(holder, "pid", int, path)
    schema.expect(holder, "since", str, path, default=None)
  except JaxirError as e:
    raise JaxirError(f"{e} (not a jaxir lock; remove it if no sweep is running this cell)") from None


def acquire(cell_dir):
  """Takes the lock of `cell_dir`: None when this process now holds it, else its holder's record."""
  me = {"host": socket.gethostname(), "pid": os.getpid(), "since": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "start": _start_time(os.getpid())}
  if storage.is_cloud(cell_dir):
    return _acquire_object(storage.as_path(cell_dir) / NAME, me)
  path = Path(cell_dir) / NAME
  path.parent.mkdir(parents=True, exist_ok=True)
  for _ in range(3):
    try:
      fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
      _check_lock(path)
      holder = _holder(path)
      if not _stale(path, holder, me["host"]):
        return holder
      path.unlink(missing_ok=True)
      continue
    with os.fdopen(fd, "w") as f:
      json.dump(me, f)
    _beats[path] = _heartbeat(path)
    return None
  return _holder(path) or {}


def _stale(path, holder, host, age=None):
  """Whether `holder`'s lock at `path` is a dead holder's; `age`: seconds since its heartbeat (None: the file's)."""
  if holder is None:
    return True
  if holder.get("host") == host:
    return not _alive(holder.get("pid")) or _reused(path, holder)
  try:
    age = time.time() - path.stat().st_mtime if age is None else age
  except FileNotFoundError:
    return True
  return bool(holder) and age > STALE_AFTER_S


def _start_time(pid):
  """When process `pid` started, in clock ticks after boot (/proc/PID/stat); None where unknown."""
  try:
    with open(f"/proc/{pid}/stat", "rb") as f:
      return int(f.read().rsplit(b")", 1)[1].split()[19])
  except (OSError, ValueError, IndexError):
    return None


def _reused(path, holder):
  """Whether the live process a lock of this host names is another one than its holder: its pid was
  reused (the start time the lock records differs). Said on stderr: the lock is then taken over."""
  pid, recorded = holder.get("pid"), holder.get("start")
  now = _start_time(pid) if isinstance(recorded, int) else None
  if now is None or now == recorded:
    return False
  print(f"sweep: {path}: process {pid} is alive but is not the lock's holder (it started at tick {now}, "
        f"the holder at {recorded}: the pid was reused); taking the stale lock over", file=sys.stderr)
  return True


def _heartbeat(path, touch=None, generation=None):
  """Touches the lock every HEARTBEAT_S until the returned event is set (or `touch` returns False: the
  lock is gone). `touch` (default: the file's mtime) runs under the event's `mutex`, so that a release
  (which takes it) never races a heartbeat."""
  stop = threading.Event()
  stop.mutex, stop.generation = threading.Lock(), generation

  def utime():
    try:
      os.utime(path)
      return True
    except FileNotFoundError:
      return False

  def beat():
    while not stop.wait(HEARTBEAT_S):
      with stop.mutex:
        if stop.is_set() or not (touch or utime)():
          return

  threading.Thread(target=beat, name=f"lock-heartbeat {path.parent.name}", daemon=True).start()
  return stop


def release(cell_dir):
  if storage.is_cloud(cell_dir):
    _release_object(storage.as_path(cell_dir) / NAME)
    return
  path = Path(cell_dir) / NAME
  stop = _beats.pop(path, None)
  if stop is not None:
    stop.set()
  holder = _holder(path)
  if holder and holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname():
    path.unlink(missing_ok=True)


def describe(holder, path=None):
  """Whose lock it is; with its `path`, also which lock and how long since its holder touched it."""
  if not holder:
    who = "another process (its lock is being written)"
  else:
    who = f"process {holder.get('pid')} on {holder.get('host')} since {holder.get('since')}"
  if path is None:
    return who
  try:
    if storage.is_cloud(path):
      state = _Object(path).read()
      if state is None:
        raise FileNotFoundError(path)
      seconds = state[2]
    else:
      seconds = time.time() - Path(path).stat().st_mtime
    age = f"touched {int(seconds)}s ago"
  except (OSError, JaxirError):
    age = "gone since"
  return f"{who} (lock {path}, {age})"


def check(out_dir):
  """JaxirError, one line, when cell locks cannot be taken under `out_dir`: a gs:// directory without
  google-cloud-storage (the `gcs` extra) or without credentials. Nothing is written."""
  if storage.is_cloud(out_dir):
    _client()


def _client():
  """This process's google-cloud-storage client (one per Client class, so a test's fake client is used
  within its test only)."""
  try:
    from google.cloud import storage as gcs
  except ImportError:
    raise JaxirError(f"a gs:// sweep takes its cell locks through google-cloud-storage, which is not installed: "
                     f"{GCS_EXTRA}") from None
  if gcs.Client not in _client_of:
    try:
      _client_of[gcs.Client] = gcs.Client()
    except Exception as e:                  # google.auth's DefaultCredentialsError, a project it cannot find
      raise JaxirError(f"a gs:// sweep takes its cell locks through google-cloud-storage, which cannot start here "
                       f"({type(e).__name__}: {(str(e).splitlines() or [''])[0][:200]}); set up credentials "
                       "(gcloud auth application-default login, or the VM's service account)") from None
  return _client_of[gcs.Client]


class _Object:
  """The lock as one GCS object; every write is conditioned on its generation (`ifGenerationMatch`). Methods
  return the new generation (None: the precondition failed, another process got there first)."""

  def __init__(self, path):
    self.client = _client()
    from google.api_core import exceptions
    self.bucket, _, self.key = str(path)[len("gs://"):].partition("/")
    self.errors = exceptions

  def _blob(self):
    return self.client.bucket(self.bucket).blob(self.key)

  def _write(self, text, generation):
    blob = self._blob()
    try:
      blob.upload_from_string(text, content_type="application/json", if_generation_match=generation)
    except self.errors.PreconditionFailed:
      return None
    return blob.generation

  def create(self, text):
    """Writes the lock only if there is none (generation 0: absent)."""
    return self._write(text, 0)

  def rewrite(self, text, generation):
    """Replaces the lock only while it is still at `generation` (a heartbeat, a takeover)."""
    return self._write(text, generation)

  def read(self):
    """(text, generation, seconds since it was written), or None when there is no lock."""
    try:
      blob = self.client.bucket(self.bucket).get_blob(self.key)
      if blob is None:
        return None
      text = blob.download_as_bytes(if_generation_match=blob.generation).decode("utf-8", "replace")
    except (self.errors.NotFound, self.errors.PreconditionFailed):     # deleted or rewritten meanwhile
      return None
    return text, blob.generation, time.time() - blob.updated.timestamp()

  def delete(self, generation):
    """Deletes the lock only while it is still at `generation`; whether it did."""
    try:
      self._blob().delete(if_generation_match=generation)
    except (self.errors.NotFound, self.errors.PreconditionFailed):
      return False
    return True


def _acquire_object(path, me):
  """`acquire` on gs://: create if absent; else the holder, unless stale: then a generation-matched takeover.
  The record carries a token of this call, so that a create the client retried (its reply lost) is
  recognised as this call's own."""
  me = {**me, "token": uuid.uuid4().hex}
  obj, text, holder = _Object(path), json.dumps(me), {}
  for _ in range(3):
    generation = obj.create(text)
    if generation is None:
      state = obj.read()
      if state is None:                 # released meanwhile: try again
        continue
      body, held, age = state
      try:
        holder = json.loads(body)
      except ValueError:
        raise JaxirError(f"{path} holds no JSON (not a jaxir lock; remove it if no sweep is running this cell)") from None
      _check_record(holder, path)
      if holder == me and str(path) not in _beats:   # this call's own create, its reply lost and retried
        generation = held
      elif not _stale(path, holder, me["host"], age):
        return holder
      else:
        generation = obj.rewrite(text, held)
      if generation is None:            # another process took it over, or its holder beat: look again
        continue
    _beats[str(path)] = _object_heartbeat(path, obj, text, generation)
    return None
  return holder


def _object_heartbeat(path, obj, text, generation):
  """The heartbeat of a lock object this process holds: a rewrite matched to its generation. Its event
  carries the generation now held (`generation`), which `release` deletes."""
  stop = None

  def touch():
    new = obj.rewrite(text, stop.generation)
    if new is None:
      print(f"sweep: {path}: lost this process's cell lock (another process took it over: was this host's "
            f"heartbeat stopped for over {STALE_AFTER_S}s?)", file=sys.stderr)
      stop.generation = None
      return False
    stop.generation = new
    return True

  stop = _heartbeat(path, touch, generation)
  return stop


def _release_object(path):
  stop = _beats.pop(str(path), None)
  if stop is None:                      # not this process's lock: left alone
    return
  with stop.mutex:
    stop.set()
    if stop.generation is not None:
      _Object(path).delete(stop.generation)

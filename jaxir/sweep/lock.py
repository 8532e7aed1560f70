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
"""
import json
import os
import socket
import sys
import threading
import time
from pathlib import Path

from jaxir import schema
from jaxir.errors import JaxirError

NAME = ".lock"
UNWRITTEN_GRACE_S = 60      # a lock file still empty this long after its creation is a dead writer's
HEARTBEAT_S = 60
STALE_AFTER_S = 600         # another host's lock not touched for this long is a dead holder's
_beats = {}                 # lock path -> threading.Event that stops its heartbeat


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
  try:
    schema.expect(holder, "host", str, path)
    schema.expect(holder, "pid", int, path)
    schema.expect(holder, "since", str, path, default=None)
  except JaxirError as e:
    raise JaxirError(f"{e} (not a jaxir lock; remove it if no sweep is running this cell)") from None


def acquire(cell_dir):
  """Takes the lock of `cell_dir`: None when this process now holds it, else its holder's record."""
  path = Path(cell_dir) / NAME
  path.parent.mkdir(parents=True, exist_ok=True)
  me = {"host": socket.gethostname(), "pid": os.getpid(), "since": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "start": _start_time(os.getpid())}
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


def _stale(path, holder, host):
  if holder is None:
    return True
  if holder.get("host") == host:
    return not _alive(holder.get("pid")) or _reused(path, holder)
  try:
    return bool(holder) and time.time() - path.stat().st_mtime > STALE_AFTER_S
  except FileNotFoundError:
    return True


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


def _heartbeat(path):
  stop = threading.Event()

  def beat():
    while not stop.wait(HEARTBEAT_S):
      try:
        os.utime(path)
      except FileNotFoundError:
        return

  threading.Thread(target=beat, name=f"lock-heartbeat {path.parent.name}", daemon=True).start()
  return stop


def release(cell_dir):
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
    age = f"touched {int(time.time() - Path(path).stat().st_mtime)}s ago"
  except OSError:
    age = "gone since"
  return f"{who} (lock {path}, {age})"

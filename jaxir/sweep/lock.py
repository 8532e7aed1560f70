"""A cell's lock, `SWEEP/cells/<name>/.lock`: one process runs a cell at a time.

So several `jaxir sweep` processes can work through one grid side by side (the GPUs of one host,
or hosts that share the sweep directory): each skips the cells another one holds and takes the
next free one; a second process started by mistake cannot train over the first one's cell.

The lock is created with O_EXCL and names its holder (host, pid, since); it is removed when the
cell stops, finished or not. A lock whose process is gone from this host is taken over. One from
another host cannot be checked from here: it is reported, and stays until its host removes it
(or the user, once that process is gone).
"""
import json
import os
import socket
import time
from pathlib import Path

NAME = ".lock"
UNWRITTEN_GRACE_S = 60      # a lock file still empty this long after its creation is a dead writer's


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


def acquire(cell_dir):
  """Takes the lock of `cell_dir`: None when this process now holds it, else its holder's record."""
  path = Path(cell_dir) / NAME
  path.parent.mkdir(parents=True, exist_ok=True)
  me = {"host": socket.gethostname(), "pid": os.getpid(), "since": time.strftime("%Y-%m-%dT%H:%M:%S")}
  for _ in range(3):
    try:
      fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
      holder = _holder(path)
      stale = holder is None or (holder.get("host") == me["host"] and not _alive(holder.get("pid")))
      if not stale:
        return holder
      path.unlink(missing_ok=True)
      continue
    with os.fdopen(fd, "w") as f:
      json.dump(me, f)
    return None
  return _holder(path) or {}


def release(cell_dir):
  path = Path(cell_dir) / NAME
  holder = _holder(path)
  if holder and holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname():
    path.unlink(missing_ok=True)


def describe(holder):
  if not holder:
    return "another process (its lock is being written)"
  return f"process {holder.get('pid')} on {holder.get('host')} since {holder.get('since')}"

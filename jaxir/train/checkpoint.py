"""Checkpoints with orbax: train state (params, optimizer, step, rng) plus a small JSON of the run's
position (the next data step; the data order is a pure function of (seed, step), so that is all
the input pipeline needs to resume). Keeps the last N; asynchronous on accelerators.
"""
import os
import sys

import jax
import orbax.checkpoint as ocp

from jaxir import storage
from jaxir.errors import JaxirError


class Checkpoints:
  def __init__(self, directory, keep=2):
    asynchronous = jax.default_backend() != "cpu"
    self.directory = storage.as_path(directory)       # local, or gs:// (orbax takes etils.epath paths)
    self.manager = ocp.CheckpointManager(
        directory, options=ocp.CheckpointManagerOptions(max_to_keep=keep, enable_async_checkpointing=asynchronous))

  def latest_step(self):
    return self.manager.latest_step()

  def save(self, step, state, position):
    self.manager.save(int(step), args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                                         position=ocp.args.JsonSave(position)))

  def restore(self, abstract_state, step=None):
    """(state, position) of `step` (default: the latest), laid out like `abstract_state`."""
    step = self.latest_step() if step is None else step
    restored = self.manager.restore(step, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(abstract_state), position=ocp.args.JsonRestore()))
    return restored.state, restored.position

  def restore_readable(self, abstract_state, step=None, doing="resuming"):
    """(step, state, position, unreadable steps newest first) of `step`, or else of the newest checkpoint
    that restores: an unreadable one is said on stderr and the previous kept step tried (the caller may
    `move_aside` the unreadable ones); JaxirError, one line, when none restores (or `step` does not)."""
    steps = [step] if step is not None else sorted(self.manager.all_steps(), reverse=True)
    _quiet_closed_loop_reads()
    bad = []
    for s in steps:
      try:
        state, position = self.restore(abstract_state, s)
        if not isinstance(position, dict) or not isinstance(position.get("next_step"), int):
          raise ValueError(f"position {position!r} has no integer next_step")
      except Exception as e:       # orbax / tensorstore raise many kinds for damaged files
        bad.append((s, _reason(e)))
        continue
      for b, why in bad:
        print(f"checkpoint step {b} unreadable ({why}); {doing} from step {s}", file=sys.stderr)
      return s, state, position, [b for b, _ in bad]
    if step is not None:
      raise JaxirError(f"{self.directory}: checkpoint step {step} unreadable ({bad[0][1]})")
    what = "; ".join(f"step {b}: {why}" for b, why in bad)
    raise JaxirError(f"{self.directory}: no readable checkpoint ({what}); move the checkpoints directory aside to start over")

  def move_aside(self, step):
    """Moves an unreadable step's directory to `.corrupt-<step>` beside it (kept for inspection, out of
    orbax's way: it refuses to save a step that exists); returns the new path. On gs:// the move is a
    copy and delete of each object (GCS has no rename)."""
    src = self.directory / str(step)
    dst = self.directory / f".corrupt-{step}"
    n = 1
    while dst.exists():
      dst, n = self.directory / f".corrupt-{step}-{n}", n + 1
    if storage.is_cloud(src):
      src.rename(dst)
    else:
      os.replace(src, dst)
    self.manager.reload()
    print(f"checkpoint step {step} moved aside to {dst}", file=sys.stderr)
    return dst

  def wait(self):
    self.manager.wait_until_finished()

  def close(self):
    self.manager.wait_until_finished()
    self.manager.close()


def _reason(e):
  """One short line for an exception out of orbax (whose messages run to many lines)."""
  line = (str(e).strip().splitlines() or [""])[0]
  line = line if len(line) <= 160 else line[:157] + "..."
  return f"{type(e).__name__}: {line}" if line else type(e).__name__


def _quiet_closed_loop_reads():
  """When a restore fails, tensorstore's other reads of that checkpoint finish on orbax's closed event
  loop and each reports "RuntimeError: Event loop is closed" through sys.unraisablehook: hundreds of
  traceback lines for nothing. Drops just those (for the rest of the process: they can come late)."""
  previous = sys.unraisablehook
  if getattr(previous, "jaxir_quiet", False):
    return

  def hook(unraisable):
    e = unraisable.exc_value
    if not (isinstance(e, RuntimeError) and str(e) == "Event loop is closed"):
      previous(unraisable)

  hook.jaxir_quiet = True
  sys.unraisablehook = hook

"""The sweep's progress on stderr: cells done / total, the current cell, elapsed, estimated time left.

The estimate multiplies the cells still to run by the mean duration of finished cells of the same
kind (training cells and the zero-shot reference differ by an order of magnitude), counting cells
finished by earlier runs of the sweep with their recorded durations; it is "?" until every kind
still to run has a finished cell.
"""
import sys
import time


def fmt_seconds(s):
  if s is None:
    return "?"
  s = int(round(s))
  h, rem = divmod(s, 3600)
  m, sec = divmod(rem, 60)
  return f"{h}h{m:02d}m" if h else (f"{m}m{sec:02d}s" if m else f"{sec}s")


class Progress:
  def __init__(self, cells, stream=None, enabled=True, clock=time.monotonic):
    self.kind = {c.name: c.kind for c in cells}
    self.total = len(cells)
    self.durations = {}           # finished cell -> seconds
    self.stream = stream or sys.stderr
    self.enabled = enabled
    self.clock = clock
    self.t0 = clock()

  def eta(self):
    """Seconds left for the unfinished cells (None while a kind still to run has no finished cell:
    a zero-shot cell's minutes say nothing about a training cell's)."""
    by_kind = {}
    for name, d in self.durations.items():
      if d is not None:
        by_kind.setdefault(self.kind[name], []).append(d)
    left = 0.0
    for name, kind in self.kind.items():
      if name not in self.durations:
        ds = by_kind.get(kind)
        if not ds:
          return None
        left += sum(ds) / len(ds)
    return left

  def line(self, current=None):
    elapsed = self.clock() - self.t0
    parts = [f"sweep: {len(self.durations)}/{self.total} cells done"]
    if current:
      parts.append(f"now {current}")
    parts += [f"elapsed {fmt_seconds(elapsed)}", f"left ~{fmt_seconds(self.eta())}"]
    return " | ".join(parts)

  def _print(self, text):
    if self.enabled:
      print(text, file=self.stream, flush=True)

  def skip(self, cell, seconds):
    """A cell finished by an earlier run."""
    self.durations[cell.name] = seconds

  def busy(self, cell, holder):
    """A cell another process is running: not this run's to count or wait for."""
    self.kind.pop(cell.name, None)
    self.total -= 1
    self._print(f"sweep: {cell.name} is being run by {holder}; going on")

  def start(self, cell):
    self._print(self.line(cell.name))

  def done(self, cell, seconds):
    self.durations[cell.name] = seconds
    self._print(f"sweep: {cell.name} finished in {fmt_seconds(seconds)}")

  def fail(self, cell, seconds):
    """A cell that raised: not finished (no cell.json); its error, printed next, ends the sweep."""
    self._print(f"sweep: {cell.name} failed after {fmt_seconds(seconds)}; not finished (no cell.json)")

  def finish(self):
    self._print(self.line())

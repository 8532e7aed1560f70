"""The run's JSONL log: one JSON object a line, flushed as written, appended across resumes.

Strict JSON: a non-finite float is written as null. A resumed run first drops the records its
restored state does not reach (steps after the checkpoint it resumes from: they are run again, and
logged again), so no step is logged twice.

On gs:// (an object cannot be appended to) the log is rewritten whole, as one object, at each record
(`storage.write_text`): a reader sees it as of some record, never cut in the middle of one.
"""
import json
import sys
import time

from jaxir import storage


class JsonlLog:
  """Appends records to `path`; with `keep` (a predicate on records), the records already there that it
  rejects, and lines that are not JSON (a record cut by a kill), are dropped first (`dropped` counts them;
  `kept` holds the rest). `path`: a pathlib path, or a gs:// etils.epath path (rewritten whole at each record)."""

  def __init__(self, path, echo=True, keep=None):
    self.kept, self.dropped = [], 0
    self.path, self.lines = path, None
    if keep is not None and path.exists():
      for line in path.read_text(encoding="utf-8").splitlines():
        try:
          record = json.loads(line)
        except json.JSONDecodeError:
          record = None
        if isinstance(record, dict) and keep(record):
          self.kept.append(line)
        elif line.strip():
          self.dropped += 1
      if self.dropped:
        storage.write_text(path, "".join(f"{line}\n" for line in self.kept))
    if storage.is_cloud(path):
      self.file = None
      self.lines = list(self.kept) if keep is not None else (path.read_text(encoding="utf-8").splitlines()
                                                            if path.exists() else [])
    else:
      self.file = open(path, "a", encoding="utf-8")
    self.echo = echo

  def write(self, record):
    record = {"time": round(time.time(), 3), **record}
    line = json.dumps(storage.json_safe(record), allow_nan=False)
    if self.file is None:
      self.lines.append(line)
      storage.write_text(self.path, "".join(f"{l}\n" for l in self.lines))
    else:
      self.file.write(line + "\n")
      self.file.flush()
    if self.echo:
      shown = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                       for k, v in record.items() if k != "time" and not isinstance(v, (dict, list)))
      print(shown, file=sys.stderr, flush=True)

  def close(self):
    if self.file is not None:
      self.file.close()


def encoder_flops_per_token(config, length):
  """Forward FLOPs per token of the encoder (matmuls only; its family's count), for the utilisation estimate."""
  from jaxir.model import families
  return families.of_config(config).flops_per_token(config, length)

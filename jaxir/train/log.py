"""The run's JSONL log: one JSON object a line, flushed as written, appended across resumes."""
import json
import sys
import time


class JsonlLog:
  def __init__(self, path, echo=True):
    self.file = open(path, "a", encoding="utf-8")
    self.echo = echo

  def write(self, record):
    record = {"time": round(time.time(), 3), **record}
    self.file.write(json.dumps(record) + "\n")
    self.file.flush()
    if self.echo:
      shown = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                       for k, v in record.items() if k != "time" and not isinstance(v, (dict, list)))
      print(shown, file=sys.stderr, flush=True)

  def close(self):
    self.file.close()


def encoder_flops_per_token(config, length):
  """Forward FLOPs per token of a BERT-style encoder (matmuls only), for the utilisation estimate."""
  h, f, n = config.hidden_size, config.intermediate_size, config.num_layers
  dense = 2 * (4 * h * h + 2 * h * f)           # q, k, v, out; FFN in and out
  attention = 2 * 2 * length * h                # scores and weighted sum
  return n * (dense + attention)

"""Sequence packing: several short texts share one row, so almost no compute goes to padding.

Texts up to `row_length` tokens are packed into rows of `row_length` (best fit decreasing);
longer texts get a row of their own in a length bucket. Each row carries `segment_ids` (1..S per text, 0 for padding) and `positions`
(restarting at 0 per text), which `Encoder.packed` turns into block-diagonal attention, so a
packed text's embedding equals its embedding alone. Each distinct row length is one compiled
shape (two with the last, smaller batch), whatever the mix of text lengths.
"""
import dataclasses

import numpy as np

LONG_BUCKETS = (128, 192, 256, 384, 512)


@dataclasses.dataclass
class Step:
  """One batch: `rows[i]` lists the text positions packed into row i (in order)."""
  length: int       # tokens per row
  batch: int        # rows in the compiled batch (>= len(rows); the rest is padding)
  segments: int     # segments per row in the compiled shape
  rows: list

  @property
  def members(self):
    return [m for row in self.rows for m in row]


def _round_up(n, multiple):
  return -(-n // multiple) * multiple


def plan(lengths, max_length, tokens_per_batch=8192, row_length=128, multiple_of=1):
  """Batches covering every text once. `multiple_of`: rows per batch divisible by the device count."""
  lengths = np.minimum(np.asarray(lengths), max_length)
  row_length = min(row_length, max_length)
  rows_by_length = {}
  # Best fit decreasing: each text, longest first, goes to the fullest row it still fits in.
  rows, free = [], [[] for _ in range(row_length + 1)]    # free[c]: rows with c tokens left
  for i in np.argsort(-lengths, kind="stable"):
    n = int(lengths[i])
    if n > row_length:
      bucket = min([b for b in LONG_BUCKETS if n <= b <= max_length] or [max_length])
      rows_by_length.setdefault(bucket, []).append([int(i)])
      continue
    c = next((c for c in range(n, row_length + 1) if free[c]), None)
    if c is None:
      rows.append([])
      r, c = len(rows) - 1, row_length
    else:
      r = free[c].pop()
    rows[r].append(int(i))
    free[c - n].append(r)
  if rows:
    rows_by_length[row_length] = rows

  steps = []
  for length in sorted(rows_by_length):
    rows = rows_by_length[length]
    segments = _round_up(max(len(r) for r in rows), 4)
    batch = _round_up(max(1, tokens_per_batch // length), multiple_of)
    for s in range(0, len(rows), batch):
      part = rows[s:s + batch]
      # The last, partial batch is cut to size: one more compiled shape per row length.
      steps.append(Step(length, min(batch, _round_up(len(part), multiple_of)), segments, part))
  return steps


def arrays(step, token_ids, pad_id):
  """(input_ids, segment_ids, positions) int32 [batch, length] for one step."""
  ids = np.full((step.batch, step.length), pad_id, np.int32)
  seg = np.zeros((step.batch, step.length), np.int32)
  pos = np.zeros((step.batch, step.length), np.int32)
  for r, row in enumerate(step.rows):
    at = 0
    for s, m in enumerate(row, start=1):
      t = token_ids[m][:step.length]
      ids[r, at:at + len(t)] = t
      seg[r, at:at + len(t)] = s
      pos[r, at:at + len(t)] = np.arange(len(t))
      at += len(t)
  return ids, seg, pos


def unpack(step, pooled):
  """[len(step.members), H] rows of a [batch, segments, H] output, in `step.members` order."""
  return np.concatenate([pooled[r, :len(row)] for r, row in enumerate(step.rows)])

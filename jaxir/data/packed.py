"""Packed train batches: a host's queries, passages and hard negatives share rows, no padding between.

A padded batch spends most of its compute on padding: MLQA-R questions are ~15 tokens and answer
sentences ~45, padded to buckets of 32 and 128. Packed, every text of a host's slice goes to a row of
`length` tokens (best fit decreasing, `jaxir.packing.plan`), and `Encoder.packed` keeps attention
within each text and restarts positions per text, so a packed text embeds as it would alone.

Host arrays (numpy int32):
  packed_ids, packed_segments, packed_positions   [R, length]: tokens; 1..S per text of the row, 0
                                                  padding; each token's position in its text
  query_slot, passage_slot                        [b_local]: where query / positive i is
  negative_slot                                   [b_local * k] (hard negatives only)
A slot indexes the GLOBAL flat [R_global * S] pooled output: row r of host h is global row
h * R + r, and text s (1-based) of that row is slot (h * R + r) * S + s - 1, with S = `segments(length)`.
R is the same on every host: the largest row count any host's slice needs (every host packs all
slices, which is cheap and needs no communication), rounded up to a row bucket, so the train step
compiles once per bucket.
"""
import math

import numpy as np

from jaxir import packing

KEYS = ("packed_ids", "packed_segments", "packed_positions", "query_slot", "passage_slot", "negative_slot")


def segments(length):
  """Segments per row in the compiled shape: a text has at least two tokens ([CLS] [SEP])."""
  return max(1, length // 2)


def row_bucket(rows, multiple=1):
  """The smallest bucket >= rows: ~4 buckets per doubling (at most ~19% padding rows), each a
  multiple of `multiple` (this host's data-axis devices)."""
  i = 0
  while True:
    b = -(-math.ceil(4 * 2 ** (i / 4)) // multiple) * multiple
    if b >= rows:
      return b
    i += 1


def _rows(texts, length):
  """Best-fit-decreasing rows of text indices (see `jaxir.packing.plan`)."""
  lengths = [len(t) for t in texts]
  steps = packing.plan(lengths, max_length=length, tokens_per_batch=length * max(1, len(texts)),
                       row_length=length)
  assert len(steps) == 1 and steps[0].length == length, "every text fits a row"
  return steps[0].rows


def pack(host_slices, process_index, length, pad_id, row_multiple=1):
  """This host's packed arrays. `host_slices[h]` = (queries, passages, negatives) token-id lists of
  host h's slice of the global batch (all hosts, so every host picks the same row count)."""
  plans = [_rows([t for part in s for t in part], length) for s in host_slices]
  rows = row_bucket(max(len(p) for p in plans), row_multiple)
  queries, passages, negatives = host_slices[process_index]
  texts = list(queries) + list(passages) + list(negatives)
  step = packing.Step(length, rows, segments(length), plans[process_index])
  if any(len(t) < 1 for t in texts) or max(len(r) for r in step.rows) > step.segments:
    raise ValueError(f"packing needs texts of 1..{length} tokens and at most {step.segments} texts per row")
  ids, seg, pos = packing.arrays(step, texts, pad_id)
  slot = np.zeros(len(texts), np.int32)
  first_row = process_index * rows
  for r, row in enumerate(step.rows):
    for s, t in enumerate(row):
      slot[t] = (first_row + r) * step.segments + s
  nq, npos = len(queries), len(passages)
  out = {"packed_ids": ids, "packed_segments": seg, "packed_positions": pos,
         "query_slot": slot[:nq], "passage_slot": slot[nq:nq + npos]}
  if len(negatives):
    out["negative_slot"] = slot[nq + npos:]
  return out

"""Host input pipeline: the stateless batch sampler, tokenised, padded and prefetched with tf.data.

`HostBatches(...)(step)` is a pure function of the step: the global batch (`hybrid.sample_batch`), this
host's contiguous slice of it, tokenised with the model's tokenizer (prompts prepended) and padded
to a length bucket. The bucket is the smallest of 16, 32, 64, ... (capped by
`DataConfig.max_query_length` / `max_passage_length`, which is itself a bucket) that holds the
longest text of the GLOBAL batch, so every host pads to the same shape and the train step compiles
once per bucket pair. `make_dataset(...)` maps `tf.data.Dataset.range(start_step, end_step)`
through it (deterministic, parallel calls, prefetch): a resumed run starts at its step and gets
the very batches of an uninterrupted one.

Batch dict (numpy), padded (`batch.pack=false`): query_ids, query_mask [B_local, Lq] int32;
passage_ids, passage_mask [B_local, Lp] int32; with hard negatives, negative_ids, negative_mask
[B_local * k, Lp] int32 (rows i*k .. i*k+k-1 belong to pair i). Packed (`batch.pack=true`, the
default): the same texts packed into rows of max(Lq, Lp) tokens, `jaxir.data.packed.KEYS`, with
the row count chosen from the GLOBAL batch as well. Both: step (int), kind (0 x_x_mono, 1 x_y, 2 mixed),
mono_share (float, share of monolingual pairs in the global batch), skipped (int, pairs rejected
as collisions while drawing the global batch).
"""
import threading

import numpy as np

from jaxir.data import hybrid, packed
from jaxir.errors import JaxirError

BUCKETS = (16, 32, 64, 128, 256, 512, 1024, 2048)
# Hugging Face tokenizers set truncation on the shared Rust tokenizer per call: two caches with
# different max lengths, called from parallel tf.data threads, must not interleave.
_TOKENIZE_LOCK = threading.Lock()
PADDED = ("query_ids", "query_mask", "passage_ids", "passage_mask", "negative_ids", "negative_mask")
META = ("step", "kind", "mono_share", "skipped")


def buckets(max_length):
  """The padded lengths used up to `max_length` (which is always one of them)."""
  if max_length < 1:
    raise JaxirError(f"a maximum sequence length must be positive, got {max_length}")
  return tuple(b for b in BUCKETS if b < max_length) + (max_length,)


def bucket(length, max_length):
  return next(b for b in buckets(max_length) if b >= min(length, max_length))


class TokenCache:
  """Token ids (prompt prepended, special tokens added, truncated) per text, tokenised once."""

  def __init__(self, tokenizer, prompt, max_length):
    self.tokenizer, self.prompt, self.max_length = tokenizer, prompt, max_length
    self.cache = {}

  def __call__(self, texts):
    missing = list(dict.fromkeys(t for t in texts if t not in self.cache))
    if missing:
      with _TOKENIZE_LOCK:
        ids = self.tokenizer([self.prompt + t for t in missing], truncation=True, max_length=self.max_length,
                             add_special_tokens=True)["input_ids"]
      self.cache.update(zip(missing, (np.asarray(i, np.int32) for i in ids)))
    return [self.cache[t] for t in texts]


def _pad(seqs, length, pad_id):
  ids = np.full((len(seqs), length), pad_id, np.int32)
  mask = np.zeros((len(seqs), length), np.int32)
  for r, s in enumerate(seqs):
    ids[r, :len(s)] = s
    mask[r, :len(s)] = 1
  return ids, mask


class HostBatches:
  """Builds host batches of any step; holds the token caches. Thread-safe, stateless in the step."""

  def __init__(self, pools, cfg, tokenizer, process_index=0, process_count=1,
               query_prompt="query: ", passage_prompt="passage: ", row_multiple=1):
    d, b = cfg.data, cfg.batch
    hybrid.check(pools, b, process_count)
    if not 0 <= process_index < process_count:
      raise JaxirError(f"process_index {process_index} is outside [0, {process_count})")
    if tokenizer.pad_token_id is None:
      raise JaxirError("the tokenizer has no pad token")
    self.k = int(d.hard_negatives)
    for p in [p for l in pools.langs for p in pools.mono_pairs(l)] + pools.cross_pairs():
      if len(p.negatives) != self.k:
        raise JaxirError(f"data.hard_negatives={self.k}, but a pair ({p.id}) carries {len(p.negatives)}: "
                         "build the pairs with the same DataConfig")
    self.pools, self.batch_cfg = pools, b
    self.process_index, self.process_count = process_index, process_count
    self.max_q, self.max_p = int(d.max_query_length), int(d.max_passage_length)
    buckets(self.max_q), buckets(self.max_p)
    self.pack, self.row_multiple = bool(b.pack), int(row_multiple)
    self.pad_id = int(tokenizer.pad_token_id)
    self.queries = TokenCache(tokenizer, query_prompt, self.max_q)
    self.passages = TokenCache(tokenizer, passage_prompt, self.max_p)

  def __call__(self, step):
    batch = hybrid.sample_batch(self.batch_cfg.seed, int(step), self.pools, self.batch_cfg)
    q = self.queries([p.query for p in batch.pairs])
    pos = self.passages([p.positive for p in batch.pairs])
    neg = self.passages([t for p in batch.pairs for t in p.negatives])
    n, k = len(batch.pairs) // self.process_count, self.k
    if self.pack:
      slices = [(q[h * n:(h + 1) * n], pos[h * n:(h + 1) * n], neg[h * n * k:(h + 1) * n * k])
                for h in range(self.process_count)]
      out = packed.pack(slices, self.process_index, max(self.max_q, self.max_p), self.pad_id, self.row_multiple)
    else:
      out = self._padded(q, pos, neg, n)
    out["step"] = int(step)
    out["kind"] = hybrid.KINDS.index(batch.kind)
    out["mono_share"] = float(batch.mono_share)
    out["skipped"] = int(batch.skipped)
    return out

  def _padded(self, q, pos, neg, n):
    lq = bucket(max(len(s) for s in q), self.max_q)
    lp = bucket(max(len(s) for s in pos + neg), self.max_p)
    lo, hi = self.process_index * n, (self.process_index + 1) * n
    out = {}
    out["query_ids"], out["query_mask"] = _pad(q[lo:hi], lq, self.pad_id)
    out["passage_ids"], out["passage_mask"] = _pad(pos[lo:hi], lp, self.pad_id)
    if self.k:
      out["negative_ids"], out["negative_mask"] = _pad(neg[lo * self.k:hi * self.k], lp, self.pad_id)
    return out


def _tf():
  import os
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  import tensorflow as tf
  try:  # TF only feeds data: it must not claim accelerator memory that JAX needs.
    tf.config.set_visible_devices([], "GPU")
  except (RuntimeError, ValueError):  # already initialised
    pass
  return tf


def make_dataset(pools, cfg, tokenizer, start_step=0, process_index=0, process_count=1, *,
                 query_prompt="query: ", passage_prompt="passage: ", end_step=None, num_parallel_calls=None,
                 row_multiple=1):
  """Iterator of host batch dicts for steps start_step, start_step + 1, ... < end_step (default cfg.steps).

  `cfg` is a TrainConfig (its `data` and `batch` sections). Deterministic: step s always yields
  the same dict, whatever `start_step` and however many parallel calls. `end_step=-1`: endless.
  """
  tf = _tf()
  make = HostBatches(pools, cfg, tokenizer, process_index, process_count, query_prompt, passage_prompt,
                     row_multiple)
  end = cfg.steps if end_step is None else (1 << 62 if end_step == -1 else end_step)
  if start_step < 0 or end < start_step:
    raise JaxirError(f"bad step range [{start_step}, {end})")
  keys = [k for k in (packed.KEYS if make.pack else PADDED) + META if make.k or not k.startswith("negative")]
  types = {"step": tf.int64, "kind": tf.int32, "mono_share": tf.float32, "skipped": tf.int32}
  dtypes = [types.get(k, tf.int32) for k in keys]
  n = cfg.batch.batch_size // process_count

  def call(step):
    out = make(int(step))
    return [np.asarray(out[k], t.as_numpy_dtype) for k, t in zip(keys, dtypes)]

  def to_dict(step):
    values = tf.numpy_function(call, [step], dtypes, stateful=False)
    out = {}
    for k, v in zip(keys, values):
      rows = n * make.k if k.startswith("negative") else n
      if k.startswith("packed"):
        v.set_shape([None, None])
      elif k.endswith("_slot"):
        v.set_shape([rows])
      else:
        v.set_shape([rows, None] if k.endswith(("_ids", "_mask")) else [])
      out[k] = v
    return out

  ds = tf.data.Dataset.range(start_step, end)
  ds = ds.map(to_dict, num_parallel_calls=num_parallel_calls or tf.data.AUTOTUNE, deterministic=True)
  ds = ds.prefetch(cfg.batch.prefetch)
  return _python_scalars(ds.as_numpy_iterator())


def _python_scalars(batches):
  for b in batches:
    b["step"], b["kind"], b["skipped"] = int(b["step"]), int(b["kind"]), int(b["skipped"])
    b["mono_share"] = float(b["mono_share"])
    yield b

"""Exact top-k by inner product over embeddings streamed from disk, jit-compiled, over all devices.

The corpus goes through once, one block of rows at a time (`Store.blocks`: one shard mapped at a
time). Each block is scored against every query chunk with one jit-compiled matmul; the block's
best k per query (`jax.lax.top_k`) are merged into the running best k, which stays on the device.
With several devices a block's rows are split over them (`shard_map`): each device keeps its own
best k, and one all-gather plus top-k merges them, so the result is the same on any device count.

Ties: among equal scores the lower corpus row wins (top_k is stable and earlier rows are merged
first). `approx=True` uses `jax.lax.approx_max_k` for the per-block step (fast on TPU, where it is
a real approximation; other backends compute it exactly); `recall_vs_exact` measures what it costs.
"""
import functools

import numpy as np

from jaxir.errors import JaxirError


class ArrayCorpus:
  """An in-memory [N, H] array with the `Store` interface `search` needs."""

  def __init__(self, array):
    self.array = np.asarray(array)
    self.n, self.dim = self.array.shape

  def blocks(self, block_rows):
    for s in range(0, self.n, block_rows):
      yield s, self.array[s:s + block_rows]


@functools.lru_cache(maxsize=None)
def _update_fn(k, kk, approx, recall_target, n_devices):
  import jax
  import jax.numpy as jnp
  from jax.sharding import PartitionSpec as P

  def block_best(q, block, first_row, n_valid):
    scores = jnp.dot(q, block.astype(jnp.float32).T, precision=jax.lax.Precision.HIGHEST)
    rows = first_row + jnp.arange(block.shape[0], dtype=jnp.int32)
    scores = jnp.where(rows[None, :] < n_valid, scores, -jnp.inf)
    if approx:
      s, i = jax.lax.approx_max_k(scores, kk, recall_target=recall_target)
    else:
      s, i = jax.lax.top_k(scores, kk)
    return s, i.astype(jnp.int32) + first_row

  def merge(best_s, best_i, s, i):
    all_s = jnp.concatenate([best_s, s], axis=1)
    all_i = jnp.concatenate([best_i, i], axis=1)
    top_s, pos = jax.lax.top_k(all_s, k)
    return top_s, jnp.take_along_axis(all_i, pos, axis=1)

  if n_devices == 1:
    def update(q, block, start, n_valid, best_s, best_i):
      return merge(best_s, best_i, *block_best(q, block, start, n_valid))
    return jax.jit(update, donate_argnums=(4, 5))

  mesh = jax.make_mesh((n_devices,), ("d",), axis_types=(jax.sharding.AxisType.Explicit,))

  def local(q, block, start, n_valid, best_s, best_i):
    first = start + jax.lax.axis_index("d") * block.shape[0]
    s, i = block_best(q, block, first, n_valid)
    s = jax.lax.all_gather(s, "d", axis=1, tiled=True)          # [qc, devices * kk], replicated
    i = jax.lax.all_gather(i, "d", axis=1, tiled=True)
    return merge(best_s, best_i, s, i)

  fn = jax.shard_map(local, mesh=mesh, in_specs=(P(), P("d"), P(), P(), P(), P()), out_specs=(P(), P()),
                     check_vma=False)
  return jax.jit(fn, donate_argnums=(4, 5)), mesh


def search(queries, corpus, k=100, block_rows=32768, query_chunk=256, approx=False, recall_target=0.95,
           progress=None):
  """(scores [Q, k] float32, rows [Q, k] int64) of the k largest dot products of each query.

  Args:
    queries: [Q, H] array.
    corpus: a `jaxir.shards.Store` (streamed from disk) or an in-memory [N, H] array.
    k: results per query (at most the corpus size).
    block_rows: corpus rows scored at once (rounded up to a multiple of the device count).
    query_chunk: queries scored at once; memory ~ query_chunk x block_rows floats per device.
    approx: per-block `approx_max_k` instead of exact `top_k`.
    progress: optional callable(rows done) called after each block.
  """
  import jax
  import jax.numpy as jnp
  if not hasattr(corpus, "blocks"):
    corpus = ArrayCorpus(corpus)
  queries = np.asarray(queries, np.float32)
  if queries.ndim != 2 or queries.shape[1] != corpus.dim:
    raise JaxirError(f"queries have shape {queries.shape}; the corpus has dimension {corpus.dim}")
  if corpus.n == 0 or len(queries) == 0:
    raise JaxirError("top-k needs at least one query and one corpus row")
  if k < 1:
    raise JaxirError("k must be at least 1")
  n_dev = jax.device_count()
  k = min(k, corpus.n)
  block_rows = -(-min(block_rows, corpus.n) // n_dev) * n_dev
  kk = min(k, block_rows // n_dev)
  query_chunk = max(1, min(query_chunk, len(queries)))
  fn = _update_fn(k, kk, bool(approx), float(recall_target), n_dev)
  if n_dev == 1:
    put_block = put_rep = jnp.asarray
  else:
    from jax.sharding import NamedSharding, PartitionSpec as P
    fn, mesh = fn
    rep, rows = NamedSharding(mesh, P()), NamedSharding(mesh, P("d"))
    put_block = lambda x: jax.device_put(x, rows)
    put_rep = lambda x: jax.device_put(x, rep)

  n_chunks = -(-len(queries) // query_chunk)
  q = np.zeros((n_chunks * query_chunk, queries.shape[1]), np.float32)
  q[:len(queries)] = queries
  chunks = [put_rep(q[c * query_chunk:(c + 1) * query_chunk]) for c in range(n_chunks)]
  best = [(put_rep(np.full((query_chunk, k), -np.inf, np.float32)), put_rep(np.full((query_chunk, k), -1, np.int32)))
          for _ in range(n_chunks)]
  n_valid = put_rep(np.int32(corpus.n))
  for start, block in corpus.blocks(block_rows):  # the host reads a block while the device scores the last
    if len(block) < block_rows:             # one compiled shape: pad the last block (masked by n_valid)
      block = np.concatenate([block, np.zeros((block_rows - len(block), block.shape[1]), block.dtype)])
    best[-1][0].block_until_ready()         # one block in flight at most: memory stays bounded
    dev_block = put_block(block)
    s = put_rep(np.int32(start))
    best = [fn(chunks[c], dev_block, s, n_valid, *best[c]) for c in range(n_chunks)]
    if progress:
      progress(min(start + block_rows, corpus.n))
  scores = np.concatenate([np.asarray(b[0]) for b in best])[:len(queries)]
  rows = np.concatenate([np.asarray(b[1]) for b in best])[:len(queries)].astype(np.int64)
  return scores, rows


def recall_vs_exact(approx_rows, exact_rows):
  """Mean share of the exact top-k rows that the approximate search also returned."""
  approx_rows, exact_rows = np.asarray(approx_rows), np.asarray(exact_rows)
  hits = [len(set(a.tolist()) & set(e.tolist())) / len(e) for a, e in zip(approx_rows, exact_rows)]
  return float(np.mean(hits))

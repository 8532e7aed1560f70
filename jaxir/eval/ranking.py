"""Exact ranks of relevant candidates, jit-compiled and chunked over queries.

One pass over the pooled score matrix gives every rank the LAReQA settings need: for each
query and each relevant candidate r, the number of candidates of every language that rank
above r. From those counts:

  rank of r among its own language's candidates = 1 + count[language of r]   (Mo, Cr)
  rank of r in the pool of all languages       = 1 + sum over languages       (Mul, RD)

Candidates are laid out by language in contiguous segments, so the per-language counts are
static slices. Ties: candidate c ranks above r when score(c) > score(r), or when the scores
are equal and c comes first in the candidate list. This is the order of a stable sort by
descending score, so every rank is deterministic (identical candidate texts tie exactly).
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxir.errors import JaxirError, some


def _beats(scores, rel):
  """[b, R, C] bool: candidate c ranks above relevant candidate rel[b, r] (ties by index)."""
  rel_c = jnp.maximum(rel, 0)
  rel_scores = jnp.take_along_axis(scores, rel_c, axis=1)                    # [b, R]
  idx = jnp.arange(scores.shape[1], dtype=rel.dtype)
  s, rs = scores[:, None, :], rel_scores[:, :, None]
  return (s > rs) | ((s == rs) & (idx[None, None, :] < rel_c[:, :, None]))


def _segment_counts(beats, segments):
  """[b, R, L] int32: how many candidates of each language segment rank above each relevant one."""
  return jnp.stack([beats[:, :, start:end].sum(-1, dtype=jnp.int32) for start, end in segments], -1)


@functools.partial(jax.jit, static_argnames=("segments", "chunk"))
def _counts_from_embeddings(queries, candidates, rel, segments, chunk):
  n = queries.shape[0]
  pad = (-n) % chunk
  q = jnp.pad(queries, ((0, pad), (0, 0))).reshape(-1, chunk, queries.shape[1])
  r = jnp.pad(rel, ((0, pad), (0, 0)), constant_values=-1).reshape(-1, chunk, rel.shape[1])

  def one(args):
    qc, rc = args
    scores = jnp.dot(qc, candidates.T, precision=jax.lax.Precision.HIGHEST)
    return _segment_counts(_beats(scores, rc), segments)

  counts = jax.lax.map(one, (q, r))
  return counts.reshape(-1, rel.shape[1], len(segments))[:n]


@functools.partial(jax.jit, static_argnames=("segments",))
def _counts_from_scores(scores, rel, segments):
  return _segment_counts(_beats(scores, rel), segments)


def rank_counts(queries, candidates, rel, segments, chunk=128, scores=None):
  """Per-language counts of candidates ranked above each relevant candidate.

  Args:
    queries: [Q, H] query embeddings (ignored when `scores` is given).
    candidates: [C, H] candidate embeddings, contiguous by language.
    rel: [Q, R] int indices of relevant candidates, -1 for padding.
    segments: tuple of (start, end) candidate ranges, one per language.
    chunk: queries scored at once (bounds memory at chunk * R * C).
    scores: optional precomputed [Q, C] score matrix (e.g. BM25), used instead of dot products.
  Returns:
    np.ndarray [Q, R, L] int32; entries for padded `rel` are meaningless.
  """
  segments = tuple((int(s), int(e)) for s, e in segments)
  rel = jnp.asarray(rel, jnp.int32)
  if scores is not None:
    return np.asarray(_counts_from_scores(jnp.asarray(scores, jnp.float32), rel, segments))
  chunk = max(1, min(chunk, len(queries)))
  return np.asarray(_counts_from_embeddings(
      jnp.asarray(queries, jnp.float32), jnp.asarray(candidates, jnp.float32), rel, segments, chunk))


def average_precision(ranks, mask):
  """AP of each row from the 1-based ranks of its relevant items (all relevant items given).

  AP = (1/k) * sum_i i / rank_(i) with the ranks sorted ascending; rows with no relevant item get NaN.
  A row's ranks must be distinct and at least 1 (else AP could exceed 1): JaxirError otherwise.
  """
  ranks = np.where(mask, ranks, np.iinfo(np.int64).max).astype(np.int64)
  order = np.sort(ranks, axis=1)
  k = mask.sum(1)
  i = np.arange(1, ranks.shape[1] + 1)[None, :]
  valid = i <= k[:, None]
  tied = valid[:, 1:] & (order[:, 1:] == order[:, :-1])
  if tied.any() or (valid & (order < 1)).any():
    bad = np.flatnonzero(tied.any(1) | (valid & (order < 1)).any(1))
    raise JaxirError(f"average precision: the relevant items of {bad.size} row(s) (rows {some(bad)}; first "
                     f"{order[bad[0], :k[bad[0]]].tolist()}) do not have distinct ranks >= 1, so AP would exceed 1 "
                     "(non-finite scores?)")
  with np.errstate(invalid="ignore", divide="ignore"):
    terms = np.where(valid, i / np.where(valid, order, 1), 0.0)
    return np.where(k > 0, terms.sum(1) / k, np.nan)


def recall_at(ranks, mask, k):
  """Share of a row's relevant items ranked within the top k (NaN without relevant items)."""
  n = mask.sum(1)
  with np.errstate(invalid="ignore", divide="ignore"):
    return np.where(n > 0, ((ranks <= k) & mask).sum(1) / n, np.nan)

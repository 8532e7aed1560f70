"""Contrastive losses for dual encoders: in-batch InfoNCE with optional hard negatives.

Pure, jit-friendly kernels on pooled embeddings (float32, highest matmul precision). The positive
of query i is passage i (the diagonal); every query scores every passage of the batch and every
hard negative (the T5X Retrieval `in_batch_cross_entropy` layout: logits [B, B + M]). With
`symmetric=True` the passage->query direction is added over the B x B in-batch block only
(negatives are never anchors) and the two directions are averaged, so the loss keeps the scale of
the one-directional loss (T5X Retrieval sums them).

Sharding is the caller's business: given a query shard and the gathered passages these kernels
compute the rows of that shard; `jaxir.train.step` gathers the passages of the global batch.

`info_nce_loss` is the entry `loss.name=info_nce` of the loss table (`jaxir.loss_registry`).
"""
import jax
import jax.numpy as jnp

_HIGHEST = jax.lax.Precision.HIGHEST


def similarity(q, p):
  """Dot-product scores [B, N] of queries [B, H] against candidates [N, H], in float32."""
  return jnp.einsum("bh,nh->bn", q.astype(jnp.float32), p.astype(jnp.float32),
                    precision=_HIGHEST, preferred_element_type=jnp.float32)


def info_nce(q, p, temperature, symmetric=False, negatives=None):
  """InfoNCE over in-batch negatives (+ hard negatives); returns (loss, metrics).

  Args:
    q: [B, H] query embeddings.
    p: [B, H] passage embeddings; p[i] is the positive of q[i].
    temperature: scalar (a Python float or a traced value, e.g. exp of a learnt log-temperature).
    symmetric: also classify each passage among the B queries; the loss is the mean of both.
    negatives: optional [M, H] hard negatives (e.g. M = B * k), scored by every query.

  Metrics (float32 scalars): `loss`; `accuracy`, the share of queries whose top-1 candidate
  (among the B passages and M negatives) is their positive; `pos_score`, the mean raw
  similarity of the positive pairs; `hardest_neg_score`, the mean over queries of their highest
  raw similarity to any other candidate. Scores are similarities, not divided by temperature.
  """
  b = q.shape[0]
  if p.shape[0] != b:
    raise ValueError(f"info_nce needs one positive per query: {b} queries, {p.shape[0]} passages")
  cand = p if negatives is None else jnp.concatenate([p, negatives.astype(p.dtype)], axis=0)
  scores = similarity(q, cand)                                    # [B, B + M]
  logits = scores / jnp.asarray(temperature, jnp.float32)
  labels = jnp.arange(b)
  log_probs = jax.nn.log_softmax(logits, axis=-1)
  loss = -jnp.mean(log_probs[labels, labels])
  if symmetric:
    log_probs_p = jax.nn.log_softmax(logits[:, :b], axis=0)       # passage j over the B queries
    loss = 0.5 * (loss - jnp.mean(log_probs_p[labels, labels]))
  pos = scores[labels, labels]
  is_pos = labels[:, None] == jnp.arange(cand.shape[0])[None, :]
  hardest = jnp.max(jnp.where(is_pos, -jnp.inf, scores), axis=-1)
  metrics = {
      "loss": loss,
      "accuracy": jnp.mean((jnp.argmax(scores, axis=-1) == labels).astype(jnp.float32)),
      "pos_score": jnp.mean(pos),
      "hardest_neg_score": jnp.mean(hardest),
  }
  return loss, metrics


def info_nce_loss(emb, temperature, cfg):
  """`info_nce` in the loss table's form: `emb` {"queries", "passages"[, "negatives"]}, `cfg` a LossConfig."""
  return info_nce(emb["queries"], emb["passages"], temperature, symmetric=cfg.symmetric,
                  negatives=emb.get("negatives"))

"""A loss added the way `jaxir.loss_registry` says: this one file, plus one line in its table
(`tests/test_losses.py` adds the line with monkeypatch). An in-batch margin (hinge) loss."""
import jax.numpy as jnp

MARGIN = 0.2


def margin_loss(emb, temperature, cfg):
  """Mean over queries of max(0, MARGIN - s(q, p+) + max over the other passages s(q, p-)); no temperature."""
  del temperature, cfg
  q, p = emb["queries"].astype(jnp.float32), emb["passages"].astype(jnp.float32)
  scores = q @ p.T
  pos = jnp.diagonal(scores)
  hardest = jnp.max(jnp.where(jnp.eye(scores.shape[0], dtype=bool), -jnp.inf, scores), axis=-1)
  violated = jnp.maximum(0.0, MARGIN - pos + hardest)
  loss = jnp.mean(violated)
  return loss, {"loss": loss, "margin_violated": jnp.mean((violated > 0).astype(jnp.float32))}

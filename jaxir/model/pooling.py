"""Pooling, the optional Dense head and normalisation: the encoder's last steps, shared by every model family.

A family's module computes token states [B, T, H]; `pool` turns them into one vector per text, given which tokens
belong to which text ([B, S, T] 0/1 `segments`: one segment per padded row, several per packed row), then the
sentence-transformers `Dense` head (e.g. LaBSE's 768->768 tanh; float32) and L2 normalisation apply.

Modes: "mean" (the mean of the text's tokens), "cls" (its first token), "last" (its last token, for causal
decoders whose last token has seen the whole text). A family lists the modes it allows (`Family.poolings`).
"""
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp

MODES = ("mean", "cls", "last")

HEAD_ACTIVATIONS = {
    "identity": lambda x: x,
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "gelu": functools.partial(jax.nn.gelu, approximate=False),
    "sigmoid": jax.nn.sigmoid,
}


class Head(nn.Module):
  """sentence-transformers' `Dense` after pooling: `activation(x @ kernel + bias)`, in float32."""
  features: int
  activation: str = "tanh"

  @nn.compact
  def __call__(self, x):
    dense = nn.Dense(self.features, dtype=jnp.float32, param_dtype=jnp.float32,
                     precision=jax.lax.Precision.HIGHEST, name="dense")
    return HEAD_ACTIVATIONS[self.activation](dense(x))


def check(mode, allowed, head_features, head_activation):
  """ValueError for a pooling mode outside `allowed` or an unknown head activation (the module's own checks)."""
  if mode not in allowed:
    raise ValueError(f"pooling must be one of {tuple(allowed)}, got {mode!r}")
  if head_features is not None and head_activation not in HEAD_ACTIVATIONS:
    raise ValueError(f"head_activation must be one of {tuple(HEAD_ACTIVATIONS)}, got {head_activation!r}")


def pool(h, segments, mode, head=None, normalize=True):
  """Pooled [B, S, H'] from token states `h` [B, T, H] and `segments` [B, S, T] (float 0/1 membership).

  `head` is a `Head` (or None); an empty segment gives a zero vector (and a finite gradient)."""
  if mode == "cls":     # the first token of each segment
    segments = segments * (jnp.cumsum(segments, axis=-1) == 1)
  elif mode == "last":  # the last token of each segment
    segments = segments * (jnp.cumsum(segments[..., ::-1], axis=-1)[..., ::-1] == 1)
  w = segments / jnp.maximum(segments.sum(-1, keepdims=True), 1e-9)
  pooled = jnp.einsum("bst,bth->bsh", w, h, precision=jax.lax.Precision.HIGHEST)
  if head is not None:
    pooled = head(pooled)
  if normalize:   # sqrt(max(|x|^2, eps^2)): also the gradient is finite at an empty segment's 0
    pooled = pooled * jax.lax.rsqrt(jnp.maximum(jnp.sum(pooled * pooled, axis=-1, keepdims=True), 1e-24))
  return pooled


def packed_segments(segment_ids, num_segments):
  """[B, S, T] float membership of tokens in the texts 1..S of packed rows (`segment_ids` 0 = padding)."""
  return (segment_ids[:, None, :] == jnp.arange(1, num_segments + 1)[None, :, None]).astype(jnp.float32)

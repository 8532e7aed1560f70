"""The Flax BERT / XLM-RoBERTa encoder with mean or CLS pooling.

The parameter tree mirrors the Hugging Face module tree, so `hf_io` maps names mechanically:
HF `encoder.layer.3.attention.self.query.weight` is `params['encoder']['layer_3']['attention']
['self']['query']['kernel']` (transposed); the full tree is

  embeddings/{word_embeddings,position_embeddings,token_type_embeddings}/embedding
  embeddings/LayerNorm/{scale,bias}
  encoder/layer_{i}/attention/self/{query,key,value}/{kernel,bias}
  encoder/layer_{i}/attention/output/dense/{kernel,bias}
  encoder/layer_{i}/attention/output/LayerNorm/{scale,bias}
  encoder/layer_{i}/intermediate/dense/{kernel,bias}
  encoder/layer_{i}/output/dense/{kernel,bias}
  encoder/layer_{i}/output/LayerNorm/{scale,bias}
  head/dense/{kernel,bias}          (only with `head_features`)

The optional head is sentence-transformers' `Dense` module (e.g. LaBSE's 768->768 tanh): a float32
linear layer and activation applied after pooling, before normalisation.

Parameters are float32; `dtype` is the compute dtype (LayerNorm statistics, softmax and pooling
stay float32). Dropout is active when `deterministic=False` (needs a 'dropout' rng).
"""
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxir.model.config import EncoderConfig

POOLINGS = ("mean", "cls")

_ACT = {
    "gelu": functools.partial(jax.nn.gelu, approximate=False),
    "gelu_new": functools.partial(jax.nn.gelu, approximate=True),
    "gelu_pytorch_tanh": functools.partial(jax.nn.gelu, approximate=True),
    "gelu_fast": functools.partial(jax.nn.gelu, approximate=True),
    "relu": jax.nn.relu,
}

HEAD_ACTIVATIONS = {
    "identity": lambda x: x,
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "gelu": functools.partial(jax.nn.gelu, approximate=False),
    "sigmoid": jax.nn.sigmoid,
}


def position_ids(config, input_ids):
  """HF's position ids: `arange(T)` for BERT; for XLM-R `cumsum(m) * m + pad` with m = (ids != pad)."""
  if config.model_type == "xlm-roberta":
    m = (input_ids != config.pad_token_id).astype(jnp.int32)
    return jnp.cumsum(m, axis=1) * m + config.pad_token_id
  return jnp.broadcast_to(jnp.arange(input_ids.shape[1], dtype=jnp.int32), input_ids.shape)


def _dense(config, features, dtype, name):
  init = nn.initializers.normal(config.initializer_range)
  return nn.Dense(features, dtype=dtype, param_dtype=jnp.float32, kernel_init=init, name=name)


def _layer_norm(config, dtype):
  return nn.LayerNorm(epsilon=config.layer_norm_eps, dtype=dtype, param_dtype=jnp.float32,
                      use_fast_variance=False, name="LayerNorm")


class Embeddings(nn.Module):
  """Word + position + token-type embeddings, then LayerNorm and dropout."""
  config: EncoderConfig
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, input_ids, token_type_ids, deterministic, positions=None):
    c = self.config
    if positions is None:
      positions = position_ids(c, input_ids)
    init = nn.initializers.normal(c.initializer_range)
    embed = functools.partial(nn.Embed, features=c.hidden_size, dtype=self.dtype,
                              param_dtype=jnp.float32, embedding_init=init)
    x = embed(c.vocab_size, name="word_embeddings")(input_ids)
    x = x + embed(c.max_position_embeddings, name="position_embeddings")(positions)
    x = x + embed(c.type_vocab_size, name="token_type_embeddings")(token_type_ids)
    x = _layer_norm(c, self.dtype)(x)
    return nn.Dropout(c.hidden_dropout)(x, deterministic=deterministic)


class SelfAttention(nn.Module):
  """Multi-head self-attention; padding keys are masked out (a large negative logit)."""
  config: EncoderConfig
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, attention_mask, deterministic):
    c = self.config
    split = lambda t: t.reshape(t.shape[:-1] + (c.num_heads, c.head_dim))
    q, k, v = (split(_dense(c, c.hidden_size, self.dtype, n)(x)) for n in ("query", "key", "value"))
    # [B, T_k] key padding mask, or [B, T_q, T_k] (block-diagonal for packed rows).
    mask = (attention_mask[:, None, None, :] if attention_mask.ndim == 2 else attention_mask[:, None]).astype(bool)
    dropout_rng = None
    if not deterministic and c.attention_dropout > 0:
      dropout_rng = self.make_rng("dropout")
    y = nn.dot_product_attention(
        q, k, v, mask=mask, dropout_rng=dropout_rng, dropout_rate=c.attention_dropout,
        broadcast_dropout=False, deterministic=deterministic, dtype=self.dtype,
        force_fp32_for_softmax=True)
    return y.reshape(y.shape[:-2] + (c.hidden_size,))


class AddNorm(nn.Module):
  """HF's `*Output` block: dense, dropout, residual add, LayerNorm."""
  config: EncoderConfig
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, residual, deterministic):
    c = self.config
    x = _dense(c, c.hidden_size, self.dtype, "dense")(x)
    x = nn.Dropout(c.hidden_dropout)(x, deterministic=deterministic)
    return _layer_norm(c, self.dtype)(x + residual)


class Attention(nn.Module):
  config: EncoderConfig
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, attention_mask, deterministic):
    y = SelfAttention(self.config, self.dtype, name="self")(x, attention_mask, deterministic)
    return AddNorm(self.config, self.dtype, name="output")(y, x, deterministic)


class Intermediate(nn.Module):
  config: EncoderConfig
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    c = self.config
    return _ACT[c.hidden_act](_dense(c, c.intermediate_size, self.dtype, "dense")(x))


class Layer(nn.Module):
  """One transformer block (post-LayerNorm, as in BERT)."""
  config: EncoderConfig
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, attention_mask, deterministic):
    x = Attention(self.config, self.dtype, name="attention")(x, attention_mask, deterministic)
    h = Intermediate(self.config, self.dtype, name="intermediate")(x)
    return AddNorm(self.config, self.dtype, name="output")(h, x, deterministic)


class Stack(nn.Module):
  config: EncoderConfig
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, attention_mask, deterministic):
    for i in range(self.config.num_layers):
      x = Layer(self.config, self.dtype, name=f"layer_{i}")(x, attention_mask, deterministic)
    return x


class Head(nn.Module):
  """sentence-transformers' `Dense` after pooling: `activation(x @ kernel + bias)`, in float32."""
  features: int
  activation: str = "tanh"

  @nn.compact
  def __call__(self, x):
    dense = nn.Dense(self.features, dtype=jnp.float32, param_dtype=jnp.float32,
                     precision=jax.lax.Precision.HIGHEST, name="dense")
    return HEAD_ACTIVATIONS[self.activation](dense(x))


class Encoder(nn.Module):
  """Text encoder: `__call__` gives pooled [B, H] embeddings, `token_states` the last layer [B, T, H].

  Inputs are int arrays [B, T]: `input_ids`, `attention_mask` (1 = token, 0 = padding) and
  optional `token_type_ids` (zeros when None). Outputs are float32.
  """
  config: EncoderConfig
  pooling: str = "mean"
  normalize: bool = True
  dtype: jnp.dtype = jnp.float32
  head_features: int | None = None  # a Dense head after pooling (output size H'); None: no head
  head_activation: str = "tanh"     # one of HEAD_ACTIVATIONS (tanh: sentence-transformers' default)

  def setup(self):
    if self.pooling not in POOLINGS:
      raise ValueError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")
    if self.head_features is not None:
      if self.head_activation not in HEAD_ACTIVATIONS:
        raise ValueError(f"head_activation must be one of {tuple(HEAD_ACTIVATIONS)}, got {self.head_activation!r}")
      self.head = Head(self.head_features, self.head_activation)
    self.embeddings = Embeddings(self.config, self.dtype)
    self.encoder = Stack(self.config, self.dtype)

  def token_states(self, input_ids, attention_mask, token_type_ids=None, deterministic=True, positions=None):
    if token_type_ids is None:
      token_type_ids = jnp.zeros_like(input_ids)
    x = self.embeddings(input_ids, token_type_ids, deterministic, positions)
    x = self.encoder(x, attention_mask, deterministic)
    return x.astype(jnp.float32)

  def _pool(self, h, segments):
    """Pooled [B, S, H] from token states and a [B, S, T] 0/1 membership of tokens in segments."""
    if self.pooling == "cls":    # the first token of each segment
      segments = segments * (jnp.cumsum(segments, axis=-1) == 1)
    w = segments / jnp.maximum(segments.sum(-1, keepdims=True), 1e-9)
    pooled = jnp.einsum("bst,bth->bsh", w, h, precision=jax.lax.Precision.HIGHEST)
    if self.head_features is not None:
      pooled = self.head(pooled)
    if self.normalize:   # sqrt(max(|x|^2, eps^2)): also the gradient is finite at an empty segment's 0
      pooled = pooled * jax.lax.rsqrt(jnp.maximum(jnp.sum(pooled * pooled, axis=-1, keepdims=True), 1e-24))
    return pooled

  def __call__(self, input_ids, attention_mask, token_type_ids=None, deterministic=True):
    h = self.token_states(input_ids, attention_mask, token_type_ids, deterministic)
    return self._pool(h, attention_mask.astype(jnp.float32)[:, None, :])[:, 0]

  def packed(self, input_ids, segment_ids, positions, num_segments, deterministic=True):
    """Pooled [B, S, H] embeddings of several texts packed into each row (no padding between them).

    `segment_ids` [B, T]: 1..S for the tokens of the row's texts, 0 for padding; `positions`
    [B, T]: each token's position within its own text (0 at its first token). Attention stays
    within a text, positions restart per text, so every text gets the embedding it would get
    alone. Row b's text s is at [b, s - 1]; empty segments give zero vectors.
    """
    same = segment_ids[:, :, None] == segment_ids[:, None, :]
    mask = same & (segment_ids[:, None, :] > 0)
    h = self.token_states(input_ids, mask, None, deterministic, positions + self.config.position_offset)
    segments = (segment_ids[:, None, :] == jnp.arange(1, num_segments + 1)[None, :, None]).astype(jnp.float32)
    return self._pool(h, segments)

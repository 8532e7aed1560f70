"""The Qwen3 family: decoder-LLM embedders (Qwen3-Embedding) beside BERT / XLM-R.

One module holds all the family knows: its config (`Qwen3Config`, read from and written to HF `config.json`
with `model_type: qwen3`), its Flax module (`Qwen3Encoder`, padded and packed forward), its HF weight-name map
(`params_from_hf` / `params_to_hf`), its sharding rules over the `model` axis, its frozen-embedding subtree, its
FLOPs per token and its poolings.

The architecture is transformers' `Qwen3Model`: token embeddings, then per layer a pre-RMSNorm grouped-query
self-attention (q and k RMS-normalised per head, then rotated by RoPE) and a pre-RMSNorm SwiGLU MLP, each added
to the residual, and a final RMSNorm. There is no LM head: an embedder pools the last layer's states.

  * pooling "last" (the default, as Qwen3-Embedding) with causal attention: the embedding is the state of each
    text's last real token, wherever the padding is (left or right). Qwen3-Embedding's tokenizer ends every
    text with `<|endoftext|>`, so that is the token pooled.
  * pooling "mean" with bidirectional attention (the LLM2Vec-style option): every token sees the whole text and
    the embedding is the mean of the real tokens' states.
  The pooling picks the attention (so `model.pooling` alone selects the option, end to end); the module's
  `attention` setting ("causal" | "bidirectional") overrides it.

Positions count a text's real tokens from 0 (`cumsum(mask) - 1`), so a left-padded text gets exactly the
positions it has alone; transformers' default `arange(T)` differs for left padding only by a constant shift,
which RoPE cancels (scores depend on position differences), i.e. equal up to rounding.

Packed rows hold several texts: attention is block-diagonal (a token sees only its own text) AND causal, and
positions restart at 0 per text, so each text's embedding equals the one it gets alone.

Queries take an instruction prompt, as Qwen3-Embedding is trained: `model.query_prompt` set to
`query_prompt(task)` = "Instruct: {task}\\nQuery:" (`QUERY_PROMPT` is the one for LAReQA-style question ->
answer-sentence retrieval); passages take none.

The parameter tree mirrors HF's module tree (kernels are HF Linear weights transposed, RMSNorm weights are
`scale`):

  embed_tokens/embedding                                      [vocab, H]
  layers_{i}/self_attn/{q_proj,k_proj,v_proj,o_proj}/kernel   (and /bias with `attention_bias`)
  layers_{i}/self_attn/{q_norm,k_norm}/scale                  [head_dim]
  layers_{i}/mlp/{gate_proj,up_proj,down_proj}/kernel
  layers_{i}/{input_layernorm,post_attention_layernorm}/scale [H]
  norm/scale                                                  [H]

HF names are those `Qwen3Model.save_pretrained` writes (`embed_tokens.weight`, `layers.0.self_attn.q_proj.weight`,
..., `norm.weight`); the `model.` prefix of `Qwen3ForCausalLM` checkpoints is accepted on import and its
`lm_head.weight` ignored. Parameters are float32; `dtype` is the compute dtype (RMSNorm statistics, RoPE angles,
softmax and pooling stay float32), as in the BERT family.

No weights can be downloaded on the machines jaxir is tested on: the tests build random tiny Qwen3 models (and
transformers' own `save_pretrained` directories of them) and compare with transformers' PyTorch `Qwen3Model`.
A real hub directory (e.g. Qwen/Qwen3-Embedding-0.6B) goes through exactly the same code path.
"""
import dataclasses
import functools
import re

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import PartitionSpec as P

from jaxir import schema
from jaxir.errors import JaxirError, some
from jaxir.model import pooling as pooling_lib
from jaxir.model.family import Family, hf_field, place, specs_to_hf

MODEL_TYPES = ("qwen3",)
POOLINGS = ("last", "mean")               # the first is the default
ATTENTIONS = {"last": "causal", "mean": "bidirectional"}   # each pooling's attention (unless set)
QUERY_PROMPT_TEMPLATE = "Instruct: {task}\nQuery:"
RETRIEVAL_TASK = "Given a question, retrieve passages that answer the question"


def query_prompt(task=RETRIEVAL_TASK):
  """Qwen3-Embedding's query prefix for a one-sentence task description (passages get no prompt)."""
  return QUERY_PROMPT_TEMPLATE.format(task=task)


QUERY_PROMPT = query_prompt()


# ---------------------------------------------------------------- config

@dataclasses.dataclass(frozen=True)
class Qwen3Config:
  """Hyper-parameters of a Qwen3 model; field names follow the BERT family's, `from_hf` / `to_hf` translate."""
  model_type: str = "qwen3"
  vocab_size: int = 151936
  hidden_size: int = 1024
  intermediate_size: int = 3072
  num_layers: int = 28
  num_heads: int = 16
  num_kv_heads: int = 8
  head_dim: int = 128
  rms_norm_eps: float = 1e-6
  rope_theta: float = 1_000_000.0
  max_position_embeddings: int = 32768
  tie_word_embeddings: bool = True
  attention_bias: bool = False
  attention_dropout: float = 0.0
  hidden_act: str = "silu"
  initializer_range: float = 0.02
  pad_token_id: int | None = None
  bos_token_id: int | None = None
  eos_token_id: int | list | None = None

  def __post_init__(self):
    if self.model_type not in MODEL_TYPES:
      raise JaxirError(f"unsupported model_type {self.model_type!r} for the Qwen3 family")
    if self.hidden_act != "silu":
      raise JaxirError(f"unsupported hidden_act {self.hidden_act!r} for qwen3 (only 'silu')")
    if self.num_kv_heads < 1 or self.num_heads % self.num_kv_heads:
      raise JaxirError(f"num_attention_heads {self.num_heads} is not a multiple of num_key_value_heads"
                       f" {self.num_kv_heads}")
    if self.head_dim % 2:
      raise JaxirError(f"head_dim {self.head_dim} must be even (RoPE rotates pairs)")

  @property
  def max_length(self):
    """The longest input RoPE was trained for (special tokens included)."""
    return self.max_position_embeddings

  @classmethod
  def from_hf(cls, hf, where="config.json"):
    """Builds the config from a HF `config.json` dict (read from `where`); raises JaxirError, naming the
    field, on anything unsupported or wrong-typed (sliding windows, RoPE scaling)."""
    where = str(where)
    schema.check(hf, dict, where)
    model_type = hf.get("model_type")
    if model_type not in MODEL_TYPES:
      raise JaxirError(f"{where}: model_type {model_type!r} is not a Qwen3 model ({', '.join(MODEL_TYPES)})")

    get = functools.partial(hf_field, hf, where)

    if get("use_sliding_window", bool, False):
      raise JaxirError(f"{where}: use_sliding_window is not supported (jaxir's Qwen3 attends to the whole text)")
    layer_types = get("layer_types", (list, None), None)
    if layer_types and any(t != "full_attention" for t in layer_types):
      raise JaxirError(f"{where}: layer_types other than 'full_attention' are not supported")
    # transformers >= 5 writes rope_parameters {rope_type, rope_theta}; older files rope_theta + rope_scaling.
    rope = get("rope_parameters", (dict, None), None) or get("rope_scaling", (dict, None), None) or {}
    rope_type = rope.get("rope_type", rope.get("type", "default"))
    if rope_type != "default":
      raise JaxirError(f"{where}: RoPE type {rope_type!r} is not supported (only 'default')")
    theta = rope.get("rope_theta", get("rope_theta", float, 10000.0))
    schema.check(theta, float, f"{where}: field 'rope_theta'")
    heads = get("num_attention_heads", int, least=1)
    kv_heads = get("num_key_value_heads", (int, None), None, 1)
    hidden = get("hidden_size", int, least=1)
    return cls(
        vocab_size=get("vocab_size", int, least=1),
        hidden_size=hidden,
        intermediate_size=get("intermediate_size", int, least=1),
        num_layers=get("num_hidden_layers", int, least=0),
        num_heads=heads,
        num_kv_heads=kv_heads if kv_heads is not None else heads,
        head_dim=get("head_dim", (int, None), None, 2) or hidden // heads,
        rms_norm_eps=float(get("rms_norm_eps", float, 1e-6, 0)),
        rope_theta=float(theta),
        max_position_embeddings=get("max_position_embeddings", int, 32768, 1),
        tie_word_embeddings=get("tie_word_embeddings", bool, False),
        attention_bias=get("attention_bias", bool, False),
        attention_dropout=float(get("attention_dropout", float, 0.0, 0)),
        hidden_act=get("hidden_act", str, "silu"),
        initializer_range=float(get("initializer_range", float, 0.02, 0)),
        pad_token_id=get("pad_token_id", (int, None), None),
        bos_token_id=get("bos_token_id", (int, None), None),
        eos_token_id=get("eos_token_id", (int, list, None), None),
    )

  def to_hf(self):
    """The HF `config.json` dict (with `architectures`) that transformers' AutoModel loads as `Qwen3Model`."""
    return {
        "architectures": ["Qwen3Model"],
        "model_type": self.model_type,
        "vocab_size": self.vocab_size,
        "hidden_size": self.hidden_size,
        "intermediate_size": self.intermediate_size,
        "num_hidden_layers": self.num_layers,
        "num_attention_heads": self.num_heads,
        "num_key_value_heads": self.num_kv_heads,
        "head_dim": self.head_dim,
        "hidden_act": self.hidden_act,
        "rms_norm_eps": self.rms_norm_eps,
        "rope_theta": self.rope_theta,        # read by transformers < 5
        "rope_parameters": {"rope_type": "default", "rope_theta": self.rope_theta},
        "max_position_embeddings": self.max_position_embeddings,
        "tie_word_embeddings": self.tie_word_embeddings,
        "attention_bias": self.attention_bias,
        "attention_dropout": self.attention_dropout,
        "initializer_range": self.initializer_range,
        "use_sliding_window": False,
        "pad_token_id": self.pad_token_id,
        "bos_token_id": self.bos_token_id,
        "eos_token_id": self.eos_token_id,
        "dtype": "float32",
    }


# ---------------------------------------------------------------- the Flax module

class RMSNorm(nn.Module):
  """`scale * x / rms(x)` over the last axis, statistics in float32 (HF's `Qwen3RMSNorm`)."""
  eps: float
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    scale = self.param("scale", nn.initializers.ones, (x.shape[-1],), jnp.float32)
    x32 = x.astype(jnp.float32)
    y = x32 * jax.lax.rsqrt(jnp.mean(x32 * x32, axis=-1, keepdims=True) + self.eps)
    return scale.astype(self.dtype) * y.astype(self.dtype)


def rope(x, positions, theta):
  """Rotary position embedding of `x` [B, T, N, D] at int `positions` [B, T] (HF's rotate-half layout)."""
  d = x.shape[-1]
  inv_freq = 1.0 / (np.float32(theta) ** (np.arange(0, d, 2, dtype=np.float32) / np.float32(d)))
  angles = positions.astype(jnp.float32)[..., None] * jnp.asarray(inv_freq, jnp.float32)   # [B, T, D/2]
  angles = jnp.concatenate([angles, angles], axis=-1)[:, :, None, :]
  cos, sin = jnp.cos(angles).astype(x.dtype), jnp.sin(angles).astype(x.dtype)
  x1, x2 = x[..., :d // 2], x[..., d // 2:]
  return x * cos + jnp.concatenate([-x2, x1], axis=-1) * sin


def _dense(config, features, dtype, name, use_bias=False):
  init = nn.initializers.normal(config.initializer_range)
  return nn.Dense(features, use_bias=use_bias, dtype=dtype, param_dtype=jnp.float32, kernel_init=init, name=name)


class SelfAttention(nn.Module):
  """Grouped-query attention: q/k RMSNorm per head, RoPE, each kv head shared by `num_heads / num_kv_heads`
  query heads; `mask` [B, T_q, T_k] says which keys each query sees."""
  config: Qwen3Config
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, mask, positions, deterministic):
    c = self.config
    proj = lambda n, heads: _dense(c, heads * c.head_dim, self.dtype, n, c.attention_bias)(x).reshape(
        x.shape[:-1] + (heads, c.head_dim))
    q = RMSNorm(c.rms_norm_eps, self.dtype, name="q_norm")(proj("q_proj", c.num_heads))
    k = RMSNorm(c.rms_norm_eps, self.dtype, name="k_norm")(proj("k_proj", c.num_kv_heads))
    v = proj("v_proj", c.num_kv_heads)
    q, k = rope(q, positions, c.rope_theta), rope(k, positions, c.rope_theta)
    groups = c.num_heads // c.num_kv_heads     # query head h uses kv head h // groups (HF's repeat_kv)
    k, v = jnp.repeat(k, groups, axis=2), jnp.repeat(v, groups, axis=2)
    dropout_rng = None
    if not deterministic and c.attention_dropout > 0:
      dropout_rng = self.make_rng("dropout")
    y = nn.dot_product_attention(
        q, k, v, mask=mask[:, None], dropout_rng=dropout_rng, dropout_rate=c.attention_dropout,
        broadcast_dropout=False, deterministic=deterministic, dtype=self.dtype, force_fp32_for_softmax=True)
    y = y.reshape(y.shape[:-2] + (c.num_heads * c.head_dim,))
    return _dense(c, c.hidden_size, self.dtype, "o_proj", c.attention_bias)(y)


class MLP(nn.Module):
  """SwiGLU: `down(silu(gate(x)) * up(x))`."""
  config: Qwen3Config
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    c = self.config
    gate = _dense(c, c.intermediate_size, self.dtype, "gate_proj")(x)
    up = _dense(c, c.intermediate_size, self.dtype, "up_proj")(x)
    return _dense(c, c.hidden_size, self.dtype, "down_proj")(jax.nn.silu(gate) * up)


class Layer(nn.Module):
  """One decoder block (pre-RMSNorm): `x + attn(norm(x))`, then `x + mlp(norm(x))`."""
  config: Qwen3Config
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, mask, positions, deterministic):
    c = self.config
    h = RMSNorm(c.rms_norm_eps, self.dtype, name="input_layernorm")(x)
    x = x + SelfAttention(c, self.dtype, name="self_attn")(h, mask, positions, deterministic)
    h = RMSNorm(c.rms_norm_eps, self.dtype, name="post_attention_layernorm")(x)
    return x + MLP(c, self.dtype, name="mlp")(h)


class Qwen3Encoder(nn.Module):
  """Text embedder: `__call__` gives pooled [B, H'] embeddings, `token_states` the final-normed states [B, T, H],
  `packed` the pooled [B, S, H'] embeddings of several texts per row.

  Inputs are int arrays [B, T]: `input_ids` and `attention_mask` (1 = token, 0 = padding, on either side).
  Outputs are float32. `pooling` is "last" or "mean"; `attention` "causal" or "bidirectional" (None: the
  pooling's, `ATTENTIONS`).
  """
  config: Qwen3Config
  pooling: str = POOLINGS[0]
  normalize: bool = True
  dtype: jnp.dtype = jnp.float32
  head_features: int | None = None  # a sentence-transformers Dense after pooling (output size H'); None: none
  head_activation: str = "tanh"
  attention: str | None = None

  @property
  def causal(self):
    attention = self.attention or ATTENTIONS.get(self.pooling)
    if attention not in ("causal", "bidirectional"):
      raise ValueError(f"attention must be 'causal' or 'bidirectional', got {attention!r}")
    return attention == "causal"

  def setup(self):
    pooling_lib.check(self.pooling, POOLINGS, self.head_features, self.head_activation)
    if self.head_features is not None:
      self.head = pooling_lib.Head(self.head_features, self.head_activation)
    c = self.config
    self.embed_tokens = nn.Embed(c.vocab_size, c.hidden_size, dtype=self.dtype, param_dtype=jnp.float32,
                                 embedding_init=nn.initializers.normal(c.initializer_range))
    self.layers = [Layer(c, self.dtype) for _ in range(c.num_layers)]   # named layers_{i}
    self.norm = RMSNorm(c.rms_norm_eps, self.dtype)

  def token_states(self, input_ids, attention_mask, deterministic=True, positions=None):
    """Final-normed states [B, T, H] (float32). `attention_mask` is [B, T] (which tokens are real) or
    [B, T, T] (which keys each query may see; then `positions` must be given); causal attention further
    limits every query to keys at or before it."""
    if attention_mask.ndim == 2:
      real = attention_mask.astype(bool)
      if positions is None:   # a text's real tokens count from 0, whichever side the padding is on
        positions = jnp.maximum(jnp.cumsum(real.astype(jnp.int32), axis=1) - 1, 0)
      mask = jnp.broadcast_to(real[:, None, :], real.shape[:1] + real.shape[1:] * 2)
    else:
      if positions is None:
        raise ValueError("a [B, T, T] attention mask needs the token positions")
      mask = attention_mask.astype(bool)
    if self.causal:
      t = input_ids.shape[1]
      mask = mask & jnp.tril(jnp.ones((t, t), bool))[None]
    x = self.embed_tokens(input_ids)
    for layer in self.layers:
      x = layer(x, mask, positions, deterministic)
    return self.norm(x).astype(jnp.float32)

  def _pool(self, h, segments):
    return pooling_lib.pool(h, segments, self.pooling, self.head if self.head_features is not None else None,
                            self.normalize)

  def __call__(self, input_ids, attention_mask, deterministic=True):
    h = self.token_states(input_ids, attention_mask, deterministic)
    return self._pool(h, attention_mask.astype(jnp.float32)[:, None, :])[:, 0]

  def packed(self, input_ids, segment_ids, positions, num_segments, deterministic=True):
    """Pooled [B, S, H'] embeddings of several texts packed into each row (no padding between them).

    `segment_ids` [B, T]: 1..S for the tokens of the row's texts (each text contiguous), 0 for padding;
    `positions` [B, T]: each token's position within its own text (0 at its first token). Attention stays
    within a text (and is causal within it unless bidirectional), so every text gets the embedding it would
    get alone. Row b's text s is at [b, s - 1]; empty segments give zero vectors.
    """
    same = segment_ids[:, :, None] == segment_ids[:, None, :]
    mask = same & (segment_ids[:, None, :] > 0)
    h = self.token_states(input_ids, mask, deterministic, positions)
    return self._pool(h, pooling_lib.packed_segments(segment_ids, num_segments))


# ---------------------------------------------------------------- HF weight names

_PREFIX = "model."
_IGNORED = re.compile(r"^(lm_head\.weight|(model\.)?rotary_emb\.inv_freq|(model\.)?layers\.\d+\.self_attn\."
                      r"rotary_emb\.inv_freq)$")


def tensor_specs(config):
  """[(hf_name, flax_path, hf_shape, transpose)] for every weight the module has (HF names without `model.`)."""
  c, specs = config, []
  H, I, q, kv = c.hidden_size, c.intermediate_size, c.num_heads * c.head_dim, c.num_kv_heads * c.head_dim

  def add(name, path, shape, transpose=False):
    specs.append((name, tuple(path.split("/")), tuple(shape), transpose))
  add("embed_tokens.weight", "embed_tokens/embedding", (c.vocab_size, H))
  for i in range(c.num_layers):
    hf, fx = f"layers.{i}", f"layers_{i}"
    for m, (out, inp) in (("q_proj", (q, H)), ("k_proj", (kv, H)), ("v_proj", (kv, H)), ("o_proj", (H, q))):
      add(f"{hf}.self_attn.{m}.weight", f"{fx}/self_attn/{m}/kernel", (out, inp), transpose=True)
      if c.attention_bias:
        add(f"{hf}.self_attn.{m}.bias", f"{fx}/self_attn/{m}/bias", (out,))
    for m in ("q_norm", "k_norm"):
      add(f"{hf}.self_attn.{m}.weight", f"{fx}/self_attn/{m}/scale", (c.head_dim,))
    for m, shape in (("gate_proj", (I, H)), ("up_proj", (I, H)), ("down_proj", (H, I))):
      add(f"{hf}.mlp.{m}.weight", f"{fx}/mlp/{m}/kernel", shape, transpose=True)
    for m in ("input_layernorm", "post_attention_layernorm"):
      add(f"{hf}.{m}.weight", f"{fx}/{m}/scale", (H,))
  add("norm.weight", "norm/scale", (H,))
  return specs


def params_from_hf(tensors, config):
  """The Flax params tree from HF-named tensors {name: array} (with or without the `model.` prefix; the LM head
  is ignored). JaxirError names a missing, unexpected, duplicated, mis-shaped or non-finite tensor."""
  specs = {name: (path, shape, t) for name, path, shape, t in tensor_specs(config)}
  params, seen = {}, set()
  for key, arr in tensors.items():
    if _IGNORED.match(key):
      continue
    name = key[len(_PREFIX):] if key.startswith(_PREFIX) else key
    if name not in specs:
      raise JaxirError(f"unexpected tensor {key!r} in a qwen3 checkpoint (config.json and weights disagree?)")
    if name in seen:
      raise JaxirError(f"tensor {name!r} appears both with and without the 'model.' prefix")
    if not np.isfinite(place(params, key, arr, specs[name])).all():
      raise JaxirError(f"tensor {key!r} holds non-finite values (NaN or inf)")
    seen.add(name)
  missing = [n for n in specs if n not in seen]
  if missing:
    raise JaxirError(f"qwen3 weights lack {some(missing)}")
  return params


def params_to_hf(params, config):
  """The HF-named float32 numpy tensors (`Qwen3Model` names, no prefix) of the Flax tree `params`."""
  return specs_to_hf(params, tensor_specs(config))


# ---------------------------------------------------------------- sharding, freezing, FLOPs

# Megatron-style over `model`: column-parallel q/k/v and gate/up kernels (and the q/k/v biases), row-parallel
# o_proj and down_proj kernels, the [vocab, H] embeddings split over rows. Regexes over 'a/b/c' param paths.
SHARDING_RULES = (
    (r"embed_tokens/embedding$", P("model", None)),
    (r"self_attn/(q_proj|k_proj|v_proj)/kernel$", P(None, "model")),
    (r"self_attn/(q_proj|k_proj|v_proj)/bias$", P("model")),
    (r"self_attn/o_proj/kernel$", P("model", None)),
    (r"mlp/(gate_proj|up_proj)/kernel$", P(None, "model")),
    (r"mlp/down_proj/kernel$", P("model", None)),
)
# Meant to be replicated: every RMSNorm scale, and the bias of the row-parallel o_proj.
REPLICATED = (
    r"(input_layernorm|post_attention_layernorm|q_norm|k_norm)/scale$",
    r"^norm/scale$",
    r"self_attn/o_proj/bias$",
)
FROZEN = (r"^embed_tokens/",)   # model.freeze_embeddings freezes the token embeddings only


def flops_per_token(config, length):
  """Forward FLOPs per token (matmuls only; no LM head): projections, SwiGLU, and attention over `length`
  keys counted in full (the masked dense attention computes them all, causal or not)."""
  c = config
  h, q, kv = c.hidden_size, c.num_heads * c.head_dim, c.num_kv_heads * c.head_dim
  dense = 2 * (h * q + 2 * h * kv + q * h + 3 * h * c.intermediate_size)
  attention = 2 * 2 * length * q            # scores and weighted sum, over all query heads
  return c.num_layers * (dense + attention)


FAMILY = Family(
    name="qwen3", model_types=MODEL_TYPES, config_cls=Qwen3Config, module=Qwen3Encoder,
    params_from_hf=params_from_hf, params_to_hf=params_to_hf, sharding_rules=SHARDING_RULES,
    replicated=REPLICATED, frozen=FROZEN, flops_per_token=flops_per_token, poolings=POOLINGS)

"""The BERT / XLM-RoBERTa family: config, Flax encoder, HF weight names, sharding, frozen subtree, FLOPs, poolings.

BERT and XLM-R are one architecture. The only difference the encoder sees is the position ids:
BERT counts from 0 for every token; XLM-R counts non-padding tokens from `pad_token_id + 1` and
gives padding tokens the position `pad_token_id` (fairseq's `make_positions`).

The parameter tree mirrors the Hugging Face module tree, so the weight names map mechanically:
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
  head/dense/{kernel,bias}          (only with `head_features`: `jaxir.model.pooling.Head`)

Parameters are float32; `dtype` is the compute dtype (LayerNorm statistics, softmax and pooling
stay float32). Dropout is active when `deterministic=False` (needs a 'dropout' rng).

HF names with a `bert.` / `roberta.` / `model.` prefix are accepted on import; LM-head weights are
ignored, and the BERT pooler (unused by jaxir) is kept (`kept_from_hf`) so that an export carries it.

Sharding over `model` is Megatron-style: column-parallel Q/K/V and FFN-in kernels (and their biases),
row-parallel attention-out and FFN-out kernels, and the [vocab, H] word embeddings split over rows;
the position and token-type tables, LayerNorms and row-parallel biases are replicated.
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

MODEL_TYPES = ("bert", "xlm-roberta")
ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "relu")
POOLINGS = ("mean", "cls")
_ARCHITECTURES = {"bert": "BertModel", "xlm-roberta": "XLMRobertaModel"}

_ACT = {
    "gelu": functools.partial(jax.nn.gelu, approximate=False),
    "gelu_new": functools.partial(jax.nn.gelu, approximate=True),
    "gelu_pytorch_tanh": functools.partial(jax.nn.gelu, approximate=True),
    "gelu_fast": functools.partial(jax.nn.gelu, approximate=True),
    "relu": jax.nn.relu,
}


# ---------------------------------------------------------------- config

@dataclasses.dataclass(frozen=True)
class BertConfig:
  """Hyper-parameters of the encoder; field names are ours, `from_hf` / `to_hf` translate."""
  model_type: str = "bert"
  vocab_size: int = 30522
  hidden_size: int = 768
  num_layers: int = 12
  num_heads: int = 12
  intermediate_size: int = 3072
  max_position_embeddings: int = 512
  type_vocab_size: int = 2
  layer_norm_eps: float = 1e-12
  pad_token_id: int = 0
  hidden_act: str = "gelu"
  hidden_dropout: float = 0.1
  attention_dropout: float = 0.1
  initializer_range: float = 0.02

  def __post_init__(self):
    if self.model_type not in MODEL_TYPES:
      raise JaxirError(f"unsupported model_type {self.model_type!r} (jaxir supports {', '.join(MODEL_TYPES)})")
    if self.hidden_act not in ACTIVATIONS:
      raise JaxirError(f"unsupported hidden_act {self.hidden_act!r} (jaxir supports {', '.join(ACTIVATIONS)})")
    if self.hidden_size % self.num_heads:
      raise JaxirError(f"hidden_size {self.hidden_size} is not a multiple of num_heads {self.num_heads}")

  @property
  def head_dim(self):
    return self.hidden_size // self.num_heads

  @property
  def position_offset(self):
    """The position id of the first token: `pad_token_id + 1` for XLM-R, 0 for BERT."""
    return self.pad_token_id + 1 if self.model_type == "xlm-roberta" else 0

  @property
  def max_length(self):
    """The longest input (special tokens included) the position table allows."""
    return self.max_position_embeddings - self.position_offset

  @classmethod
  def from_hf(cls, hf, where="config.json"):
    """Builds the config from a HF `config.json` dict (read from `where`); raises JaxirError, naming the
    field, on anything unsupported or wrong-typed."""
    where = str(where)
    schema.check(hf, dict, where)
    model_type = hf.get("model_type")
    if model_type not in MODEL_TYPES:
      raise JaxirError(f"{where}: model_type {model_type!r} is not a BERT / XLM-R model ({', '.join(MODEL_TYPES)})")
    pos_type = hf.get("position_embedding_type", "absolute")
    if pos_type != "absolute":
      raise JaxirError(f"unsupported position_embedding_type {pos_type!r} in config.json (only 'absolute')")
    if hf.get("is_decoder") or hf.get("add_cross_attention"):
      raise JaxirError("config.json describes a decoder; jaxir needs an encoder")

    get = functools.partial(hf_field, hf, where)

    pad = get("pad_token_id", (int, None), None, 0)
    return cls(
        model_type=model_type,
        vocab_size=get("vocab_size", int, least=1),
        hidden_size=get("hidden_size", int, least=1),
        num_layers=get("num_hidden_layers", int, least=0),
        num_heads=get("num_attention_heads", int, least=1),
        intermediate_size=get("intermediate_size", int, least=1),
        max_position_embeddings=get("max_position_embeddings", int, least=1),
        type_vocab_size=get("type_vocab_size", int, 2, 1),
        layer_norm_eps=float(get("layer_norm_eps", float, 1e-12, 0)),
        pad_token_id=pad if pad is not None else (1 if model_type == "xlm-roberta" else 0),
        hidden_act=get("hidden_act", str, "gelu"),
        hidden_dropout=float(get("hidden_dropout_prob", float, 0.1, 0)),
        attention_dropout=float(get("attention_probs_dropout_prob", float, 0.1, 0)),
        initializer_range=float(get("initializer_range", float, 0.02, 0)),
    )

  def to_hf(self):
    """The HF `config.json` dict (with `architectures`) that transformers' AutoModel loads."""
    hf = {
        "architectures": [_ARCHITECTURES[self.model_type]],
        "model_type": self.model_type,
        "vocab_size": self.vocab_size,
        "hidden_size": self.hidden_size,
        "num_hidden_layers": self.num_layers,
        "num_attention_heads": self.num_heads,
        "intermediate_size": self.intermediate_size,
        "max_position_embeddings": self.max_position_embeddings,
        "type_vocab_size": self.type_vocab_size,
        "layer_norm_eps": self.layer_norm_eps,
        "pad_token_id": self.pad_token_id,
        "hidden_act": self.hidden_act,
        "hidden_dropout_prob": self.hidden_dropout,
        "attention_probs_dropout_prob": self.attention_dropout,
        "initializer_range": self.initializer_range,
        "position_embedding_type": "absolute",
        "dtype": "float32",
    }
    return hf


# ---------------------------------------------------------------- the Flax encoder

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
  config: BertConfig
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
  config: BertConfig
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
  config: BertConfig
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, residual, deterministic):
    c = self.config
    x = _dense(c, c.hidden_size, self.dtype, "dense")(x)
    x = nn.Dropout(c.hidden_dropout)(x, deterministic=deterministic)
    return _layer_norm(c, self.dtype)(x + residual)


class Attention(nn.Module):
  config: BertConfig
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, attention_mask, deterministic):
    y = SelfAttention(self.config, self.dtype, name="self")(x, attention_mask, deterministic)
    return AddNorm(self.config, self.dtype, name="output")(y, x, deterministic)


class Intermediate(nn.Module):
  config: BertConfig
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    c = self.config
    return _ACT[c.hidden_act](_dense(c, c.intermediate_size, self.dtype, "dense")(x))


class Layer(nn.Module):
  """One transformer block (post-LayerNorm, as in BERT)."""
  config: BertConfig
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, attention_mask, deterministic):
    x = Attention(self.config, self.dtype, name="attention")(x, attention_mask, deterministic)
    h = Intermediate(self.config, self.dtype, name="intermediate")(x)
    return AddNorm(self.config, self.dtype, name="output")(h, x, deterministic)


class Stack(nn.Module):
  config: BertConfig
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, attention_mask, deterministic):
    for i in range(self.config.num_layers):
      x = Layer(self.config, self.dtype, name=f"layer_{i}")(x, attention_mask, deterministic)
    return x


class BertEncoder(nn.Module):
  """Text encoder: `__call__` gives pooled [B, H'] embeddings, `token_states` the last layer [B, T, H].

  Inputs are int arrays [B, T]: `input_ids`, `attention_mask` (1 = token, 0 = padding) and
  optional `token_type_ids` (zeros when None). Outputs are float32.
  """
  config: BertConfig
  pooling: str = "mean"
  normalize: bool = True
  dtype: jnp.dtype = jnp.float32
  head_features: int | None = None  # a Dense head after pooling (output size H'); None: no head
  head_activation: str = "tanh"     # one of pooling.HEAD_ACTIVATIONS (tanh: sentence-transformers' default)

  def setup(self):
    pooling_lib.check(self.pooling, POOLINGS, self.head_features, self.head_activation)
    if self.head_features is not None:
      self.head = pooling_lib.Head(self.head_features, self.head_activation)
    self.embeddings = Embeddings(self.config, self.dtype)
    self.encoder = Stack(self.config, self.dtype)

  def token_states(self, input_ids, attention_mask, token_type_ids=None, deterministic=True, positions=None):
    if token_type_ids is None:
      token_type_ids = jnp.zeros_like(input_ids)
    x = self.embeddings(input_ids, token_type_ids, deterministic, positions)
    x = self.encoder(x, attention_mask, deterministic)
    return x.astype(jnp.float32)

  def _pool(self, h, segments):
    return pooling_lib.pool(h, segments, self.pooling, self.head if self.head_features is not None else None,
                            self.normalize)

  def __call__(self, input_ids, attention_mask, token_type_ids=None, deterministic=True):
    h = self.token_states(input_ids, attention_mask, token_type_ids, deterministic)
    return self._pool(h, attention_mask.astype(jnp.float32)[:, None, :])[:, 0]

  def packed(self, input_ids, segment_ids, positions, num_segments, deterministic=True):
    """Pooled [B, S, H'] embeddings of several texts packed into each row (no padding between them).

    `segment_ids` [B, T]: 1..S for the tokens of the row's texts, 0 for padding; `positions`
    [B, T]: each token's position within its own text (0 at its first token). Attention stays
    within a text, positions restart per text, so every text gets the embedding it would get
    alone. Row b's text s is at [b, s - 1]; empty segments give zero vectors.
    """
    same = segment_ids[:, :, None] == segment_ids[:, None, :]
    mask = same & (segment_ids[:, None, :] > 0)
    h = self.token_states(input_ids, mask, None, deterministic, positions + self.config.position_offset)
    return self._pool(h, pooling_lib.packed_segments(segment_ids, num_segments))


# ---------------------------------------------------------------- HF weight names

_PREFIXES = ("bert.", "roberta.", "xlm_roberta.", "model.")
_KEPT = re.compile(r"^pooler\.dense\.(weight|bias)$")
_IGNORED = re.compile(r"^(pooler|cls|lm_head|qa_outputs|classifier)\.|^embeddings\.(position_ids|token_type_ids)$")
_LINEARS = ("attention.self.query", "attention.self.key", "attention.self.value",
            "attention.output.dense", "intermediate.dense", "output.dense")
_NORMS = ("attention.output.LayerNorm", "output.LayerNorm")


def tensor_specs(config):
  """[(hf_name, flax_path, hf_shape, transpose)] for every weight the encoder needs."""
  c, specs = config, []
  def add(name, path, shape, transpose=False):
    specs.append((name, tuple(path.split("/")), tuple(shape), transpose))
  for name, rows in (("word", c.vocab_size), ("position", c.max_position_embeddings),
                     ("token_type", c.type_vocab_size)):
    add(f"embeddings.{name}_embeddings.weight", f"embeddings/{name}_embeddings/embedding", (rows, c.hidden_size))
  add("embeddings.LayerNorm.weight", "embeddings/LayerNorm/scale", (c.hidden_size,))
  add("embeddings.LayerNorm.bias", "embeddings/LayerNorm/bias", (c.hidden_size,))
  H, I = c.hidden_size, c.intermediate_size
  out_in = {"intermediate.dense": (I, H), "output.dense": (H, I)}
  for i in range(c.num_layers):
    hf, fx = f"encoder.layer.{i}", f"encoder/layer_{i}"
    for m in _LINEARS:
      shape = out_in.get(m, (H, H))
      add(f"{hf}.{m}.weight", f"{fx}/{m.replace('.', '/')}/kernel", shape, transpose=True)
      add(f"{hf}.{m}.bias", f"{fx}/{m.replace('.', '/')}/bias", shape[:1])
    for m in _NORMS:
      add(f"{hf}.{m}.weight", f"{fx}/{m.replace('.', '/')}/scale", (H,))
      add(f"{hf}.{m}.bias", f"{fx}/{m.replace('.', '/')}/bias", (H,))
  return specs


def _canonical(name):
  for p in _PREFIXES:
    if name.startswith(p):
      name = name[len(p):]
      break
  return name.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias")


def params_from_hf(flat, config):
  """The Flax tree (float32 numpy) from HF-named tensors (`flat`, a mapping read lazily), names and shapes checked."""
  specs = {name: (fpath, shape, t) for name, fpath, shape, t in tensor_specs(config)}
  params, seen = {}, set()
  for key in flat:
    name = _canonical(key)
    if name not in specs:
      if not _IGNORED.search(name) and name.startswith(("embeddings.", "encoder.")):
        raise JaxirError(f"unexpected tensor {key!r} (not a plain BERT/XLM-R encoder?)")
      continue
    place(params, key, flat[key], specs[name])
    seen.add(name)
  missing = [n for n in specs if n not in seen]
  if missing:
    raise JaxirError(f"weights lack {some(missing)}")
  return params


def params_to_hf(params, config):
  """The HF-named float32 numpy tensors (no prefix) for the Flax tree `params`."""
  return specs_to_hf(params, tensor_specs(config))


def kept_from_hf(flat, config):
  """The BERT pooler tensors of `flat` (unused by jaxir, kept so that an export has them), float32, unprefixed;
  a pooler of the wrong shape is left out."""
  H = config.hidden_size
  shapes = {"pooler.dense.weight": (H, H), "pooler.dense.bias": (H,)}
  kept = {}
  for key in flat:
    name = _canonical(key)
    if _KEPT.match(name):
      arr = flat[key]
      if tuple(np.shape(arr)) == shapes[name]:
        kept[name] = np.asarray(arr, dtype=np.float32)
  return kept


# ---------------------------------------------------------------- sharding, frozen subtree, FLOPs

SHARDING_RULES = (
    (r"word_embeddings/embedding$", P("model", None)),
    (r"attention/self/(query|key|value)/kernel$", P(None, "model")),
    (r"attention/self/(query|key|value)/bias$", P("model")),
    (r"attention/output/dense/kernel$", P("model", None)),
    (r"intermediate/dense/kernel$", P(None, "model")),
    (r"intermediate/dense/bias$", P("model")),
    (r"layer_\d+/output/dense/kernel$", P("model", None)),
)
REPLICATED = (
    r"embeddings/(position|token_type)_embeddings/embedding$",
    r"LayerNorm/(scale|bias)$",
    r"attention/output/dense/bias$",       # added after the all-reduce of a row-parallel matmul
    r"layer_\d+/output/dense/bias$",
)
FROZEN = (r"^embeddings/",)   # word, position and token-type tables and their LayerNorm


def flops_per_token(config, length):
  """Forward FLOPs per token (matmuls only) at sequence length `length`, for the utilisation estimate."""
  h, f, n = config.hidden_size, config.intermediate_size, config.num_layers
  dense = 2 * (4 * h * h + 2 * h * f)           # q, k, v, out; FFN in and out
  attention = 2 * 2 * length * h                # scores and weighted sum
  return n * (dense + attention)


FAMILY = Family(
    name="bert", model_types=MODEL_TYPES, config_cls=BertConfig, module=BertEncoder,
    params_from_hf=params_from_hf, params_to_hf=params_to_hf, sharding_rules=SHARDING_RULES,
    replicated=REPLICATED, frozen=FROZEN, flops_per_token=flops_per_token, poolings=POOLINGS,
    kept_from_hf=kept_from_hf)

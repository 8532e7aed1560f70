"""Model families: what jaxir must know of an architecture, in one record, and the registry of them.

A family (BERT / XLM-R in `jaxir.model.bert`, Qwen3 in `jaxir.model.qwen3`) is one module that builds a `Family`;
the list of built-in families is `jaxir.model.families` (one line each). Everything else (config.json reading,
Hugging Face import / export, the encoder, sharding, frozen embeddings, FLOPs, `jaxir plan`) asks the registry,
by config.json's `model_type` or by a config object, and never names an architecture.

The fields (the contract between the family modules and the rest of jaxir):

  name             "bert", "qwen3"
  model_types      HF config.json `model_type` values the family reads, e.g. ("bert", "xlm-roberta")
  config_cls       a frozen dataclass: `config_cls.from_hf(hf_dict, where=...)` -> cfg (JaxirError naming the field on
                   bad input), `cfg.to_hf()` -> config.json dict (with `architectures`). It has at least
                   `model_type`, `vocab_size`, `hidden_size`, `num_layers` and a `max_length` property (the longest
                   input, special tokens included); family-specific fields are its own. (Changed from the first
                   draft: `model_type` is required; the compute dtype is NOT a config field but the module's `dtype`
                   option, as weights are always float32 in jaxir.)
  module           `module(cfg, pooling=..., normalize=True, dtype=jnp.float32, head_features=None,
                   head_activation="tanh")` -> a flax nn.Module with a `config` attribute (the cfg) and
                     __call__(input_ids, attention_mask, deterministic=True) -> pooled [B, H'] (float32)
                     token_states(input_ids, attention_mask, deterministic=True, positions=None) -> [B, T, H]
                     packed(input_ids, segment_ids, positions, num_segments, deterministic=True) -> [B, S, H']
                   (callers pass `deterministic` by keyword; a family may take more optional arguments, as BERT's
                   `token_type_ids`). `head_features` / `head_activation`: sentence-transformers' Dense after
                   pooling, as `params['head']['dense']`; `normalize`: L2 normalisation last. `packed`'s
                   `positions` count from 0 within each text; `segment_ids` are 1..S, 0 for padding.
  params_from_hf   (flat {hf_name: array} as in the safetensors files, prefixes included; a Mapping read lazily,
                   cfg) -> the flax params tree (nested dict of float32 numpy). It strips the family's name prefixes,
                   ignores tensors it does not use (LM heads), and raises JaxirError on a missing tensor, a wrong
                   shape, or an unexpected tensor of the encoder itself.
  params_to_hf     (params, cfg) -> flat {hf_name: float32 numpy}: what `AutoModel` loads (inverse of the above).
  sharding_rules   ((regex searched in 'a/b/c' param paths, PartitionSpec over ("data", "model")), ...): the first
                   match wins; a rule whose spec does not divide the array's shape replicates it. Paths here and in
                   `replicated` / `frozen` are relative to the params tree (`embeddings/LayerNorm/scale`), so `^`
                   anchors at its root; the optimizer moments of a param get the param's sharding.
  replicated       regexes of params meant to be replicated when mesh.model > 1 (norms, row-parallel biases, ...).
                   A param matching neither a rule nor `replicated` is a JaxirError naming it (`jaxir.train.mesh`;
                   the shared Dense head `head/dense/*` is always replicated and need not be listed).
  frozen           regexes of the params frozen by `model.freeze_embeddings` (the embedding tables).
  flops_per_token  (cfg, seq_len) -> forward FLOPs per token (matmuls only; the caller multiplies by 3 for training).
  poolings         the allowed `model.pooling` values, the first the default (bert: ("mean", "cls");
                   qwen3: ("last", "mean")). Named as jaxir names them: "mean", "cls", "last".
  kept_from_hf     optional (flat {hf_name: array}, cfg) -> {hf_name: float32 numpy}: tensors the module does not
                   use but an export carries along (BERT's pooler), named as `params_to_hf` names them; applied to
                   the files on import and to `Pretrained.kept_tensors` on export. None: nothing is kept. (Added to the
                   first draft.)

What every family shares after its token states (the pooling modes, the Dense head, normalisation, packed
segments) is `jaxir.model.pooling`.

`register(family)` adds one (a test registers a toy family the same way); `for_model_type(model_type)` and
`of_config(cfg)` find one, with a JaxirError naming the known ones otherwise. This module imports no family, so
that families can import it; `jaxir.model.families` imports and registers the built-in ones.
"""
import dataclasses
import re
from typing import Callable

from jaxir import schema
from jaxir.errors import JaxirError


@dataclasses.dataclass(frozen=True)
class Family:
  """One model architecture as jaxir uses it (see the module docstring for each field)."""
  name: str
  model_types: tuple
  config_cls: type
  module: Callable
  params_from_hf: Callable
  params_to_hf: Callable
  sharding_rules: tuple
  replicated: tuple
  frozen: tuple
  flops_per_token: Callable
  poolings: tuple
  kept_from_hf: Callable | None = None

  def __post_init__(self):
    if not self.model_types or not self.poolings:
      raise ValueError(f"family {self.name!r} needs at least one model_type and one pooling")

  @property
  def default_pooling(self):
    return self.poolings[0]

  def is_frozen(self, path):
    """Whether the param at 'a/b/c' `path` (relative to the params tree) is frozen by `model.freeze_embeddings`."""
    return any(re.search(p, path) for p in self.frozen)


REGISTRY = {}   # name -> Family


def register(family):
  """Adds `family` to the registry (replacing one of the same name); returns it. Two families may not claim
  the same model_type."""
  for other in REGISTRY.values():
    clash = set(other.model_types) & set(family.model_types)
    if other.name != family.name and clash:
      raise ValueError(f"family {family.name!r} claims model_type {sorted(clash)[0]!r} of family {other.name!r}")
  REGISTRY[family.name] = family
  return family


def unregister(name):
  """Removes the family `name` (tests that registered a toy family)."""
  REGISTRY.pop(name, None)


def known_model_types():
  return tuple(t for f in REGISTRY.values() for t in f.model_types)


def for_model_type(model_type):
  """The family that reads config.json's `model_type`; JaxirError naming the supported ones otherwise."""
  for f in REGISTRY.values():
    if model_type in f.model_types:
      return f
  raise JaxirError(f"unsupported model_type {model_type!r} in config.json"
                   f" (jaxir supports {', '.join(known_model_types()) or 'none: no family registered'})")


def of_config(cfg):
  """The family whose `config_cls` `cfg` is an instance of."""
  for f in REGISTRY.values():
    if isinstance(cfg, f.config_cls):
      return f
  raise JaxirError(f"no model family has config class {type(cfg).__name__}"
                   f" (registered: {', '.join(REGISTRY) or 'none'})")



def hf_field(hf, where, key, types, default=schema.MISSING, least=None):
  """Field `key` of the HF config.json dict `hf` (read from `where`), type-checked by `schema.expect`; with
  `least`, a number below it is a JaxirError naming the field. Every family's `from_hf` reads through it."""
  value = schema.expect(hf, key, types, where, default)
  if least is not None and value is not None and value < least:
    raise JaxirError(f"{where}: field '{key}' must be at least {least}, got {value!r}")
  return value


# ---------------------------------------------------------------- weight maps given as tensor specs
# A family whose HF weight map is a table of specs (hf_name, params path, shape in the files, transpose) uses
# these two: the one place where a tensor is checked against its spec and put into, or read out of, the tree.

def place(params, key, arr, spec):
  """Puts the HF tensor `arr` (named `key` in the files) into the Flax tree `params` at its spec's path:
  shape checked against the files' shape, float32, transposed when the spec says (HF Linear [out, in] ->
  Flax kernel [in, out])."""
  import numpy as np
  path, shape, transpose = spec
  if tuple(arr.shape) != shape:
    raise JaxirError(f"tensor {key!r} has shape {tuple(arr.shape)}, config.json implies {shape}")
  arr = np.asarray(arr, dtype=np.float32)
  node = params
  for k in path[:-1]:
    node = node.setdefault(k, {})
  node[path[-1]] = np.ascontiguousarray(arr.T) if transpose else arr
  return arr


def specs_to_hf(params, specs):
  """The HF-named float32 numpy tensors of the Flax tree `params`, by the specs
  [(hf_name, path, shape, transpose)]: the inverse of `place`."""
  import numpy as np
  tensors = {}
  for name, path, shape, transpose in specs:
    node = params
    try:
      for k in path:
        node = node[k]
    except (KeyError, TypeError):
      raise JaxirError(f"params lack {'/'.join(path)}") from None
    arr = np.asarray(node, dtype=np.float32)
    arr = np.ascontiguousarray(arr.T) if transpose else arr
    if arr.shape != shape:
      raise JaxirError(f"params {'/'.join(path)} has shape {arr.shape}, expected {shape[::-1] if transpose else shape}")
    tensors[name] = arr
  return tensors

"""A toy model family in one file, as a new family is written (`jaxir.model.family`): tests register it with one
line, `family.register(toy_family.FAMILY)`, and run it through jaxir's generic paths.

`python tests/toy_family.py sharding` (4 fake CPU devices, set before jax is imported) prints, as JSON, the
shardings of the toy's train state on a 2 x 2 mesh and the errors of a family whose rules miss a parameter.

The model: token + position embeddings, one Dense with tanh, then jaxir's shared pooling. Its HF weight names
are `embed.weight`, `pos.weight`, `mix.weight` ([out, in]) and `mix.bias`; config.json says `model_type: toy-enc`.
"""
import dataclasses
import sys

import flax.linen as nn
import jax.numpy as jnp
import numpy as np
from jax.sharding import PartitionSpec as P

from jaxir import schema
from jaxir.errors import JaxirError
from jaxir.model import pooling as pooling_lib
from jaxir.model.family import Family

MODEL_TYPE = "toy-enc"
POOLINGS = ("mean", "last")


@dataclasses.dataclass(frozen=True)
class ToyConfig:
  model_type: str = MODEL_TYPE
  vocab_size: int = 64
  hidden_size: int = 8
  num_layers: int = 1
  max_position_embeddings: int = 32

  @property
  def max_length(self):
    return self.max_position_embeddings

  @classmethod
  def from_hf(cls, hf, where="config.json"):
    get = lambda key: schema.expect(hf, key, int, str(where))
    return cls(vocab_size=get("vocab_size"), hidden_size=get("hidden_size"),
               max_position_embeddings=get("max_position_embeddings"))

  def to_hf(self):
    return {"architectures": ["ToyModel"], "model_type": MODEL_TYPE, "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size, "max_position_embeddings": self.max_position_embeddings}


class ToyEncoder(nn.Module):
  config: ToyConfig
  pooling: str = "mean"
  normalize: bool = True
  dtype: jnp.dtype = jnp.float32
  head_features: int | None = None
  head_activation: str = "tanh"

  def setup(self):
    pooling_lib.check(self.pooling, POOLINGS, self.head_features, self.head_activation)
    c = self.config
    self.embed = nn.Embed(c.vocab_size, c.hidden_size, dtype=self.dtype)
    self.pos = nn.Embed(c.max_position_embeddings, c.hidden_size, dtype=self.dtype)
    self.mix = nn.Dense(c.hidden_size, dtype=self.dtype)
    self.head = pooling_lib.Head(self.head_features, self.head_activation) if self.head_features else None

  def token_states(self, input_ids, attention_mask, deterministic=True, positions=None):
    if positions is None:
      positions = jnp.broadcast_to(jnp.arange(input_ids.shape[1]), input_ids.shape)
    return jnp.tanh(self.mix(self.embed(input_ids) + self.pos(positions))).astype(jnp.float32)

  def __call__(self, input_ids, attention_mask, deterministic=True):
    h = self.token_states(input_ids, attention_mask, deterministic)
    return pooling_lib.pool(h, attention_mask.astype(jnp.float32)[:, None, :], self.pooling, self.head,
                            self.normalize)[:, 0]

  def packed(self, input_ids, segment_ids, positions, num_segments, deterministic=True):
    h = self.token_states(input_ids, segment_ids > 0, deterministic, positions)
    return pooling_lib.pool(h, pooling_lib.packed_segments(segment_ids, num_segments), self.pooling, self.head,
                            self.normalize)


_NAMES = {"embed.weight": ("embed", "embedding", False), "pos.weight": ("pos", "embedding", False),
          "mix.weight": ("mix", "kernel", True), "mix.bias": ("mix", "bias", False)}


def params_from_hf(flat, cfg):
  params = {}
  for name, (module, leaf, transpose) in _NAMES.items():
    if name not in flat:
      raise JaxirError(f"weights lack {name}")
    arr = np.asarray(flat[name], np.float32)
    params.setdefault(module, {})[leaf] = np.ascontiguousarray(arr.T) if transpose else arr
  return params


def params_to_hf(params, cfg):
  out = {}
  for name, (module, leaf, transpose) in _NAMES.items():
    arr = np.asarray(params[module][leaf], np.float32)
    out[name] = np.ascontiguousarray(arr.T) if transpose else arr
  return out


FAMILY = Family(
    name="toy", model_types=(MODEL_TYPE,), config_cls=ToyConfig, module=ToyEncoder,
    params_from_hf=params_from_hf, params_to_hf=params_to_hf,
    sharding_rules=((r"^embed/embedding$", P("model", None)), (r"^mix/kernel$", P(None, "model"))),
    replicated=(r"^pos/embedding$", r"^mix/bias$"), frozen=(r"^(embed|pos)/",),
    flops_per_token=lambda cfg, length: 2 * cfg.hidden_size * cfg.hidden_size, poolings=POOLINGS)


def _sharding_check():
  import json
  import jax
  import train_worker as tw
  from jaxir.model import family
  from jaxir.train import mesh as mesh_lib
  from jaxir.train import state as state_lib
  family.register(FAMILY)
  cfg = tw.tiny_config()
  cfg.mesh.data, cfg.mesh.model = 2, 2
  encoder = ToyEncoder(ToyConfig())
  state = state_lib.create_train_state(encoder, cfg, mesh_lib.make_mesh(cfg.mesh), seed=0)
  out = {"devices": len(jax.devices()),
         "specs": {mesh_lib.path_str(p): [str(a) for a in x.sharding.spec]
                   for p, x in jax.tree_util.tree_leaves_with_path(state.params)},
         "moment_specs": [[str(a) for a in x.sharding.spec] for p, x in
                          jax.tree_util.tree_leaves_with_path(state.opt_state)
                          if mesh_lib.path_str(p).endswith("params/embed/embedding")]}
  family.register(dataclasses.replace(FAMILY, replicated=(r"^pos/embedding$",)))   # mix/bias is in no list
  for model in (2, 1):
    cfg.mesh.data, cfg.mesh.model = 4 // model, model
    try:
      state_lib.state_shardings(encoder, cfg, mesh_lib.make_mesh(cfg.mesh))
      out[f"unlisted_model{model}"] = "ok"
    except JaxirError as e:
      out[f"unlisted_model{model}"] = str(e)
  print(json.dumps(out))


if __name__ == "__main__":
  if sys.argv[1:] == ["sharding"]:
    _sharding_check()

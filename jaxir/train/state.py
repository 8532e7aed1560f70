"""Train state and optimizer: AdamW with warmup + linear/cosine decay and global-norm clipping.

`TrainState` is a `flax.struct` dataclass, i.e. a pytree of arrays that orbax saves as is:
`step` (int32), `params` (the encoder's float32 tree), `opt_state` (optax), `rng` (a raw uint32[2]
PRNG key; per-step dropout keys are folded from it and `step`, so a restored state replays the
same masks) and `log_temperature` (a float32 scalar when `loss.learn_temperature`, else None).

The optimizer updates the *trainable tree* `{'params': params, 'log_temperature': lt}` (lt may
be None, an empty subtree). Weight decay applies to matrices only (ndim >= 2: kernels and
embedding tables, not biases, LayerNorm or the temperature), as in Hugging Face's trainer.
With `model.freeze_embeddings` the model family's frozen subtree (`Family.frozen`; for BERT the word,
position and token-type tables and their LayerNorm) is routed to `optax.set_to_zero()` by
`optax.multi_transform`: no Adam moments are allocated for the 250k x H word-embedding matrix,
its updates are zero, and clipping sees only trainable gradients (the step also stops gradients
into it, so its backward pass is skipped).

The learnt log-temperature shares the AdamW schedule (no decay) unless `loss.temperature_learning_rate` gives it
its own Adam, with that peak rate on the same warm-up and decay and outside the encoder's gradient clipping. Shared,
it cannot move at fine-tuning rates: Adam moves a parameter by about the learning rate a step, so 300 steps of 2e-5
on the linear schedule move log τ by at most ~3e-3 (τ = 0.05 stays within 0.3%). It is clipped below at
`MIN_TEMPERATURE`.
"""
import dataclasses
import math
import re
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxir.config import MIN_TEMPERATURE, SCHEDULES
from jaxir.errors import JaxirError
from jaxir.model import families
from jaxir.train import mesh as mesh_lib


@flax.struct.dataclass
class TrainState:
  step: jax.Array
  params: Any
  opt_state: Any
  rng: jax.Array
  log_temperature: jax.Array | None = None

  def trainable(self):
    """The tree the optimizer updates."""
    return {"params": self.params, "log_temperature": self.log_temperature}


def make_schedule(optim, total_steps):
  """Learning rate: linear warmup 0 -> lr over `warmup_steps`, then linear or cosine decay to 0 at `total_steps`."""
  if optim.schedule not in SCHEDULES:
    raise JaxirError(f"unknown optim.schedule {optim.schedule!r}; choose from {', '.join(SCHEDULES)}")
  lr, warmup = float(optim.learning_rate), int(optim.warmup_steps)
  decay_steps = max(int(total_steps) - warmup, 1)
  if optim.schedule == "linear":
    decay = optax.linear_schedule(lr, 0.0, decay_steps)
  else:
    decay = optax.cosine_decay_schedule(lr, decay_steps)
  if warmup <= 0:
    return decay
  return optax.join_schedules([optax.linear_schedule(0.0, lr, warmup), decay], [warmup])


def frozen_patterns(encoder, cfg):
  """The regexes of the params `model.freeze_embeddings` freezes in `encoder`'s family (none when it is off)."""
  return tuple(families.of_config(encoder.config).frozen) if cfg.model.freeze_embeddings else ()


def is_frozen(param_path, frozen):
  """Whether the param at 'a/b/c' `param_path` (in the params tree) matches one of the `frozen` regexes."""
  return any(re.search(p, param_path) for p in frozen)


def trainable_labels(tree, frozen, own_temperature=False):
  """'frozen' for the leaves under params/ whose param path matches a `frozen` regex, 'temperature' for the
  log-temperature when it has its own optimizer, else 'train' (multi_transform labels)."""
  def label(path, _):
    keys = mesh_lib.path_str(path).split("/")
    if own_temperature and keys[0] == "log_temperature":
      return "temperature"
    return "frozen" if keys[0] == "params" and is_frozen("/".join(keys[1:]), frozen) else "train"
  return jax.tree_util.tree_map_with_path(label, tree)


def make_optimizer(optim, total_steps, frozen=(), temperature_lr=None):
  """The optax transform for the trainable tree (see the module docstring); `temperature_lr`: the peak learning
  rate of the log-temperature's own Adam (None: it shares AdamW's)."""
  adamw = optax.adamw(make_schedule(optim, total_steps), weight_decay=float(optim.weight_decay),
                      mask=lambda tree: jax.tree.map(lambda x: jnp.ndim(x) >= 2, tree))
  parts = [adamw]
  if optim.clip_norm and optim.clip_norm > 0:
    parts.insert(0, optax.clip_by_global_norm(float(optim.clip_norm)))
  tx = optax.chain(*parts)
  if not frozen and temperature_lr is None:
    return tx
  transforms = {"train": tx, "frozen": optax.set_to_zero()}
  if temperature_lr is not None:
    transforms["temperature"] = optax.adam(
        make_schedule(dataclasses.replace(optim, learning_rate=float(temperature_lr)), total_steps))
  return optax.multi_transform(transforms,
                               lambda tree: trainable_labels(tree, frozen, temperature_lr is not None))


def optimizer_for(cfg, encoder):
  """`make_optimizer` from a TrainConfig, for `encoder` (its family says what `model.freeze_embeddings` freezes)."""
  own = cfg.loss.temperature_learning_rate if cfg.loss.learn_temperature else None
  return make_optimizer(cfg.optim, cfg.steps, frozen_patterns(encoder, cfg), own)


def init_params(encoder, seed=0):
  """Random encoder parameters (float32), as `Encoder.init` gives them."""
  ids = jnp.zeros((1, 8), jnp.int32)
  return encoder.init(jax.random.PRNGKey(seed), ids, jnp.ones_like(ids))["params"]


def _new_state(params, cfg, seed, encoder):
  lt = None
  if cfg.loss.learn_temperature:
    lt = jnp.asarray(math.log(cfg.loss.temperature), jnp.float32)
  tx = optimizer_for(cfg, encoder)
  trainable = {"params": params, "log_temperature": lt}
  return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(trainable),
                    rng=jax.random.fold_in(jax.random.PRNGKey(seed), 1), log_temperature=lt)


def abstract_state(encoder, cfg):
  """The TrainState's shapes and dtypes (ShapeDtypeStructs), without allocating it."""
  return jax.eval_shape(lambda: _new_state(init_params(encoder), cfg, 0, encoder))


def _shardings(abstract, encoder, mesh):
  """The shardings of the abstract TrainState by the family's rules, every param checked against them."""
  fam = families.of_config(encoder.config)
  mesh_lib.check_rules(abstract.params, mesh.shape["model"], fam.sharding_rules, fam.replicated)
  return mesh_lib.shardings(abstract, mesh, fam.sharding_rules)


def state_shardings(encoder, cfg, mesh):
  """NamedShardings for every leaf of the TrainState (the family's sharding rules for params and moments)."""
  return _shardings(abstract_state(encoder, cfg), encoder, mesh)


def sharded_abstract_state(encoder, cfg, mesh):
  """The TrainState's ShapeDtypeStructs with their shardings: what a checkpoint restores into."""
  abstract = abstract_state(encoder, cfg)
  return jax.tree.map(lambda s, sh: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sh),
                      abstract, _shardings(abstract, encoder, mesh))


def create_train_state(encoder, cfg, mesh, params=None, seed=0):
  """A sharded TrainState: from `params` (e.g. `load_pretrained(...).params`, numpy, the same on
  every host) or, when None, from a random init with `seed`. `cfg` is a TrainConfig."""
  shard = state_shardings(encoder, cfg, mesh)
  if params is None:
    return jax.jit(lambda: _new_state(init_params(encoder, seed), cfg, seed, encoder), out_shardings=shard)()
  expected = jax.tree.structure(shard.params)
  got = jax.tree.structure(params)
  if got != expected:
    raise JaxirError("the given params do not match the encoder's parameter tree"
                     " (a Dense head or layer count that differs from the encoder?)")
  for (path, x), s in zip(jax.tree_util.tree_leaves_with_path(params),
                          jax.tree.leaves(abstract_state(encoder, cfg).params)):
    if tuple(np.shape(x)) != tuple(s.shape):
      raise JaxirError(f"param {mesh_lib.path_str(path)} has shape {tuple(np.shape(x))}, the encoder expects {s.shape}")
  params = mesh_lib.put(jax.tree.map(lambda x: np.asarray(x, np.float32), params), shard.params)
  return jax.jit(lambda p: _new_state(p, cfg, seed, encoder), in_shardings=(shard.params,),
                 out_shardings=shard, donate_argnums=0)(params)

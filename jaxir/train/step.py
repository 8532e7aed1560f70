"""The jitted train step: the loss `loss.name` names (InfoNCE by default) over the global batch, plain or
gradient-cached.

Batch: a dict of int32 arrays sharded over `data` (see `mesh.host_batch_to_global`), padded or packed.
Padded: `query_ids`, `query_mask`, `passage_ids`, `passage_mask` [B, L], and optionally
`negative_ids`, `negative_mask` ([M, L], e.g. M = B * k hard negatives). B is the global batch.
Packed (`jaxir.data.packed`, the pipeline's default): every text of the batch in rows
`packed_ids` / `packed_segments` / `packed_positions` [R, T], one `Encoder.packed` call, and
`query_slot`, `passage_slot` [B] (`negative_slot` [M]) pick each text's embedding out of the
flat [R * S, H] pooled output; the loss is the padded batch's (tested to 1e-5), at a fraction of
the tokens. Dropout then draws one mask for the packed rows (key `tower_rng(..., 3)`).

The loss comes from the loss table (`jaxir.loss_registry`): the step embeds the towers the batch
holds (queries, passages, negatives) and hands them to the chosen loss. `validate_batch` checks the
batch against that loss's towers before anything is traced: a tower it needs and the batch lacks, or
one the batch holds and the loss would ignore, is one JaxirError line.

Global in-batch negatives: every query scores every passage of the global batch. The mesh is in
Auto mode (see `jaxir.train.mesh`), so the step states the all-gather it wants with
`with_sharding_constraint(p, P())` on the passage (and negative) embeddings and lets XLA insert
it; queries stay sharded, so each device computes its rows of the [B, B + M] logits. (Explicit
mode would say the same with `jax.sharding.reshard(p, P())`, but would also make every weight
sharding over `model` a type the unannotated encoder must satisfy.)

GradCache (`loss.grad_cache_chunk = c`), after Gao et al. 2021 (luyug/GradCache): gradient
*accumulation* would shrink the negatives to one micro-batch, which changes the contrastive
loss. Instead (1) embed the global batch in chunks of c without building a graph, (2) take the
loss and d loss / d embeddings on the full global batch, (3) re-run each chunk under `jax.vjp`
with its slice of d loss / d embeddings as cotangent, summing parameter gradients in a
`lax.scan`. Activation memory is one chunk's; the gradients equal the plain step's (without
dropout, exactly up to float summation order). Each chunk takes rows from every `data` shard
(no cross-device traffic), so c must be a multiple of the data-axis size. Padded batches are
chunked per tower, c rows at a time; packed batches as one stream of packed rows in B / c chunks
(each about c pairs' texts), the row count padded by the pipeline to a multiple of B / c per device. Dropout keys are per
(step, tower, chunk) and the same in passes (1) and (3), so the recomputation matches; with
dropout on, the masks differ from the plain step's (those are drawn per tower), so the two
agree in distribution, not bitwise.

Dropout keys: `tower_rng(state.rng, state.step, t)` for towers 0 (queries), 1 (passages),
2 (negatives); GradCache chunk i uses `fold_in(tower_rng, i)`.

Precision: the encoder's `dtype` is the compute dtype (`compute_dtype('auto')`: bfloat16 on
TPU/GPU, float32 on CPU); params, embeddings, logits, loss and gradients are float32.
No `jax.set_mesh` context is needed: every sharding is a NamedSharding that names its mesh.
"""
import copy

import flax.traverse_util
import jax
import jax.numpy as jnp
import optax
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from jaxir import loss_registry
from jaxir.config import DTYPES, chunk_count
from jaxir.data import packed as packed_lib
from jaxir.errors import JaxirError
from jaxir.train import mesh as mesh_lib
from jaxir.train import state as state_lib

REQUIRED = ("query_ids", "query_mask", "passage_ids", "passage_mask")
NEGATIVES = ("negative_ids", "negative_mask")
TOWERS = (("query_ids", "query_mask"), ("passage_ids", "passage_mask"), NEGATIVES)
PACKED = ("packed_ids", "packed_segments", "packed_positions", "query_slot", "passage_slot")
SLOTS = ("query_slot", "passage_slot", "negative_slot")
PACKED_TOWER = 3
TOWER_KEYS = dict(zip(loss_registry.TOWERS, TOWERS))    # "queries" -> ("query_ids", "query_mask"), ...
TOWER_SLOTS = dict(zip(loss_registry.TOWERS, SLOTS))    # "queries" -> "query_slot", ...


def compute_dtype(name="auto"):
  """The encoder's compute dtype for ModelConfig.dtype: 'auto' is bfloat16 on TPU/GPU, float32 on CPU."""
  if name == "auto":
    return jnp.float32 if jax.default_backend() == "cpu" else jnp.bfloat16
  if name not in DTYPES:
    raise JaxirError(f"unknown model.dtype {name!r}; choose from {', '.join(DTYPES)}")
  return getattr(jnp, name)


def tower_rng(rng, step, tower):
  """The dropout key of one tower (0 queries, 1 passages, 2 negatives) at `step`."""
  return jax.random.fold_in(jax.random.fold_in(rng, step), tower)


def temperature_of(cfg, log_temperature):
  if log_temperature is None:
    return jnp.asarray(cfg.loss.temperature, jnp.float32)
  return jnp.maximum(jnp.exp(log_temperature), state_lib.MIN_TEMPERATURE)


def is_packed(batch):
  return "packed_ids" in batch


def _validate_packed(batch, cfg, mesh):
  missing = [k for k in PACKED if k not in batch]
  if missing:
    raise JaxirError(f"packed batch lacks {', '.join(missing)}")
  unknown = sorted(set(batch) - set(PACKED) - {"negative_slot"})
  if unknown:
    raise JaxirError(f"packed batch has unknown keys {', '.join(unknown)}")
  shape, data = tuple(batch["packed_ids"].shape), mesh.shape["data"]
  for k in PACKED[1:3]:
    if len(shape) != 2 or tuple(batch[k].shape) != shape:
      raise JaxirError(f"packed batch {k} {tuple(batch[k].shape)} must have packed_ids' [rows, length] shape {shape}")
  if shape[0] % data:
    raise JaxirError(f"packed batch of {shape[0]} rows is not divisible by the {data} devices of the data axis")
  nq = batch["query_slot"].shape
  if len(nq) != 1 or tuple(batch["passage_slot"].shape) != nq:
    raise JaxirError(f"packed batch has query_slot {tuple(nq)} but passage_slot {tuple(batch['passage_slot'].shape)}"
                     " (one positive per query)")
  for k in SLOTS:
    if k in batch and batch[k].shape[0] % data:
      raise JaxirError(f"global batch of {batch[k].shape[0]} rows ({k}) is not divisible by the {data} devices"
                       " of the data axis")
  chunk = cfg.loss.grad_cache_chunk
  if chunk:
    if nq[0] % chunk:
      raise JaxirError(f"loss.grad_cache_chunk={chunk} does not divide the global batch of {nq[0]} pairs")
    n = chunk_count(nq[0], chunk)
    if shape[0] % (n * data):
      raise JaxirError(f"packed batch of {shape[0]} rows is not a multiple of the {n} GradCache chunks times the"
                       f" {data} devices of the data axis (the pipeline pads rows to it: config.grad_cache_chunks)")


def _validate_towers(batch, cfg):
  """One JaxirError unless the batch holds every tower the chosen loss needs and no tower it would ignore."""
  loss = loss_registry.get(cfg.loss.name)
  keys = TOWER_SLOTS if is_packed(batch) else {t: k[0] for t, k in TOWER_KEYS.items()}
  held = [t for t in loss_registry.TOWERS if keys[t] in batch]
  missing = [t for t in loss.needs if t not in held]
  if missing:
    raise JaxirError(f"loss {cfg.loss.name} needs {' and '.join(missing)} ({', '.join(keys[t] for t in missing)})"
                     " but the batch has none")
  unused = [t for t in held if t not in loss.needs + loss.optional]
  if unused:
    raise JaxirError(f"loss {cfg.loss.name} does not use {' or '.join(unused)}, but the batch holds them"
                     f" ({', '.join(keys[t] for t in unused)})")


def validate_batch(batch, cfg, mesh):
  """Raises JaxirError unless `batch` has the keys and shapes the step can shard and chunk, and the towers
  the chosen loss (`loss.name`) needs."""
  if is_packed(batch):
    _validate_packed(batch, cfg, mesh)
    return _validate_towers(batch, cfg)
  missing = [k for k in REQUIRED if k not in batch]
  if missing:
    raise JaxirError(f"batch lacks {', '.join(missing)}")
  if (NEGATIVES[0] in batch) != (NEGATIVES[1] in batch):
    raise JaxirError("batch needs both negative_ids and negative_mask, or neither")
  unknown = sorted(set(batch) - set(REQUIRED) - set(NEGATIVES))
  if unknown:
    raise JaxirError(f"batch has unknown keys {', '.join(unknown)}")
  data, chunk = mesh.shape["data"], cfg.loss.grad_cache_chunk
  b = batch["query_ids"].shape[0] if len(batch["query_ids"].shape) else 0
  for ids, mask in TOWERS:
    if ids not in batch:
      continue
    if len(batch[ids].shape) != 2 or batch[ids].shape != batch[mask].shape:
      raise JaxirError(f"batch {ids} {tuple(batch[ids].shape)} and {mask} {tuple(batch[mask].shape)}"
                       " must be the same [rows, length] shape")
    rows = batch[ids].shape[0]
    if ids == "passage_ids" and rows != b:
      raise JaxirError(f"batch has {b} queries but {rows} passages (one positive per query)")
    if rows % data:
      raise JaxirError(f"global batch of {rows} rows ({ids}) is not divisible by the {data} devices"
                       " of the data axis")
    if chunk and rows % chunk:
      raise JaxirError(f"loss.grad_cache_chunk={chunk} does not divide the {rows} rows of {ids}")
  if chunk is not None and (chunk < 1 or chunk % data):
    raise JaxirError(f"loss.grad_cache_chunk={chunk} must be a positive multiple of the {data}"
                     " devices of the data axis")
  _validate_towers(batch, cfg)


# ---------------------------------------------------------------- forward and gradients

def _encode(encoder, cfg, params, ids, mask, rng):
  return _apply(encoder, cfg, params, rng, ids, mask)


def _apply(encoder, cfg, params, rng, *args, method=None):
  frozen = state_lib.frozen_patterns(encoder, cfg)
  if frozen:   # no gradient into the frozen embedding tables (nor their backward pass)
    params = jax.tree_util.tree_map_with_path(
        lambda p, x: jax.lax.stop_gradient(x) if state_lib.is_frozen(mesh_lib.path_str(p), frozen) else x, params)
  deterministic = not cfg.model.dropout
  return encoder.apply({"params": params}, *args, deterministic=deterministic, method=method,
                       rngs=None if deterministic else {"dropout": rng})


def _encode_packed(encoder, cfg, params, batch, rng):
  """Query, passage and negative embeddings ([B, H], [B, H], [M, H] or None) of a packed batch."""
  ids = batch["packed_ids"]
  s = packed_lib.segments(ids.shape[1])
  pooled = _apply(encoder, cfg, params, rng, ids, batch["packed_segments"], batch["packed_positions"], s,
                  method=type(encoder).packed)
  flat = pooled.reshape((-1, pooled.shape[-1]))
  return [None if k not in batch else jnp.take(flat, batch[k], axis=0) for k in SLOTS]


def _loss(loss_fn, cfg, mesh, emb, log_temperature):
  """`loss_fn` (an entry of the loss table) on the towers' embeddings `emb` (one per `TOWERS`, None where
  the batch has none): queries stay sharded over `data`, the other towers are gathered (global negatives)."""
  gather = lambda x: jax.lax.with_sharding_constraint(x, NamedSharding(mesh, P()))
  towers = {}
  for name, e in zip(loss_registry.TOWERS, emb):
    if e is not None:
      towers[name] = (jax.lax.with_sharding_constraint(e, mesh_lib.batch_sharding(mesh)) if name == "queries"
                      else gather(e))
  return loss_fn(towers, temperature_of(cfg, log_temperature), cfg.loss)


def _towers(batch):
  return [(batch[i], batch[m]) if i in batch else None for i, m in TOWERS]


def _plain_grads(encoder, loss_fn, cfg, mesh, state, batch):
  towers = None if is_packed(batch) else _towers(batch)

  def objective(trainable):
    if towers is None:
      emb = _encode_packed(encoder, cfg, trainable["params"], batch,
                           tower_rng(state.rng, state.step, PACKED_TOWER))
    else:
      emb = [None if t is None else
             _encode(encoder, cfg, trainable["params"], *t, tower_rng(state.rng, state.step, k))
             for k, t in enumerate(towers)]
    return _loss(loss_fn, cfg, mesh, emb, trainable["log_temperature"])

  return jax.grad(objective, has_aux=True)(state.trainable())


def _to_chunks(x, n, data):
  """[R, ...] -> [n, R / n, ...]; chunk i takes rows i*s..(i+1)*s-1 of every data shard (s = R/(n*data))."""
  r = x.shape[0]
  x = x.reshape((data, n, r // (n * data)) + x.shape[1:]).swapaxes(0, 1)
  return x.reshape((n, r // n) + x.shape[3:])


def _from_chunks(y, data):
  """The inverse of `_to_chunks`: [n, c, ...] -> [n * c, ...] in the original row order."""
  n, c = y.shape[:2]
  y = y.reshape((n, data, c // data) + y.shape[2:]).swapaxes(0, 1)
  return y.reshape((n * c,) + y.shape[3:])


def _grad_cache_streams(encoder, cfg, state, batch):
  """What GradCache re-runs chunk by chunk: a list of streams (arrays [rows, ...], number of chunks, dropout key,
  encoder method, extra args), and a function from the streams' embeddings to the towers' (one per `TOWERS`).

  Padded: one stream per tower, chunks of `loss.grad_cache_chunk` rows. Packed: one stream of the packed rows,
  cut into B / chunk chunks (B the global batch, so a chunk holds about `chunk` pairs' texts); the pipeline pads
  the row count to a multiple of that (`config.grad_cache_chunks`). Slots index the packed output in row order,
  which `_from_chunks` restores."""
  chunk = cfg.loss.grad_cache_chunk
  if is_packed(batch):
    n = chunk_count(batch["query_slot"].shape[0], chunk)
    args = (batch["packed_ids"], batch["packed_segments"], batch["packed_positions"])
    extra = (packed_lib.segments(args[0].shape[1]),)
    streams = [(args, n, tower_rng(state.rng, state.step, PACKED_TOWER), type(encoder).packed, extra)]

    def towers(outs):
      flat = outs[0].reshape((-1, outs[0].shape[-1]))
      return [None if k not in batch else jnp.take(flat, batch[k], axis=0) for k in SLOTS]
    return streams, towers
  streams = [None if t is None else
             (t, chunk_count(t[0].shape[0], chunk), tower_rng(state.rng, state.step, k), None, ())
             for k, t in enumerate(_towers(batch))]
  return streams, list


def _grad_cache_grads(encoder, loss_fn, cfg, mesh, state, batch):
  data = mesh.shape["data"]
  params = state.params
  chunked = NamedSharding(mesh, P(None, "data"))
  streams, towers = _grad_cache_streams(encoder, cfg, state, batch)
  plan = []
  for stream in streams:
    if stream is None:
      plan.append(None)
      continue
    arrays, n, rng, method, extra = stream
    arrays = tuple(jax.lax.with_sharding_constraint(_to_chunks(x, n, data), chunked) for x in arrays)
    plan.append((arrays, jnp.arange(n), rng, method, extra))

  def run(p, arrays, i, rng, method, extra):
    return _apply(encoder, cfg, p, jax.random.fold_in(rng, i), *arrays, *extra, method=method)

  # (1) embeddings of every chunk, no graph kept.
  def embed(t):
    arrays, idx, rng, method, extra = t
    e = jax.lax.map(lambda a: run(params, a[0], a[1], rng, method, extra), (arrays, idx))
    return _from_chunks(e, data)
  outs = [None if t is None else embed(t) for t in plan]

  # (2) loss and its gradient w.r.t. the embeddings (and temperature) on the full global batch.
  (d_outs, d_lt), metrics = jax.grad(
      lambda o, lt: _loss(loss_fn, cfg, mesh, towers(o), lt), argnums=(0, 1), has_aux=True)(outs, state.log_temperature)

  # (3) back-propagate chunk by chunk, summing parameter gradients. Frozen embeddings are held
  # out of the vjp, so the scan carries no [vocab, H] accumulator for them. With frozen params the
  # trees are flat {'a/b/c': leaf} dicts, split by the family's frozen patterns.
  patterns = state_lib.frozen_patterns(encoder, cfg)
  frozen, live, join = None, params, lambda p: p
  if patterns:
    flat = flax.traverse_util.flatten_dict(params, sep="/")
    frozen = {k: v for k, v in flat.items() if state_lib.is_frozen(k, patterns)}
    live = {k: v for k, v in flat.items() if k not in frozen}
    join = lambda p: flax.traverse_util.unflatten_dict({**p, **frozen}, sep="/")
  grads = jax.tree.map(jnp.zeros_like, live)
  for t, d in zip(plan, d_outs):
    if t is None:
      continue
    arrays, idx, rng, method, extra = t
    d = jax.lax.with_sharding_constraint(_to_chunks(d, idx.shape[0], data), chunked)

    def body(acc, xs, rng=rng, method=method, extra=extra):
      a, i, ct = xs
      _, vjp = jax.vjp(lambda p: run(join(p), a, i, rng, method, extra), live)
      return jax.tree.map(jnp.add, acc, vjp(ct)[0]), None

    grads, _ = jax.lax.scan(body, grads, (arrays, idx, d))
  if frozen is not None:
    grads = flax.traverse_util.unflatten_dict({**grads, **jax.tree.map(jnp.zeros_like, frozen)}, sep="/")
  return {"params": grads, "log_temperature": d_lt}, metrics


def _grads(encoder, loss_fn, cfg, mesh, state, batch):
  if cfg.loss.grad_cache_chunk:
    return _grad_cache_grads(encoder, loss_fn, cfg, mesh, state, batch)
  return _plain_grads(encoder, loss_fn, cfg, mesh, state, batch)


# ---------------------------------------------------------------- public API

class Step:
  """A jitted `(state, batch) -> ...` that validates the batch first (bad shapes are one
  JaxirError line, not jit's sharding errors); `.jitted` is the `jax.jit` object itself."""

  def __init__(self, jitted, cfg, mesh):
    self.jitted, self.cfg, self.mesh = jitted, cfg, mesh

  def __call__(self, state, batch):
    validate_batch(batch, self.cfg, self.mesh)
    return self.jitted(state, batch)

  def lower(self, state, batch):
    validate_batch(batch, self.cfg, self.mesh)
    return self.jitted.lower(state, batch)


def make_grad_fn(encoder, cfg, mesh):
  """Jitted `(state, batch) -> (grads, metrics)`: gradients of the trainable tree
  ({'params', 'log_temperature'}) and the loss metrics, without updating (tests, debugging)."""
  cfg = copy.deepcopy(cfg)
  loss_fn = loss_registry.get(cfg.loss.name).load()
  shard = state_lib.state_shardings(encoder, cfg, mesh)
  grad_shard = {"params": shard.params, "log_temperature": shard.log_temperature}
  fn = jax.jit(lambda s, b: _grads(encoder, loss_fn, cfg, mesh, s, b),
               in_shardings=(shard, mesh_lib.batch_sharding(mesh)),
               out_shardings=(grad_shard, mesh_lib.replicated(mesh)))
  return Step(fn, cfg, mesh)


def make_train_step(encoder, cfg, mesh):
  """Jitted `(state, batch) -> (state, metrics)` for a TrainConfig `cfg`; the state is donated.

  Metrics (replicated float32 scalars): those of the loss `cfg.loss.name` (info_nce: loss, accuracy,
  pos_score, hardest_neg_score, see `losses.info_nce`), temperature, grad_norm (before clipping),
  learning_rate (of this step). `cfg` is copied: later edits to it do not reach the compiled step.
  """
  cfg = copy.deepcopy(cfg)
  loss_fn = loss_registry.get(cfg.loss.name).load()
  tx = state_lib.optimizer_for(cfg, encoder)
  schedule = state_lib.make_schedule(cfg.optim, cfg.steps)
  shard = state_lib.state_shardings(encoder, cfg, mesh)

  def train_step(state, batch):
    grads, metrics = _grads(encoder, loss_fn, cfg, mesh, state, batch)
    trainable = state.trainable()
    updates, opt_state = tx.update(grads, state.opt_state, trainable)
    trainable = optax.apply_updates(trainable, updates)
    metrics = dict(metrics, temperature=temperature_of(cfg, state.log_temperature),
                   grad_norm=optax.tree.norm(grads), learning_rate=schedule(state.step))
    new = state.replace(step=state.step + 1, params=trainable["params"], opt_state=opt_state,
                        log_temperature=trainable["log_temperature"])
    return new, metrics

  fn = jax.jit(train_step, in_shardings=(shard, mesh_lib.batch_sharding(mesh)),
               out_shardings=(shard, mesh_lib.replicated(mesh)), donate_argnums=0)
  return Step(fn, cfg, mesh)

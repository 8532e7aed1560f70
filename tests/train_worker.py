"""Shared fixtures of tests/test_train_step.py, and the subprocess entry point for its multi-device runs.

`python tests/train_worker.py sharded OUT` runs on 4 fake CPU devices (XLA_FLAGS) and saves the
gradients of one batch on a 4 x 1 mesh (plain) and a 2 x 2 mesh (gradient-cached), each padded and packed; `python tests/train_worker.py multihost OUT PORT PID [packed]` is one of
two processes (2 CPU devices each) that train 3 steps, each feeding its half of every global
batch (padded, or packed: its own rows, slots into the global rows), and process 0 saves the losses and final params. Device counts must be fixed before jax
is imported, hence the subprocesses.
"""
import sys

import numpy as np

STEPS = 3


def tiny_encoder(**overrides):
  import dataclasses
  from jaxir.model.config import EncoderConfig
  from jaxir.model.encoder import Encoder
  config = EncoderConfig.from_hf({
      "model_type": "bert", "vocab_size": 100, "hidden_size": 16, "num_hidden_layers": 1,
      "num_attention_heads": 2, "intermediate_size": 32, "max_position_embeddings": 32,
      "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1})
  return Encoder(dataclasses.replace(config, **overrides))


def tiny_config(**loss):
  from jaxir.config import TrainConfig
  cfg = TrainConfig()
  cfg.steps = 10
  cfg.optim.learning_rate = 1e-3
  cfg.optim.warmup_steps = 0
  cfg.model.dropout = False
  cfg.loss.temperature = 0.5
  for k, v in loss.items():
    setattr(cfg.loss, k, v)
  return cfg


def _rows(rs, n, length):
  mask = (rs.rand(n, length) < 0.8).astype(np.int32)
  mask[:, 0] = 1
  return (rs.randint(1, 100, (n, length)) * mask).astype(np.int32), mask


def make_batch(seed=0, b=8, k=1):
  """A global batch: b queries (length 6), b passages (length 10), b * k hard negatives."""
  rs = np.random.RandomState(seed)
  batch = {}
  batch["query_ids"], batch["query_mask"] = _rows(rs, b, 6)
  batch["passage_ids"], batch["passage_mask"] = _rows(rs, b, 10)
  if k:
    batch["negative_ids"], batch["negative_mask"] = _rows(rs, b * k, 10)
  return batch


def make_prefix_batch(seed=0, b=8, k=1):
  """Like `make_batch`, with texts of 2..L tokens (masks are prefixes), as real tokenised text is."""
  rs = np.random.RandomState(seed)
  batch = {}
  for name, n, length in (("query", b, 6), ("passage", b, 10), ("negative", b * k, 10)):
    if n:
      lens = rs.randint(2, length + 1, n)
      mask = (np.arange(length)[None] < lens[:, None]).astype(np.int32)
      batch[f"{name}_ids"], batch[f"{name}_mask"] = (rs.randint(1, 100, (n, length)) * mask).astype(np.int32), mask
  return batch


def from_padded(batch, length, pad_id=0, process_count=1, row_multiple=1):
  """Host batches (one per process) packed from a padded GLOBAL batch dict (`query_ids`/`query_mask`,
  ...; masks must be contiguous prefixes): the same texts the padded step sees."""
  from jaxir.data import packed

  def texts(name):
    if f"{name}_ids" not in batch:
      return []
    ids, mask = np.asarray(batch[f"{name}_ids"]), np.asarray(batch[f"{name}_mask"])
    n = mask.sum(1)
    if not np.array_equal(mask, (np.arange(mask.shape[1])[None] < n[:, None]).astype(mask.dtype)):
      raise ValueError(f"{name}_mask is not a contiguous prefix: packing would move tokens")
    return [ids[i, :n[i]] for i in range(len(ids))]

  parts = [texts(n) for n in ("query", "passage", "negative")]
  per = [len(p) // process_count for p in parts]
  slices = [tuple(p[h * k:(h + 1) * k] for p, k in zip(parts, per)) for h in range(process_count)]
  return [packed.pack(slices, h, length, pad_id, row_multiple) for h in range(process_count)]


def packed_batch(seed=0, row_multiple=1, process_count=1):
  """`make_prefix_batch` packed into rows of 16 tokens: one host batch per process."""
  return from_padded(make_prefix_batch(seed), 16, process_count=process_count, row_multiple=row_multiple)


def flat(tree):
  """{path: numpy array} of a pytree (fully addressable or replicated jax arrays)."""
  import jax
  from jaxir.train.mesh import path_str
  out = {}
  for path, x in jax.tree_util.tree_leaves_with_path(tree):
    if hasattr(x, "addressable_data") and not x.is_fully_addressable:
      x = x.addressable_data(0)   # replicated: the local copy is the whole array
    out[path_str(path)] = np.asarray(x)
  return out


def sharded_config(data=1, model=1):
  cfg = tiny_config(symmetric=True, learn_temperature=True)
  cfg.mesh.data, cfg.mesh.model = data, model
  return cfg


def _error(fn):
  from jaxir.errors import JaxirError
  try:
    fn()
  except JaxirError as e:
    return str(e)
  return "no error"


def _sharded(out):
  """Gradients on a 4 x 1 mesh (plain) and a 2 x 2 mesh (GradCache, chunks of 2: one row from each
  data shard), and the errors for a batch the data axis cannot split."""
  from jaxir.train import mesh as mesh_lib
  from jaxir.train import state as state_lib
  from jaxir.train import step as step_lib
  encoder, result = tiny_encoder(), {}
  for data, model, chunk in ((4, 1, None), (2, 2, 2)):
    cfg = sharded_config(data, model)
    cfg.loss.grad_cache_chunk = chunk
    mesh = mesh_lib.make_mesh(cfg.mesh)
    state = state_lib.create_train_state(encoder, cfg, mesh, seed=0)
    grad_fn = step_lib.make_grad_fn(encoder, cfg, mesh)
    grads, metrics = grad_fn(state, make_batch())
    tag = f"{data}x{model}" + ("gc" if chunk else "")
    result.update({f"{tag}/grad/{k}": v for k, v in flat(grads).items()})
    result.update({f"{tag}/metric/{k}": np.asarray(v) for k, v in metrics.items()})
    result[f"{tag}/specs"] = np.asarray([f"{k}={v.sharding.spec}" for k, v in flat_arrays(state.params).items()])
    # Packed: rows padded to a multiple of the data shards (4 x 1), and of the 4 GradCache chunks per shard (2 x 2).
    grads, metrics = grad_fn(state, mesh_lib.host_batch_to_global(packed_batch(row_multiple=4 if data == 4 else 8)[0],
                                                                   mesh))
    result.update({f"{tag}packed/grad/{k}": v for k, v in flat(grads).items()})
    result.update({f"{tag}packed/metric/{k}": np.asarray(v) for k, v in metrics.items()})
    if data == 4:
      bad = make_batch(b=6)
      result["error/step"] = np.asarray(_error(lambda: grad_fn(state, bad)))
      result["error/host"] = np.asarray(_error(lambda: mesh_lib.host_batch_to_global(bad, mesh)))
  np.savez(out, **result)


def flat_arrays(tree):
  import jax
  from jaxir.train.mesh import path_str
  return {path_str(p): x for p, x in jax.tree_util.tree_leaves_with_path(tree)}


def train_run(batch_fn, cfg=None):
  """Trains STEPS steps on the global mesh; `batch_fn(step, mesh)` gives each step's global batch."""
  from jaxir.train import mesh as mesh_lib
  from jaxir.train import state as state_lib
  from jaxir.train import step as step_lib
  encoder, cfg = tiny_encoder(), cfg or tiny_config(learn_temperature=True)
  mesh = mesh_lib.make_mesh(cfg.mesh)
  state = state_lib.create_train_state(encoder, cfg, mesh, seed=0)
  step = step_lib.make_train_step(encoder, cfg, mesh)
  losses = []
  for i in range(STEPS):
    state, metrics = step(state, batch_fn(i, mesh))
    losses.append(float(metrics["loss"]))
  return np.asarray(losses), flat(state.params)


def _multihost(out, port, pid, packed=False):
  import jax
  jax.config.update("jax_num_cpu_devices", 2)
  # CPU collectives across processes: gloo is jax 0.10's default (jax_cpu_collectives_implementation).
  jax.distributed.initialize(coordinator_address=f"localhost:{port}", num_processes=2, process_id=pid,
                             initialization_timeout=60)
  from jaxir.train.mesh import host_batch_to_global
  assert jax.process_count() == 2 and len(jax.devices()) == 4, jax.devices()

  def batch_fn(i, mesh):
    if packed:
      return host_batch_to_global(packed_batch(seed=i, row_multiple=2, process_count=2)[pid], mesh)
    full = make_batch(seed=i)
    local = {k: v[pid * (v.shape[0] // 2):(pid + 1) * (v.shape[0] // 2)] for k, v in full.items()}
    return host_batch_to_global(local, mesh)

  losses, params = train_run(batch_fn)
  if pid == 0:
    np.savez(out, losses=losses, **{f"param/{k}": v for k, v in params.items()})
  jax.distributed.shutdown()


if __name__ == "__main__":
  mode, out = sys.argv[1], sys.argv[2]
  if mode == "sharded":
    _sharded(out)
  elif mode == "multihost":
    _multihost(out, int(sys.argv[3]), int(sys.argv[4]), packed=sys.argv[5:] == ["packed"])
  else:
    raise SystemExit(f"unknown mode {mode}")

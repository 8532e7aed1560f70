"""Device mesh, parameter sharding rules and global batches for training.

The mesh is `data` x `model` over all devices of all hosts (`jax.devices()` is global), data-major
so that the `model` axis spans neighbouring devices of one host. Both axes are `AxisType.Auto`:
the encoder carries no sharding annotations, so in Explicit mode every matmul and reshape that
meets a `model`-sharded weight would need an `out_sharding`; in Auto mode XLA propagates the
shardings given to `jit` (parameters by their family's rules, batches over `data`) and inserts the collectives.
Where we want a specific collective (the all-gather of the passages for global in-batch
negatives) the step says so with `with_sharding_constraint`.

The sharding rules are the model family's (`Family.sharding_rules`, Megatron-style for BERT:
`jaxir.model.bert`): (regex over 'a/b/c' parameter paths, PartitionSpec). They apply only when
`model` > 1 and the dimension divides evenly; everything else (and all of it when `model` == 1) is
replicated. When `model` > 1 every parameter must match a rule or one of the family's `replicated`
patterns (`check_rules`): a new parameter that no rule names is an error, not a silent replication.
Optimizer moments mirror the parameter paths, so the same rules shard them.
"""
import re

import jax
import numpy as np
from jax.sharding import AxisType, NamedSharding
from jax.sharding import PartitionSpec as P

from jaxir.errors import JaxirError

AXES = ("data", "model")
# Replicated in every family: the sentence-transformers Dense head after pooling (`jaxir.model.pooling.Head`).
COMMON_REPLICATED = (r"^head/dense/(kernel|bias)$",)


def make_mesh(mesh_cfg, devices=None):
  """The ('data', 'model') mesh of `MeshConfig` over `devices` (default: every device of every host).

  `data = -1` takes all devices the model axis leaves; the product must use every device.
  """
  devices = list(jax.devices() if devices is None else devices)
  n, model, data = len(devices), int(mesh_cfg.model), int(mesh_cfg.data)
  if model < 1 or n % model:
    raise JaxirError(f"mesh.model={model} must be a positive divisor of the device count {n}")
  if data == -1:
    data = n // model
  if data < 1 or data * model != n:
    raise JaxirError(f"mesh.data={mesh_cfg.data} x mesh.model={model} must use all {n} devices"
                     " (set mesh.data=-1 to fill)")
  return jax.make_mesh((data, model), AXES, axis_types=(AxisType.Auto,) * 2, devices=devices)


def path_str(path):
  """'a/b/0/c' for a jax key path."""
  parts = []
  for k in path:
    for attr in ("key", "name", "idx"):
      if hasattr(k, attr):
        parts.append(str(getattr(k, attr)))
        break
    else:
      parts.append(str(k))
  return "/".join(parts)


def spec_for(path, shape, model_size, rules=()):
  """The PartitionSpec of one array: the first matching rule if `model` > 1 and it divides, else P()."""
  if model_size > 1:
    for pattern, spec in rules:
      if re.search(pattern, path) and len(spec) == len(shape):
        if all(ax is None or dim % model_size == 0 for ax, dim in zip(spec, shape)):
          return spec
        return P()
  return P()


def param_path(path):
  """The 'a/b/c' path a sharding rule sees: after the last `params` key when there is one (the params and the
  optimizer moments that mirror them in a TrainState), else the whole path (a bare params tree)."""
  parts = path_str(path).split("/")
  if "params" in parts:
    parts = parts[len(parts) - parts[::-1].index("params"):]
  return "/".join(parts)


def shardings(tree, mesh, rules=()):
  """A tree of NamedShardings for a tree of arrays / ShapeDtypeStructs (params, optimizer state, ...)."""
  model_size = mesh.shape["model"]
  return jax.tree_util.tree_map_with_path(
      lambda path, x: NamedSharding(mesh, spec_for(param_path(path), np.shape(x), model_size, rules)), tree)


def check_rules(params, model_size, rules, replicated):
  """JaxirError naming the first parameter (of the tree `params`) that matches neither a sharding rule nor a
  `replicated` pattern (nor `COMMON_REPLICATED`), when `model_size` > 1; nothing to check otherwise."""
  if model_size <= 1:
    return
  patterns = tuple(p for p, _ in rules) + tuple(replicated) + COMMON_REPLICATED
  unmatched = [path_str(path) for path, _ in jax.tree_util.tree_leaves_with_path(params)]
  unmatched = [p for p in unmatched if not any(re.search(pattern, p) for pattern in patterns)]
  if unmatched:
    more = f" (and {len(unmatched) - 1} more)" if len(unmatched) > 1 else ""
    raise JaxirError(f"param {unmatched[0]}{more} matches no sharding rule of the model family and is not listed"
                     f" as replicated: cannot shard it over mesh.model={model_size}")


def batch_sharding(mesh):
  """Batches: leading (example) dimension over `data`, replicated over `model`."""
  return NamedSharding(mesh, P("data"))


def replicated(mesh):
  return NamedSharding(mesh, P())


def put(tree, sharding_tree):
  """Host numpy arrays (the same on every host) -> global jax arrays with the given shardings.

  Multi-host safe: each process builds only its addressable shards (`make_array_from_callback`).
  """
  def one(x, s):
    x = np.asarray(x)
    return jax.make_array_from_callback(x.shape, s, lambda idx: x[idx])
  return jax.tree.map(one, tree, sharding_tree)


def local_data_shards(mesh):
  """How many distinct positions on the `data` axis this process's devices occupy."""
  me = jax.process_index()
  rows = np.asarray([[d.process_index == me for d in row] for row in mesh.devices])
  return int(rows.any(axis=1).sum())


def host_batch_to_global(local_batch, mesh):
  """Each host's slice of the global batch (dict of numpy [b_local, ...]) -> global arrays over `data`.

  Hosts pass consecutive slices in process order (host 0 the first rows). The global batch is
  b_local x (data size / this host's data shards); it must split evenly over the `data` axis.
  """
  sharding = batch_sharding(mesh)
  size, local = mesh.shape["data"], local_data_shards(mesh)
  out = {}
  for key, value in local_batch.items():
    value = np.asarray(value)
    if value.ndim < 1 or value.shape[0] % local:
      raise JaxirError(f"batch[{key!r}]: {value.shape[0] if value.ndim else 0} local rows do not split"
                       f" over this host's {local} data-axis device(s)")
    global_rows = value.shape[0] * size // local
    out[key] = jax.make_array_from_process_local_data(
        sharding, value, (global_rows,) + value.shape[1:])
  return out

"""`jaxir plan`: compile the exact train step (and the encode step) for a TPU slice, a GPU or this CPU,
without the hardware, and say whether it fits and how fast it could run.

XLA compiles for TPU topologies on a CPU host: with `libtpu` installed (`pip install -r
requirements-tpu.txt`), `jax.experimental.topologies.get_topology_desc("v5e:2x2", platform="tpu")`
gives compile-only devices. Likewise for GPUs with the CUDA PJRT plugin (`pip install -r
requirements-gpu-plan.txt`): `get_topology_desc(platform="cuda", target_config=..., topology="1x1x8")`,
the target config being XLA's description of the device (`jaxir.gpu_targets`); the capacity planned
against is the share of its memory JAX's allocator takes (`XLA_PYTHON_CLIENT_MEM_FRACTION`, 0.75 unless
set). Over them the plan builds the config's mesh (`mesh.data` x `mesh.model`),
the sharded abstract train state (`state.sharded_abstract_state`: `jax.eval_shape`, no weights), an
abstract global batch of the shape the pipeline would feed (padded to the maximum lengths, or packed
as `jaxir.data.packed` packs texts of `--query-tokens` / `--passage-tokens`), and compiles
`step.make_train_step` (GradCache included) and the encoder's packed embedding function
(`encode.packed_embed_fn`). The model is a random init from a `config.json` alone: the config's
`model.name` directory, a file, or a known name (`jaxir.model.known_configs`).

Figures (per chip, from `compiled.memory_analysis()` / `cost_analysis()`):
  hbm_bytes_per_chip  arguments + temporaries + outputs - aliases (the donated state is aliased)
  flops_per_step, bytes_per_step  XLA's cost analysis of one step on one chip
  step_seconds_roofline  max(FLOPs / peak FLOP/s, bytes / HBM bandwidth): a lower bound on the step time
  pairs_per_second, tokens_per_second  global batch (pairs; tokens incl. padding) / roofline step time
Peaks come from `CHIPS` and `GPU_PEAK_FLOPS` (public vendor figures, dense bf16; a GPU's bandwidth is XLA's
spec, `gpu_targets`); on `--topology cpu` they are measured at start-up (a float32 matmul and a large copy)
unless given (`--peak-flops`, `--hbm-bandwidth`).

With GradCache, XLA counts each chunk loop's body once; `grad_cache_loop_cost` adds an estimate of the
other chunks (`grad_cache_loop_estimate` in the record, XLA's own count in `cost_counted_by_xla`).
The roofline ignores collectives' latency and the host input pipeline; `collectives` counts the
all-reduce / all-gather / reduce-scatter / all-to-all / collective-permute ops of the compiled HLO.
"""
import math
import os
import re
import sys
import time
from pathlib import Path

from jaxir import backends, gpu_targets
from jaxir.errors import JaxirError

GiB = 2 ** 30
# TPU kind: (peak dense bf16 FLOP/s, HBM bytes, HBM bytes/s) per chip.
CHIPS = {
    "v4": (275e12, 32 * GiB, 1.2e12),      # https://cloud.google.com/tpu/docs/v4
    "v5e": (197e12, 16 * GiB, 819e9),      # https://cloud.google.com/tpu/docs/v5e
    "v5p": (459e12, 95 * GiB, 2.765e12),   # https://cloud.google.com/tpu/docs/v5p
    "v6e": (918e12, 32 * GiB, 1.64e12),    # https://cloud.google.com/tpu/docs/v6e
}
# GPU kind: peak dense bf16 FLOP/s. Memory and HBM bandwidth are XLA's own figures for the device
# (`gpu_targets.SPECS`, the target config the compile uses), so the roofline and the compiler agree.
GPU_PEAK_FLOPS = {
    "h100": 989e12,     # https://www.nvidia.com/en-us/data-center/h100/ (SXM, dense bf16)
    "h200": 989e12,     # https://www.nvidia.com/en-us/data-center/h200/ (SXM, dense bf16)
    "a100": 312e12,     # https://www.nvidia.com/en-us/data-center/a100/ (80GB SXM, dense bf16)
}
TPU_KINDS = ("v4", "v5e", "v5p", "v6e")
GPU_KINDS = gpu_targets.KINDS
COLLECTIVES = ("all-reduce", "all-gather", "reduce-scatter", "all-to-all", "collective-permute")
_COLLECTIVE = re.compile(r"\s(" + "|".join(COLLECTIVES) + r")(?:-start)?\(")
ENCODE_ROW = 128            # the encoder's packed row length (`packing.plan`'s default row_length)
# Off a TPU VM libtpu asks the GCE metadata server who it is and logs warnings when it cannot tell:
# compile-only topologies need none of it.
_NO_TPU_ENV = {"TPU_SKIP_MDS_QUERY": "1", "TPU_ACCELERATOR_TYPE": "v5litepod-4", "TPU_WORKER_HOSTNAMES": "localhost",
               "TPU_WORKER_ID": "0"}


# ---------------------------------------------------------------- targets

class Target:
  """Devices to compile for and the chip figures the roofline uses."""

  def __init__(self, name, devices, kind, chips, hosts, peak_flops, hbm_bytes, hbm_bandwidth, memory_fraction=None):
    self.name, self.devices, self.kind = name, list(devices), kind
    self.chips, self.hosts = chips, hosts
    per_chip = len(self.devices) // chips      # v4 / v5p topologies list both TensorCores of a chip
    self.per_chip = per_chip
    self.peak_flops, self.hbm_bytes, self.hbm_bandwidth = peak_flops, hbm_bytes, hbm_bandwidth
    self.memory_fraction = memory_fraction     # GPUs: the share of device memory JAX's allocator takes


def _tpu_target(name):
  m = re.fullmatch(r"(v4|v5e|v5p|v6e):(\d+(?:x\d+){1,2})", name)
  if not m:
    raise JaxirError(f"unknown topology {name!r}: give cpu or KIND:AxB[xC] with KIND one of "
                     f"{', '.join(TPU_KINDS)} (e.g. v5e:2x2, v4:2x2x1, v6e:4x4)")
  os.environ.setdefault("ALLOW_MULTIPLE_LIBTPU_LOAD", "1")   # another jax process may hold libtpu's lockfile
  if not backends.tpu_chips():                               # not a TPU VM: no metadata server to ask
    for key, value in _NO_TPU_ENV.items():
      os.environ.setdefault(key, value)
  try:
    import libtpu  # noqa: F401
  except ImportError:
    raise JaxirError(f"topology {name}: compiling for TPU needs libtpu (pip install -r requirements-tpu.txt)") from None
  from jax.experimental import topologies
  try:
    kw = {"chip_config_name": "megacore"} if m.group(1) in ("v4", "v5p") else {}   # one device per chip, as jax meshes want
    devices = topologies.get_topology_desc(topology_name=name, platform="tpu", **kw).devices
  except Exception as e:  # an unsupported shape for that kind, a libtpu that does not load
    reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
    raise JaxirError(f"topology {name}: libtpu cannot describe it ({reason})") from None
  kind = m.group(1)
  chips = math.prod(int(x) for x in m.group(2).split("x"))
  hosts = len({d.process_index for d in devices})
  return Target(name, devices, kind, chips, hosts, *CHIPS[kind])


def _gpu_target(name):
  """KIND x N GPUs, compiled for without them: the CUDA PJRT plugin's deviceless topology (`gpu_targets`)."""
  m = re.fullmatch(r"(h100|h200|a100)x(\d+)", name)
  if not m:
    raise JaxirError(f"unknown --gpu {name!r}: give KINDxN with KIND one of {', '.join(GPU_KINDS)} (e.g. h100x8)")
  kind, count = m.group(1), int(m.group(2))
  topo = gpu_targets.topology(count)
  if topo is None:
    raise JaxirError(f"--gpu {name}: {count} GPUs is neither one host (1-8) nor whole hosts of 8")
  from jax.experimental import topologies
  try:
    devices = topologies.get_topology_desc(platform="cuda", target_config=gpu_targets.target_config(kind),
                                           topology=topo).devices
  except Exception as e:  # no CUDA plugin: jax has no 'cuda' topology to make
    import jax
    reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
    raise JaxirError(f"--gpu {name}: jax {jax.__version__} here cannot compile for a GPU it does not have: deviceless"
                     " GPU compilation needs the CUDA PJRT plugin (pip install -r requirements-gpu-plan.txt), which"
                     f" registers the 'cuda' topology that takes an XLA GPU target_config (jax says: {reason})") from None
  raw = os.environ.get("XLA_PYTHON_CLIENT_MEM_FRACTION", str(gpu_targets.DEFAULT_MEM_FRACTION))
  try:
    fraction = float(raw)
  except ValueError:
    fraction = math.nan
  if not 0 < fraction <= 1:
    raise JaxirError(f"XLA_PYTHON_CLIENT_MEM_FRACTION={raw!r} must be a number in (0, 1]")
  return Target(name, devices, kind, count, len({d.process_index for d in devices}), GPU_PEAK_FLOPS[kind],
                int(gpu_targets.device_memory(kind) * fraction), gpu_targets.bandwidth(kind), memory_fraction=fraction)


def measure_cpu(seconds=0.5):
  """(FLOP/s of a float32 matmul, bytes/s of a large copy) on this CPU: the CPU roofline's peaks."""
  import jax
  import jax.numpy as jnp
  import numpy as np
  n = 1024
  a = jnp.ones((n, n), jnp.float32)
  mm = jax.jit(lambda x: x @ x)
  mm(a).block_until_ready()
  reps, t0 = 0, time.perf_counter()
  while time.perf_counter() - t0 < seconds:
    mm(a).block_until_ready()
    reps += 1
  flops = 2 * n ** 3 * reps / (time.perf_counter() - t0)
  src = np.ones(64 * 2 ** 20 // 8)
  dst = np.zeros_like(src)
  np.copyto(dst, src)        # page faults out of the timing
  reps, t0 = 0, time.perf_counter()
  while time.perf_counter() - t0 < seconds / 2:
    np.copyto(dst, src)
    reps += 1
  bandwidth = 2 * src.nbytes * reps / (time.perf_counter() - t0)   # read + write
  return flops, bandwidth


def _cpu_target(peak_flops=None, bandwidth=None):
  import jax
  devices = jax.devices("cpu")
  if peak_flops is None or bandwidth is None:
    f, b = measure_cpu()
    peak_flops, bandwidth = peak_flops or f, bandwidth or b
  memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
  return Target("cpu", devices, "cpu", len(devices), 1, peak_flops, memory, bandwidth)


def target(topology=None, gpu=None, peak_flops=None, hbm_bandwidth=None, hbm_bytes=None):
  """The `Target` of `--topology` (cpu or a TPU slice) or `--gpu`; the flags override its figures."""
  if (topology is None) == (gpu is None):
    raise JaxirError("give one of --topology (cpu, v5e:2x2, ...) or --gpu (h100x8, ...)")
  if gpu is not None:
    t = _gpu_target(gpu)
  elif topology == "cpu":
    t = _cpu_target(peak_flops, hbm_bandwidth)
  else:
    t = _tpu_target(topology)
  for flag, value in (("--peak-flops", peak_flops), ("--hbm-bandwidth", hbm_bandwidth), ("--hbm-bytes", hbm_bytes)):
    if value is not None and not (math.isfinite(value) and value > 0):
      raise JaxirError(f"{flag} must be a positive number, got {value!r}")
  t.peak_flops = peak_flops or t.peak_flops
  t.hbm_bandwidth = hbm_bandwidth or t.hbm_bandwidth
  t.hbm_bytes = hbm_bytes or t.hbm_bytes
  return t


# ---------------------------------------------------------------- model and batch

def model_config(cfg, model_config_arg=None):
  """The model config to plan: `--model-config` (a config.json path or a known name), else
  `model.name`'s config.json."""
  from jaxir import storage
  from jaxir.model.config import EncoderConfig
  from jaxir.model.known_configs import KNOWN, known_config
  source = model_config_arg
  if source is None:
    path = Path(cfg.model.name) / "config.json"
    if not path.is_file():
      raise JaxirError(f"model.name {cfg.model.name!r} has no config.json here: give --model-config FILE or one of "
                       f"{', '.join(KNOWN)}")
    return EncoderConfig.from_hf(storage.read_json(path, "model config"), path), str(path)
  path = Path(source)
  if path.is_dir():
    path = path / "config.json"
  if path.is_file():
    return EncoderConfig.from_hf(storage.read_json(path, "model config"), path), str(path)
  if os.sep in source or source.endswith(".json"):
    raise JaxirError(f"--model-config: no file {path}")
  return EncoderConfig.from_hf(known_config(source), f"known config {source}"), source


def compute_dtype(name, target):
  """model.dtype for the target: 'auto' is float32 on the CPU, bfloat16 on TPU / GPU."""
  import jax.numpy as jnp
  from jaxir.train import step as step_lib
  if name == "auto":
    return jnp.float32 if target.kind == "cpu" else jnp.bfloat16
  return step_lib.compute_dtype(name)


def _local_data_shards(mesh, process=0):
  import numpy as np
  rows = np.asarray([[d.process_index == process for d in row] for row in mesh.devices])
  return int(rows.any(axis=1).sum())


def batch_shapes(cfg, mesh, hosts, query_tokens=None, passage_tokens=None):
  """{key: shape} of the global batch the pipeline feeds the step (padded at the maximum lengths, or
  packed from texts of `query_tokens` / `passage_tokens`, default the maximum lengths: the worst case)."""
  import numpy as np
  from jaxir.data import packed as packed_lib
  from jaxir.data import pipeline
  d, b = cfg.data, cfg.batch
  n, k, data = int(b.batch_size), int(d.hard_negatives), mesh.shape["data"]
  if n % data or n % hosts:
    raise JaxirError(f"batch.batch_size={n} must be a multiple of the {data} devices of the data axis"
                     f" and of the {hosts} hosts")
  lq, lp = int(d.max_query_length), int(d.max_passage_length)
  pipeline.buckets(lq), pipeline.buckets(lp)
  if not b.pack:
    out = {"query_ids": (n, lq), "query_mask": (n, lq), "passage_ids": (n, lp), "passage_mask": (n, lp)}
    if k:
      out["negative_ids"] = out["negative_mask"] = (n * k, lp)
    return out
  qt, pt = int(query_tokens or lq), int(passage_tokens or lp)
  for flag, v, top in (("--query-tokens", qt, lq), ("--passage-tokens", pt, lp)):
    if not 2 <= v <= top:
      raise JaxirError(f"{flag}={v} must be in 2..{top} (data.max_query_length / max_passage_length)")
  per_host = n // hosts
  texts = lambda count, length: [np.ones(length, np.int32)] * count
  host = (texts(per_host, qt), texts(per_host, pt), texts(per_host * k, pt))
  from jaxir import config as config_lib
  local = _local_data_shards(mesh)
  multiple = local * config_lib.grad_cache_chunks(cfg)        # as the trainer's pipeline pads rows
  arrays = packed_lib.pack([host], 0, max(lq, lp), 0, multiple)   # every host packs the same shapes
  rows = arrays["packed_ids"].shape[0] * data // local
  out = {key: (rows, max(lq, lp)) for key in packed_lib.KEYS[:3]}
  out.update(query_slot=(n,), passage_slot=(n,))
  if k:
    out["negative_slot"] = (n * k,)
  return out


# ---------------------------------------------------------------- compile and measure

def _cost(compiled):
  """XLA's cost analysis of the compiled step on one device. A deviceless GPU executable gives none; its
  optimized HLO module (fusions and all) is then analysed by the host's CPU client, which counts the same
  HloCostAnalysis (FLOPs of dots and elementwise ops, bytes at fusion boundaries)."""
  cost = compiled.cost_analysis()
  if isinstance(cost, (list, tuple)):
    cost = cost[0] if cost else {}
  if cost:
    return cost, "xla"
  try:
    import jax
    from jax._src.lib import xla_client
    module = compiled.runtime_executable().hlo_modules()[0]
    return dict(xla_client._xla.hlo_module_cost_analysis(jax.devices("cpu")[0].client, module)), "hlo module, on the host"
  except Exception:   # a jax without that entry point: no figures rather than wrong ones
    return {}, "none"


def _figures(compiled):
  mem = compiled.memory_analysis()
  cost, source = _cost(compiled)
  m = {k: int(getattr(mem, f"{k}_size_in_bytes", 0) or 0) for k in ("argument", "output", "alias", "temp")}
  text = compiled.as_text() or ""
  counts = {c: 0 for c in COLLECTIVES}
  for op in _COLLECTIVE.findall(text):
    counts[op] += 1
  return {"hbm_bytes_per_chip": m["argument"] + m["temp"] + m["output"] - m["alias"],
          "memory": {f"{k}_bytes": v for k, v in m.items()},
          "flops_per_step": float(cost.get("flops", 0.0)),
          "bytes_per_step": float(cost.get("bytes accessed", 0.0)),
          "collectives": counts, "cost_source": source}


def _out_of_memory(message):
  """The figures of a step XLA refused to compile for lack of HBM: the memory it named (a lower bound)."""
  line = next((l for l in message.splitlines() if "RESOURCE_EXHAUSTED" in l), message.splitlines()[0])
  m = re.search(r"required for [^(]*\(([\d.]+)([KMGT])\)", line)
  need = float(m.group(1)) * 2 ** (10 * "KMGT".index(m.group(2)) + 10) if m else 0.0
  return {"hbm_bytes_per_chip": int(need), "out_of_memory": line.strip()[:300], "memory": {},
          "flops_per_step": 0.0, "bytes_per_step": 0.0, "collectives": {}}


def _roofline(fig, t):
  """Per-device figures -> per-chip (v4/v5p list both TensorCores) and the roofline time of one step."""
  if "out_of_memory" in fig:
    fig["step_seconds_roofline"] = None
    return fig
  chip_flops, chip_bytes = fig["flops_per_step"] * t.per_chip, fig["bytes_per_step"] * t.per_chip
  fig["hbm_bytes_per_chip"] *= t.per_chip
  fig["flops_per_step"], fig["bytes_per_step"] = chip_flops, chip_bytes
  # no cost analysis at all (see `_cost`): no prediction, rather than a step of 0 s
  fig["step_seconds_roofline"] = (max(chip_flops / t.peak_flops, chip_bytes / t.hbm_bandwidth)
                                  if chip_flops or chip_bytes else None)
  return fig


def _abstract(shapes, sharding):
  import jax
  import jax.numpy as jnp
  return {k: jax.ShapeDtypeStruct(s, jnp.int32, sharding=sharding) for k, s in shapes.items()}


def _compiled_afresh():
  """JAX's persistent compilation cache off for the block: `compile_seconds` is a compile's time, never a cache
  read's (a user's JAX_COMPILATION_CACHE_DIR would otherwise turn a second plan of a cell into a lookup)."""
  return backends.jax_cache_settings(jax_enable_compilation_cache=False)


def compile_train(cfg, encoder_config, t, query_tokens=None, passage_tokens=None, keep=None):
  """The compiled train step's figures for `cfg` on target `t` (no roofline yet); `keep` (a dict), when
  given, receives the compiled step, its mesh, encoder and batch shapes (benchmarks run it)."""
  from jaxir.model.encoder import Encoder
  from jaxir.train import mesh as mesh_lib
  from jaxir.train import state as state_lib
  from jaxir.train import step as step_lib
  mesh = mesh_lib.make_mesh(cfg.mesh, t.devices)
  dtype = compute_dtype(cfg.model.dtype, t)
  encoder = Encoder(encoder_config, dtype=dtype)
  shapes = batch_shapes(cfg, mesh, t.hosts, query_tokens, passage_tokens)
  batch = _abstract(shapes, mesh_lib.batch_sharding(mesh))
  state = state_lib.sharded_abstract_state(encoder, cfg, mesh)
  start = time.perf_counter()
  try:
    with _compiled_afresh():
      compiled = step_lib.make_train_step(encoder, cfg, mesh).lower(state, batch).compile()
  except Exception as e:   # XLA's TPU compiler refuses a program that cannot fit in HBM
    if "RESOURCE_EXHAUSTED" not in str(e):
      raise
    fig = _out_of_memory(str(e))
  else:
    fig = _figures(compiled)
  fig["compile_seconds"] = round(time.perf_counter() - start, 2)
  if keep is not None and "out_of_memory" not in fig:
    keep.update(compiled=compiled, mesh=mesh, encoder=encoder, shapes=shapes)
  if cfg.loss.grad_cache_chunk and "out_of_memory" not in fig:
    extra = grad_cache_loop_cost(cfg, encoder_config, shapes, len(t.devices), mesh.shape["model"])
    fig["cost_counted_by_xla"] = {"flops": fig["flops_per_step"], "bytes": fig["bytes_per_step"]}
    fig["grad_cache_loop_estimate"] = extra
    fig["flops_per_step"] += extra["flops"]
    fig["bytes_per_step"] += extra["bytes"]
  fig["mesh"] = {"data": mesh.shape["data"], "model": mesh.shape["model"]}
  fig["dtype"] = str(dtype.dtype if hasattr(dtype, "dtype") else dtype.__name__)
  fig["batch_shapes"] = {k: list(v) for k, v in shapes.items()}
  fig["tokens_per_step"] = sum(math.prod(v) for k, v in shapes.items() if k.endswith("_ids"))
  return fig


def grad_cache_loop_cost(cfg, enc, shapes, devices, model):
  """Per-device FLOPs and bytes of the GradCache chunks XLA's cost analysis leaves out.

  XLA counts a while loop's body once, and GradCache embeds (`lax.map`) and back-propagates (`lax.scan`)
  n chunks per tower (padded batches: rows / chunk; packed: the packed rows in batch / chunk chunks): the other
  n - 1 chunks are added here, estimated: a chunk's forward is the model
  family's FLOPs per token (`Family.flops_per_token`), and it runs three times (embed, recompute, backward =
  2 forwards); each chunk reads the parameters twice and reads and writes the float32 gradient accumulator
  (5 x the parameter bytes on this device).
  """
  import jax
  from jaxir import config as config_lib
  from jaxir.model import families
  from jaxir.model.encoder import Encoder
  from jaxir.train import state as state_lib
  c = int(cfg.loss.grad_cache_chunk)
  params = sum(math.prod(x.shape) for x in jax.tree.leaves(jax.eval_shape(lambda: state_lib.init_params(Encoder(enc)))))
  flops_per_token = families.of_config(enc).flops_per_token
  flops = bytes_ = 0.0
  for ids in ("query_ids", "passage_ids", "negative_ids", "packed_ids"):
    if ids not in shapes:
      continue
    rows, length = shapes[ids]
    chunks = config_lib.chunk_count(shapes["query_slot"][0] if ids == "packed_ids" else rows, c)
    loops = chunks - 1
    per_token = flops_per_token(enc, length)
    flops += loops * 4 * per_token * (rows // chunks) * length / devices
    bytes_ += loops * 5 * 4 * params / model
  return {"flops": flops, "bytes": bytes_, "note": "XLA counts each GradCache loop body once; the other chunks"
          " are estimated (jaxir.plan.grad_cache_loop_cost)"}


def compile_encode(encoder_config, dtype_name, t, tokens_per_batch=8192):
  """The compiled encode step (`encode.packed_embed_fn` over rows of `ENCODE_ROW` tokens, params
  replicated, rows over all devices, as `encode.Embedder` runs it) and its figures."""
  import jax
  from jax.sharding import NamedSharding, PartitionSpec as P
  from jaxir import encode
  from jaxir.data import packed as packed_lib
  from jaxir.model.encoder import Encoder
  from jaxir.train import state as state_lib
  n = len(t.devices)
  mesh = jax.make_mesh((n,), ("data",), axis_types=(jax.sharding.AxisType.Auto,), devices=t.devices)
  dtype = compute_dtype(dtype_name, t)
  model = Encoder(encoder_config, dtype=dtype)
  row = min(ENCODE_ROW, encoder_config.max_length)
  rows = -(-max(1, tokens_per_batch // row) // n) * n
  params = jax.eval_shape(lambda: state_lib.init_params(model))
  rep = NamedSharding(mesh, P())
  params = jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=rep), params)
  batch = _abstract({"ids": (rows, row), "seg": (rows, row), "pos": (rows, row)}, NamedSharding(mesh, P("data")))
  segments = packed_lib.segments(row)
  start = time.perf_counter()
  fn = jax.jit(encode.packed_embed_fn(model), static_argnums=4)
  with _compiled_afresh():
    compiled = fn.lower(params, batch["ids"], batch["seg"], batch["pos"], segments).compile()
  fig = _figures(compiled)
  fig["compile_seconds"] = round(time.perf_counter() - start, 2)
  fig["rows"], fig["row_length"] = rows, row
  fig = _roofline(fig, t)
  fig["tokens_per_second"] = rows * row / fig["step_seconds_roofline"] if fig["step_seconds_roofline"] else None
  fig["fits"] = fig["hbm_bytes_per_chip"] <= t.hbm_bytes
  del fig["memory"]
  return fig


def plan(cfg, t, encoder_config, model_source="", query_tokens=None, passage_tokens=None, encode=True, keep=None):
  """The plan record (a JSON-able dict) of one train config on target `t` (`keep`: see `compile_train`)."""
  fig = _roofline(compile_train(cfg, encoder_config, t, query_tokens, passage_tokens, keep), t)
  s = fig["step_seconds_roofline"]
  out = {"fits": "out_of_memory" not in fig and fig["hbm_bytes_per_chip"] <= t.hbm_bytes, "topology": t.name, "kind": t.kind,
         "chips": t.chips, "devices": len(t.devices), "hosts": t.hosts,
         "hbm_capacity_bytes": int(t.hbm_bytes), "peak_flops_per_chip": t.peak_flops,
         "hbm_bandwidth_bytes_per_second": t.hbm_bandwidth, "model_config": model_source,
         "model": {"layers": encoder_config.num_layers, "hidden": encoder_config.hidden_size,
                   "vocab": encoder_config.vocab_size},
         "batch": int(cfg.batch.batch_size), "packed": bool(cfg.batch.pack),
         "grad_cache_chunk": cfg.loss.grad_cache_chunk, "hard_negatives": int(cfg.data.hard_negatives)}
  if t.memory_fraction is not None:
    out["memory_fraction"] = t.memory_fraction
  out.update(fig)
  out["pairs_per_second"] = cfg.batch.batch_size / s if s else None
  out["tokens_per_second"] = fig["tokens_per_step"] / s if s else None
  if encode:
    out["encode"] = compile_encode(encoder_config, cfg.model.dtype, t)
  return out


# ---------------------------------------------------------------- --fit

def _with(cfg, **changes):
  import copy
  c = copy.deepcopy(cfg)
  for key, value in changes.items():
    section, name = key.split("__")
    setattr(getattr(c, section), name, value)
  return c


def largest_fitting(cfg, t, encoder_config, unit, limit, grad_cache_chunk=None, log=None, **kw):
  """(largest global batch, a multiple of `unit` up to `limit`, whose step fits; its plan) or (0, the smallest's plan):
  doubling, then bisection."""
  cache = {}

  def fits(b):
    if b not in cache:
      c = _with(cfg, batch__batch_size=b, loss__grad_cache_chunk=grad_cache_chunk)
      cache[b] = plan(c, t, encoder_config, encode=False, **kw)
      if log:
        r = cache[b]
        log(f"plan: batch {b}{' (GradCache chunk %d)' % grad_cache_chunk if grad_cache_chunk else ''}: "
            f"{_gib(r['hbm_bytes_per_chip'])} per chip, {'fits' if r['fits'] else 'does not fit'}")
    return cache[b]["fits"]

  if not fits(unit):
    return 0, cache[unit]
  lo = unit
  while lo * 2 <= limit and fits(lo * 2):
    lo *= 2
  hi = lo * 2
  if hi > limit:
    return lo, cache[lo]
  while hi - lo > unit:       # fits(lo), not fits(hi)
    mid = (lo + hi) // 2 // unit * unit
    if fits(mid):
      lo = mid
    else:
      hi = mid
  return lo, cache[lo]


def fit(cfg, t, encoder_config, chunk_per_device=8, limit=2 ** 20, log=None, **kw):
  """The largest fitting global batch, plain and with GradCache (chunk = `chunk_per_device` x the data axis)."""
  from jaxir.train import mesh as mesh_lib
  data = mesh_lib.make_mesh(cfg.mesh, t.devices).shape["data"]
  unit = data * t.hosts // math.gcd(data, t.hosts)
  plain, plain_plan = largest_fitting(cfg, t, encoder_config, unit, limit, log=log, **kw)
  chunk = chunk_per_device * data
  chunk = chunk * t.hosts // math.gcd(chunk, t.hosts)
  cached, cached_plan = largest_fitting(cfg, t, encoder_config, chunk, limit, grad_cache_chunk=chunk, log=log, **kw)
  out = {"topology": t.name, "hbm_capacity_bytes": int(t.hbm_bytes), "data_axis": data,
         "plain": {"batch": plain, "plan": plain_plan},
         "grad_cache": {"batch": cached, "chunk": chunk, "plan": cached_plan}}
  if not plain and not cached:
    state = cached_plan["memory"].get("argument_bytes", 0) * t.per_chip
    knob = ("mesh.model (shard the parameters and optimizer state: they alone take "
            f"{_gib(state)} per chip)" if state > t.hbm_bytes else
            f"loss.grad_cache_chunk with a smaller chunk than {chunk}, or mesh.model")
    out["hint"] = f"nothing fits in {_gib(t.hbm_bytes)} per chip; try {knob}"
  elif not plain:
    out["hint"] = f"no plain batch fits; use loss.grad_cache_chunk={chunk}"
  return out


# ---------------------------------------------------------------- command line

def _gib(n):
  return f"{n / GiB:.2f} GiB" if n >= GiB / 10 else f"{n / 2 ** 20:.2f} MiB"


def summary(r):
  s = r["step_seconds_roofline"]
  pps = f"{r['pairs_per_second']:,.0f} pairs/s" if r.get("pairs_per_second") else "- pairs/s"
  return (f"{r['topology']} ({r['chips']} chips, {r['hosts']} host{'s' if r['hosts'] != 1 else ''}, mesh "
          f"{r['mesh']['data']}x{r['mesh']['model']}), batch {r['batch']} {r['dtype']}"
          f"{' packed' if r['packed'] else ' padded'}{', GradCache %d' % r['grad_cache_chunk'] if r['grad_cache_chunk'] else ''}: "
          f"{'fits' if r['fits'] else 'DOES NOT FIT'}, {_gib(r['hbm_bytes_per_chip'])} of {_gib(r['hbm_capacity_bytes'])} "
          f"HBM per chip, {r['flops_per_step'] / 1e12:.3g} TFLOP/step, roofline "
          f"{f'{s * 1e3:.3g} ms/step' if s else '- (no cost analysis)'}, {pps} "
          f"(compile {r['compile_seconds']:.0f} s){_encode_summary(r.get('encode'))}")


def _encode_summary(e):
  if not e:
    return ""
  rate = f"{e['tokens_per_second']:,.0f}" if e["tokens_per_second"] else "-"
  return (f"; encode {e['rows']}x{e['row_length']} tokens: {'fits' if e['fits'] else 'DOES NOT FIT'}, "
          f"{_gib(e['hbm_bytes_per_chip'])}, {rate} tokens/s")


def register(sub):
  p = sub.add_parser("plan", help="compile the train step for a TPU slice / GPU / this CPU: fits? how fast?")
  p.add_argument("--topology", help="cpu, or a TPU slice KIND:AxB[xC] (v5e:2x2, v4:2x2x1, v5p:2x2x2, v6e:4x4)")
  p.add_argument("--gpu", help="KINDxN (h100x8, h200x8, a100x8): deviceless GPU compilation, where jax supports it")
  p.add_argument("--config", help="experiments/*.py or *.yaml (as for jaxir train), or a sweep preset: its training")
  p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="e.g. batch.batch_size=1024 mesh.model=2")
  p.add_argument("--model-config", help="a config.json (or model directory), or a known name: e5-small, "
                                         "xlm-roberta-base, xlm-roberta-large, labse, qwen3-embedding-0.6b"
                                         " (default: model.name's)")
  p.add_argument("--json", metavar="OUT", help="write the plan record here")
  p.add_argument("--fit", action="store_true", help="find the largest global batch that fits, plain and with GradCache")
  p.add_argument("--chunk-per-device", type=int, default=8, help="--fit: GradCache chunk per data-axis device")
  p.add_argument("--max-batch", type=int, default=2 ** 20, help="--fit: largest batch tried")
  p.add_argument("--query-tokens", type=int, help="packed: typical query length (default: data.max_query_length)")
  p.add_argument("--passage-tokens", type=int, help="packed: typical passage length (default: data.max_passage_length)")
  p.add_argument("--hbm-bytes", type=float, help="override the memory capacity per chip")
  p.add_argument("--peak-flops", type=float, help="override the peak FLOP/s per chip (cpu: measured otherwise)")
  p.add_argument("--hbm-bandwidth", type=float, help="override the memory bandwidth per chip, bytes/s")
  p.add_argument("--no-encode", action="store_true", help="skip compiling the encode step")
  p.set_defaults(func=_run)


def _run(args):
  from jaxir import api, storage
  cfg = api.cell_train_config(args.config, args.overrides)
  encoder_config, source = model_config(cfg, args.model_config)
  for flag in ("chunk_per_device", "max_batch"):
    if getattr(args, flag) < 1:
      raise JaxirError(f"--{flag.replace('_', '-')} must be positive, got {getattr(args, flag)}")
  t = target(args.topology, args.gpu, args.peak_flops, args.hbm_bandwidth, args.hbm_bytes)
  kw = dict(query_tokens=args.query_tokens, passage_tokens=args.passage_tokens)
  if args.fit:
    log = lambda line: print(line, file=sys.stderr)
    r = fit(cfg, t, encoder_config, args.chunk_per_device, args.max_batch, log=log, **kw)
    if args.json:
      storage.write_json(args.json, r)
    print(f"plan --fit {t.name}: largest batch {r['plain']['batch']} plain, {r['grad_cache']['batch']} with "
          f"GradCache (chunk {r['grad_cache']['chunk']}), capacity {_gib(t.hbm_bytes)} per chip")
    if "hint" in r:
      print(f"plan: {r['hint']}", file=sys.stderr)
    return 1 if not r["plain"]["batch"] and not r["grad_cache"]["batch"] else 0
  r = plan(cfg, t, encoder_config, source, encode=not args.no_encode, **kw)
  if args.json:
    storage.write_json(args.json, r)
  if not r["fits"]:
    print(f"plan: does not fit: {'at least ' if 'out_of_memory' in r else ''}{_gib(r['hbm_bytes_per_chip'])} HBM per chip needed, {_gib(r['hbm_capacity_bytes'])}"
          f" available on {t.name} at batch {r['batch']} (try loss.grad_cache_chunk or mesh.model; --fit finds the"
          " largest batch)", file=sys.stderr)
    return 1
  print(f"plan: {summary(r)}")
  return 0

"""XLA GPU target configs: what `jaxir plan --gpu` compiles for when the GPU is not in this machine.

A deviceless GPU compile (`jax.experimental.topologies.get_topology_desc(platform="cuda",
target_config=..., topology=...)`) needs the CUDA PJRT plugin (`jax-cuda13-plugin`, `jax-cuda13-pjrt`;
no NVIDIA libraries and no GPU) and a `stream_executor.GpuTargetConfigProto` in text form describing the
device. The figures below are copied from XLA's own specs, openxla/xla
`xla/backends/gpu/target_config/specs/{h100_sxm,h200,a100_sxm_80}.txtpb` (commits 0774019, 4336d12),
limited to the fields every jaxlib since 0.4.3x parses (newer spec files add fields an older proto
rejects). `hbm_bytes` is the device's memory as the driver reports it; `jaxir plan` plans against the
share JAX's allocator takes of it (`XLA_PYTHON_CLIENT_MEM_FRACTION`, 0.75 by default).
"""

# kind: (device name, SM count, FP32 units per SM, HBM bytes/s, L2 bytes, SM clock GHz, HBM bytes,
#        shared memory per SM, opt-in shared memory per block, compute capability (major, minor))
SPECS = {
    "h100": ("NVIDIA H100 80GB HBM3", 132, 128, 3352320000000, 52428800, 1.98, 84942979072, 233472, 232448, (9, 0)),
    "h200": ("NVIDIA H200 141GB HBM3e", 132, 128, 4800000000000, 52428800, 1.98, 151397597184, 233472, 232448, (9, 0)),
    "a100": ("NVIDIA A100-SXM4-80GB", 108, 64, 2039040000000, 41943040, 1.41, 85100068864, 167936, 166912, (8, 0)),
}
KINDS = tuple(SPECS)
DEFAULT_MEM_FRACTION = 0.75      # JAX's GPU allocator takes this share of the device unless told otherwise


def target_config(kind):
  """The text-format GpuTargetConfigProto of a GPU kind."""
  name, sms, fpus, bandwidth, l2, clock, memory, smem_core, smem_optin, (major, minor) = SPECS[kind]
  return f"""gpu_device_info {{
  threads_per_block_limit: 1024
  threads_per_warp: 32
  shared_memory_per_block: 49152
  shared_memory_per_core: {smem_core}
  threads_per_core_limit: 2048
  core_count: {sms}
  fpus_per_core: {fpus}
  block_dim_limit_x: 2147483647
  block_dim_limit_y: 65535
  block_dim_limit_z: 65535
  memory_bandwidth: {bandwidth}
  l2_cache_size: {l2}
  clock_rate_ghz: {clock}
  device_memory_size: {memory}
  shared_memory_per_block_optin: {smem_optin}
  cuda_compute_capability {{ major: {major} minor: {minor} }}
  registers_per_core_limit: 65536
  registers_per_block_limit: 65536
}}
platform_name: "CUDA"
dnn_version_info {{ major: 9 minor: 8 }}
device_description_str: "{name}"
"""


def device_memory(kind):
  """The device memory in bytes, as the driver reports it."""
  return SPECS[kind][6]


def bandwidth(kind):
  """The device's HBM bandwidth in bytes/s, as XLA's spec gives it."""
  return SPECS[kind][3]


def topology(count, per_host=8):
  """The CUDA topology string (slices x hosts x GPUs per host) of `count` GPUs: one host up to `per_host`,
  else whole hosts of `per_host` (a multi-node job); None for a count that does not split so."""
  if 1 <= count <= per_host:
    return f"1x1x{count}"
  if count % per_host == 0:
    return f"1x{count // per_host}x{per_host}"
  return None

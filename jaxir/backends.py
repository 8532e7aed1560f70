"""Which JAX backend a host runs on, settled before JAX starts.

`libtpu` (the `[tpu]` extra, for `jaxir plan`'s compile-only TPU devices) may be installed on a host
without TPU chips: a laptop or CI runner planning a pod launch. JAX would then try the TPU backend
first, print libtpu's warnings on every command and take libtpu's lock file (/tmp/libtpu_lockfile),
so a second jaxir process could not compile for a TPU topology. Likewise the CUDA plugin
(requirements-gpu-plan.txt, for `jaxir plan --gpu`) on a host without GPUs: JAX would fail to find CUDA
libraries and print a traceback on every command. On such a host, unless the user set JAX_PLATFORMS,
jaxir runs on the CPU (a TPU VM or a host with GPUs keeps JAX's own choice) and lets several processes
load libtpu for compiling.
"""
import contextlib
import glob
import importlib.util
import os
import sys

_TPU_DEVICE_FILES = ("/dev/accel*", "/dev/vfio/[0-9]*")      # v2-v4 chips; v5e / v5p / v6e chips
_GPU_PLUGINS = ("jax_cuda12_plugin", "jax_cuda13_plugin", "jax_rocm60_plugin", "jax_rocm7_plugin")
_GPU_DEVICE_FILES = ("/dev/nvidia[0-9]*", "/dev/dxg", "/dev/kfd")


def _installed(name):
  try:
    return importlib.util.find_spec(name) is not None
  except (ImportError, ValueError):
    return False


def tpu_chips():
  """Whether this host has TPU chips (a TPU VM)."""
  return any(glob.glob(p) for p in _TPU_DEVICE_FILES)


def gpu_devices():
  """Whether this host shows GPUs (NVIDIA device files, WSL2's GPU bridge, AMD's kernel driver)."""
  return any(glob.glob(p) for p in _GPU_DEVICE_FILES)


def settle():
  """Sets JAX_PLATFORMS=cpu on a host with libtpu or a GPU plugin but neither TPU chips nor GPUs (a laptop or CI
  runner planning a launch: `jaxir plan`), unless JAX_PLATFORMS is set, and ALLOW_MULTIPLE_LIBTPU_LOAD=1 where
  libtpu is installed; does nothing elsewhere. Call before JAX is imported."""
  if "JAX_PLATFORMS" in os.environ:
    return
  tpu_lib, gpu_plugin = _installed("libtpu"), any(_installed(p) for p in _GPU_PLUGINS)
  if not (tpu_lib or gpu_plugin):
    return
  if (tpu_lib and tpu_chips()) or (gpu_plugin and gpu_devices()):
    return                                     # a TPU VM or a GPU host: JAX's own choice
  if tpu_lib:
    os.environ.setdefault("ALLOW_MULTIPLE_LIBTPU_LOAD", "1")
  # the CPU; a CUDA plugin still registers its 'cuda' topology for deviceless compiles, without checking for
  # CUDA libraries it will not use
  os.environ["JAX_PLATFORMS"] = "cpu"


@contextlib.contextmanager
def jax_cache_settings(**settings):
  """JAX's persistent-compilation-cache `settings` (config keys: jax_compilation_cache_dir, ...) for the block,
  their former values after it. JAX decides once per process whether and where its cache is used, so the cache
  is reset on entry and on exit for the settings to take effect."""
  import jax
  from jax.experimental.compilation_cache import compilation_cache
  was = {k: getattr(jax.config, k) for k in settings}
  for k, v in settings.items():
    jax.config.update(k, v)
  compilation_cache.reset_cache()
  try:
    yield
  finally:
    for k, v in was.items():
      jax.config.update(k, v)
    compilation_cache.reset_cache()


CACHE_MAX_BYTES = 8 << 30


def host_cache_dir():
  """jaxir's persistent compilation cache on this host (`jaxir train`'s): $XDG_CACHE_HOME/jaxir/xla, by default
  ~/.cache/jaxir/xla."""
  root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
  return os.path.join(root, "jaxir", "xla")


@contextlib.contextmanager
def compilation_cache(path):
  """Points JAX's persistent compilation cache at `path` for the block, at most CACHE_MAX_BYTES (least recently
  used entries go first), unless the user chose a cache (JAX_COMPILATION_CACHE_DIR) or turned JAX's off
  (JAX_ENABLE_COMPILATION_CACHE=false). With a size limit JAX's cache takes a file lock for every read and write;
  without one it writes entries in place, unlocked, and a process sharing the directory could read an entry
  another is still writing. A local `path` that cannot be written leaves the block without a cache (one line
  on stderr): the cache saves compile time, it is never needed."""
  import jax
  if jax.config.jax_compilation_cache_dir or not jax.config.jax_enable_compilation_cache:
    yield
    return
  if "://" not in str(path):
    try:
      os.makedirs(path, exist_ok=True)
      usable = os.access(path, os.W_OK | os.X_OK)
    except OSError:
      usable = False
    if not usable:
      print(f"jaxir: no compilation cache ({path} cannot be written; set JAX_COMPILATION_CACHE_DIR to choose one)",
            file=sys.stderr)
      yield
      return
  settings = {"jax_compilation_cache_dir": str(path),
              "jax_persistent_cache_min_compile_time_secs": 0.0}    # the encoder's many small shapes too
  if jax.config.jax_compilation_cache_max_size == -1:                # JAX's default: no limit, no lock
    settings["jax_compilation_cache_max_size"] = CACHE_MAX_BYTES
  with jax_cache_settings(**settings):
    yield

"""Which JAX backend a host runs on, settled before JAX starts.

`libtpu` (the `[tpu]` extra, for `jaxir plan`'s compile-only TPU devices) may be installed on a host
without TPU chips: a laptop or CI runner planning a pod launch. JAX would then try the TPU backend
first, print libtpu's warnings on every command and take libtpu's lock file (/tmp/libtpu_lockfile),
so a second jaxir process could not compile for a TPU topology. On such a host, unless the user set
JAX_PLATFORMS, jaxir runs on the CPU (a host with a GPU plugin keeps JAX's own choice) and lets several
processes load libtpu for compiling.
"""
import glob
import importlib.util
import os

_TPU_DEVICE_FILES = ("/dev/accel*", "/dev/vfio/[0-9]*")      # v2-v4 chips; v5e / v5p / v6e chips
_GPU_PLUGINS = ("jax_cuda12_plugin", "jax_cuda13_plugin", "jax_rocm60_plugin", "jax_rocm7_plugin")


def _installed(name):
  try:
    return importlib.util.find_spec(name) is not None
  except (ImportError, ValueError):
    return False


def tpu_chips():
  """Whether this host has TPU chips (a TPU VM)."""
  return any(glob.glob(p) for p in _TPU_DEVICE_FILES)


def settle():
  """Sets JAX_PLATFORMS=cpu (and ALLOW_MULTIPLE_LIBTPU_LOAD=1) on a host with libtpu but no TPU chips and
  no GPU plugin, unless JAX_PLATFORMS is set; does nothing elsewhere. Call before JAX is imported."""
  if "JAX_PLATFORMS" in os.environ or not _installed("libtpu"):
    return
  if tpu_chips():
    return
  os.environ.setdefault("ALLOW_MULTIPLE_LIBTPU_LOAD", "1")
  if not any(_installed(p) for p in _GPU_PLUGINS):
    os.environ["JAX_PLATFORMS"] = "cpu"

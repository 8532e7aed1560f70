"""jaxir.backends.settle: a host with libtpu or a CUDA plugin but no TPU chips or GPUs runs on the CPU unless the
user chose."""
import pytest

from jaxir import backends


@pytest.mark.parametrize("installed, chips, gpus, env, want", [
    ({"libtpu"}, False, False, {}, "cpu"),                                  # a laptop / CI runner with the [tpu] extra
    ({"libtpu"}, True, False, {}, None),                                    # a TPU VM: JAX picks the TPU
    ({"libtpu", "jax_cuda13_plugin"}, False, True, {}, None),               # a GPU host: JAX's own choice
    ({"jax_cuda13_plugin"}, False, True, {}, None),
    ({"jax_cuda13_plugin"}, False, False, {}, "cpu"),                       # planning GPUs on a host without any
    ({"libtpu", "jax_cuda13_plugin"}, False, False, {}, "cpu"),
    (set(), False, False, {}, None),                                        # neither: nothing to settle
    ({"libtpu"}, False, False, {"JAX_PLATFORMS": "tpu"}, "tpu"),            # the user's choice stands
    ({"jax_cuda13_plugin"}, False, False, {"JAX_PLATFORMS": "cuda"}, "cuda"),
])
def test_settle(monkeypatch, installed, chips, gpus, env, want):
  monkeypatch.delenv("JAX_PLATFORMS", raising=False)
  monkeypatch.delenv("ALLOW_MULTIPLE_LIBTPU_LOAD", raising=False)
  for k, v in env.items():
    monkeypatch.setenv(k, v)
  monkeypatch.setattr(backends, "_installed", lambda name: name in installed)

  def glob(pattern):
    if chips and "vfio" in pattern:
      return ["/dev/vfio/0"]
    return ["/dev/nvidia0"] if gpus and "nvidia" in pattern else []
  monkeypatch.setattr(backends.glob, "glob", glob)
  backends.settle()
  import os
  assert os.environ.get("JAX_PLATFORMS") == want
  assert (os.environ.get("ALLOW_MULTIPLE_LIBTPU_LOAD") == "1") == ("libtpu" in installed and want == "cpu")

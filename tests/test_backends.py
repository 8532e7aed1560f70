"""jaxir.backends.settle: a host with libtpu but no TPU chips runs on the CPU unless the user chose."""
import pytest

from jaxir import backends


@pytest.mark.parametrize("installed, chips, env, want", [
    ({"libtpu"}, False, {}, "cpu"),                                  # a laptop / CI runner with the [tpu] extra
    ({"libtpu"}, True, {}, None),                                    # a TPU VM: JAX picks the TPU
    ({"libtpu", "jax_cuda13_plugin"}, False, {}, None),              # a GPU host: JAX's own choice
    (set(), False, {}, None),                                        # no libtpu: nothing to settle
    ({"libtpu"}, False, {"JAX_PLATFORMS": "tpu"}, "tpu"),            # the user's choice stands
])
def test_settle(monkeypatch, installed, chips, env, want):
  monkeypatch.delenv("JAX_PLATFORMS", raising=False)
  monkeypatch.delenv("ALLOW_MULTIPLE_LIBTPU_LOAD", raising=False)
  for k, v in env.items():
    monkeypatch.setenv(k, v)
  monkeypatch.setattr(backends, "_installed", lambda name: name in installed)
  monkeypatch.setattr(backends.glob, "glob", lambda pattern: ["/dev/vfio/0"] if chips and "vfio" in pattern else [])
  backends.settle()
  import os
  assert os.environ.get("JAX_PLATFORMS") == want

"""jaxir.backends.settle: a host with libtpu or a CUDA plugin but no TPU chips or GPUs runs on the CPU unless the
user chose; `jaxir train`'s persistent compilation cache."""
import argparse

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


def test_train_compiles_through_the_hosts_cache_and_puts_jax_settings_back(tmp_path, monkeypatch, capsys):
  """With JAX's defaults (no cache), `jaxir train` compiles through $XDG_CACHE_HOME/jaxir/xla with a size limit
  (so JAX locks it: two runs on a host share it), then puts JAX's settings back. A cache directory that cannot
  be created costs one line on stderr, and the run goes on without a cache; the user's own choice is kept."""
  import jax
  from jaxir import api
  from jaxir.train import cli as train_cli
  defaults = {"jax_compilation_cache_dir": None, "jax_persistent_cache_min_compile_time_secs": 1.0,
              "jax_compilation_cache_max_size": -1}                 # not conftest's cache for the test run
  seen = []

  def fake_train(cfg, progress):
    seen.append(jax.config.jax_compilation_cache_dir)
    jax.jit(lambda x: x * 7 + 1).lower(jax.ShapeDtypeStruct((13,), "float32")).compile()
    return "runs/x"

  monkeypatch.setattr(api, "train_config", lambda config, overrides: "cfg")
  monkeypatch.setattr(api, "train", fake_train)
  args = argparse.Namespace(config=None, overrides=[], quiet=True)
  cache = tmp_path / "home-cache" / "jaxir" / "xla"
  monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home-cache"))
  with backends.jax_cache_settings(**defaults):
    train_cli._run(args)
    assert seen == [str(cache)]
    names = [p.name for p in cache.iterdir()]
    assert ".lockfile" in names and any(n.endswith("-cache") for n in names), names
    assert {k: getattr(jax.config, k) for k in defaults} == defaults

    (tmp_path / "a-file").write_text("not a directory")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "a-file"))
    capsys.readouterr()
    train_cli._run(args)
    assert seen[-1] is None
    err = capsys.readouterr().err
    assert "no compilation cache" in err and "JAX_COMPILATION_CACHE_DIR" in err, err

  with backends.jax_cache_settings(jax_compilation_cache_dir=str(tmp_path / "mine")):
    train_cli._run(args)
    assert seen[-1] == str(tmp_path / "mine")

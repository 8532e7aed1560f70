"""`jaxir encode` on several hosts: two local processes (jax.distributed on localhost) share the chunks of
an export, on a local folder and on a (fake) gs:// one, and the result equals a one-process export."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jaxir import cli

from conftest import DATA, free_port, tiny_model, xla_flags

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--benchmark", "xquad-r", "--data-dir", str(DATA), "--langs", "de,en", "--max-articles", "1",
        "--tokens-per-batch", "512", "--chunk-texts", "16"]      # several batches and chunks for this slice


def _env(**kw):
  env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS" and not k.startswith("JAXIR_")}
  env.update(JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT), XLA_FLAGS=xla_flags(), **kw)
  return env


def _two_processes(model, out, **env):
  """Runs `jaxir encode` as 2 local processes under jax.distributed (with FAKE_GCS_ROOT: through tests/fake_gcs.py,
  gs:// served from that folder); returns their logs."""
  port = free_port()
  prefix = [sys.executable, "tests/fake_gcs.py"] if "FAKE_GCS_ROOT" in env else [sys.executable, "-m", "jaxir.cli"]
  procs = [subprocess.Popen([*prefix, "encode", "--model", str(model), "--out", str(out), *ARGS],
                            env=_env(JAXIR_COORDINATOR=f"localhost:{port}", JAXIR_NUM_PROCESSES="2",
                                     JAXIR_PROCESS_ID=str(i), **env),
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
           for i in range(2)]
  logs = []
  try:
    for p in procs:
      logs.append(p.communicate(timeout=120)[0])
  except subprocess.TimeoutExpired:
    for p in procs:
      p.kill()
    pytest.fail("the two-process export timed out (a hang in jax.distributed?)")
  assert all(p.returncode == 0 for p in procs), "\n".join(log[-2000:] for log in logs)
  return logs


def test_two_processes_export_like_one(tmp_path):
  """Locally, and to a gs:// folder (a pod's shared output; tests/fake_gcs.py): each process writes its chunks,
  process 0 the manifest last; the export equals the one-process one."""
  model = tiny_model(tmp_path / "model", 0)
  one, two = tmp_path / "one", tmp_path / "two"
  assert cli.main(["encode", "--model", str(model), "--out", str(one), *ARGS]) == 0
  logs = _two_processes(model, two)
  assert "encode xquad-r" in logs[0] and "encode xquad-r" not in logs[1]     # only process 0 shows progress
  _two_processes(model, "gs://b/two", FAKE_GCS_ROOT=str(tmp_path / "gcs"))
  m1 = json.loads((one / "manifest.json").read_text())
  assert m1["processes"] == 1 and m1["n_texts"] > 3 * 16          # at least 4 chunks: both processes had work
  for out in (two, tmp_path / "gcs" / "b" / "two"):
    m2 = json.loads((out / "manifest.json").read_text())
    assert m2["processes"] == 2 and m2["n_texts"] == m1["n_texts"]
    np.testing.assert_allclose(np.load(out / "embeddings.npy"), np.load(one / "embeddings.npy"), atol=1e-6)
    for name in ("index.json", "texts.json"):
      assert (out / name).read_text() == (one / name).read_text(), name
    assert not (out / ".partial").exists()
  assert not (ROOT / "gs:").exists()


@pytest.mark.parametrize("argv, env, message", [
    (["--benchmark", "xquad-r", "--chunk-texts", "0"], {}, "--chunk-texts must be at least 1, got 0"),
    (["--benchmark", "tatoeba", "--chunk-texts", "8"], {}, "--chunk-texts applies to xquad-r, mlqa-r and squad-r"),
    (["--benchmark", "tatoeba"], {"JAXIR_COORDINATOR": "localhost:1234", "JAXIR_NUM_PROCESSES": "2",
                                  "JAXIR_PROCESS_ID": "0"}, "--benchmark tatoeba runs in one process"),
    (["--benchmark", "xquad-r"], {"JAXIR_COORDINATOR": "localhost:1234"}, "JAXIR_NUM_PROCESSES must be too"),
])
def test_bad_input_is_one_line(argv, env, message, tmp_path, capsys, monkeypatch):
  monkeypatch.chdir(tmp_path)
  for k, v in env.items():
    monkeypatch.setenv(k, v)
  assert cli.main(["encode", "--model", "M", "--out", "OUT", *argv]) == 2
  err = capsys.readouterr().err.strip()
  assert message in err and len(err.splitlines()) == 1, err
  assert not (tmp_path / "OUT").exists()

"""`jaxir train` end to end on a tiny random encoder and real MLQA-R: kill -9 and resume, bad input."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from jaxir import cli
from conftest import DATA, TWO_LANGS, steps_logged, tiny_model, xla_flags

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
  return tiny_model(tmp_path_factory.mktemp("m") / "tiny", 0)


def _args(model, out, steps=24, **kw):
  args = {"out_dir": out, "model.name": model, "data.data_dir": DATA, "steps": steps, "log_every": 1,
          "checkpoint_every": 4, "eval_every": 0, "batch.batch_size": 8, "batch.alpha": 0.5,
          "optim.warmup_steps": 2, "data.max_passage_length": 64, "data.max_query_length": 32}
  args.update(kw)
  return [f"{k}={v}" for k, v in args.items()]


def _train(args, env=None, **popen):
  cmd = [sys.executable, "-m", "jaxir.cli", "train", "--quiet", *args]
  return subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, **popen)


def test_kill_and_resume_equals_uninterrupted(model, tmp_path):
  full, cut = tmp_path / "full", tmp_path / "cut"
  # the uninterrupted reference in this process (no second start-up of jax, TF and transformers)
  assert cli.main(["train", "--quiet", *_args(model, full, **TWO_LANGS)]) == 0

  p = _train(_args(model, cut, **TWO_LANGS))
  deadline = time.time() + 600
  while steps_logged(cut) < 9 and p.poll() is None and time.time() < deadline:
    time.sleep(0.02)
  os.kill(p.pid, signal.SIGKILL)
  p.wait()
  assert not (cut / "run.json").exists(), "the run finished before it could be killed"
  killed_at = steps_logged(cut)
  assert 9 <= killed_at < 24
  p = _train(_args(model, cut, **TWO_LANGS))
  assert p.wait(timeout=600) == 0, p.stderr.read()
  assert (cut / "run.json").exists()

  a = load_file(str(full / "export" / "model.safetensors"))
  b = load_file(str(cut / "export" / "model.safetensors"))
  assert a.keys() == b.keys()
  for k in a:
    np.testing.assert_allclose(a[k], b[k], atol=1e-6, err_msg=k)
  # Training moved the weights (the comparison above is not between two untouched copies).
  start = load_file(str(Path(model) / "model.safetensors"))
  assert max(np.abs(a[k] - start[k]).max() for k in a if k in start) > 1e-4
  # The log holds both passes, x_x_mono and x_y losses apart, and the drawn mono share.
  records = [json.loads(l) for l in (cut / "log.jsonl").read_text().splitlines()]
  train = [r for r in records if r.get("event") == "train"]
  assert train[-1]["step"] == 24 and {"loss_x_x_mono", "loss_x_y", "x_x_mono_batches", "pairs_per_s"} <= train[-1].keys()
  meta = json.loads((cut / "export" / "jaxir.json").read_text())
  assert meta["train_langs"] == ["de", "en"]


def test_rerun_of_a_finished_run_is_a_no_op_and_other_config_is_refused(model, tmp_path, capsys):
  out = tmp_path / "run"
  assert cli.main(["train", "--quiet", *_args(model, out, steps=2, checkpoint_every=1)]) == 0
  mtime = (out / "run.json").stat().st_mtime
  assert cli.main(["train", "--quiet", *_args(model, out, steps=2, checkpoint_every=1)]) == 0
  assert (out / "run.json").stat().st_mtime == mtime
  capsys.readouterr()
  assert cli.main(["train", "--quiet", *_args(model, out, steps=3, checkpoint_every=1)]) == 2
  assert "another config" in capsys.readouterr().err
  # The last checkpoint exports to the same weights as the run's own export; step 1 differs.
  assert cli.main(["export", "--run", str(out), "--out", str(tmp_path / "last")]) == 0
  assert cli.main(["export", "--run", str(out), "--step", "1", "--out", str(tmp_path / "first")]) == 0
  final, last, first = (load_file(str(d / "model.safetensors")) for d in (out / "export", tmp_path / "last", tmp_path / "first"))
  key = "encoder.layer.0.attention.self.query.weight"
  np.testing.assert_array_equal(final[key], last[key])
  assert np.abs(final[key] - first[key]).max() > 0


def test_grad_cache_trains_on_packed_batches_as_the_plain_step(model, tmp_path):
  """`loss.grad_cache_chunk` with the default packed pipeline: the pipeline pads rows to whole chunks and the
  losses of 3 steps are the plain packed run's (no dropout, so they agree up to float summation order)."""
  losses = {}
  for tag, extra in (("plain", {}), ("cached", {"loss.grad_cache_chunk": 2})):
    out = tmp_path / tag
    assert cli.main(["train", "--quiet", *_args(model, out, steps=3, checkpoint_every=3, **{"model.dropout": "false"},
                                                **extra)]) == 0
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    losses[tag] = [r["loss"] for r in records if r.get("event") == "train"]
  assert len(losses["plain"]) == 3 and np.all(np.isfinite(losses["plain"]))
  np.testing.assert_allclose(losses["cached"], losses["plain"], rtol=1e-4)


@pytest.mark.parametrize("override, message", [
    ("batch.alpha=1.5", "batch.alpha must lie in [0, 1]"),
    ("batch.batch_type=per_batch", "unknown batch type"),
    ("batch.alpah=0.5", "did you mean batch.alpha"),
    ("data.langs=[en]", "cross-lingual"),
    ("batch.batch_size=5000", "batch"),
    ("loss.grad_cache_chunk=3", "does not divide batch.batch_size"),
    ("batch.pack=maybe", "config key 'batch.pack' must be true or false, got 'maybe'"),
    ("steps=1.5", "config key 'steps' must be an integer, got 1.5"),
])
def test_bad_input_is_one_line_and_leaves_no_run(model, tmp_path, capsys, override, message):
  out = tmp_path / "run"
  assert cli.main(["train", "--quiet", *_args(model, out), override]) == 2
  err = capsys.readouterr().err.strip()
  assert message in err and len(err.splitlines()) == 1, err
  assert not out.exists()


def test_batch_not_divisible_by_devices(model, tmp_path):
  out = tmp_path / "run"
  p = _train(_args(model, out, **{"batch.batch_size": 6}),
             env={"XLA_FLAGS": xla_flags("--xla_force_host_platform_device_count=4")})
  _, err = p.communicate(timeout=300)
  assert p.returncode == 2
  assert "not divisible" in err and len(err.strip().splitlines()) == 1, err
  assert not out.exists()

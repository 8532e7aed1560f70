"""The accelerator path, exercised on the CPU: `model.dtype=bfloat16` (what TPU and GPU run by default)
trains close to float32 and exports float32 weights; the training loop brings metrics to the host only
at log steps and before checkpoints, dev evaluations and the export, and still stops at the exact
first non-finite step."""
import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from jaxir import cli
from conftest import tiny_model, train_argv

# bfloat16 keeps 8 significant bits (a relative rounding error of up to 2^-9 ~ 2e-3 per rounded value)
# on the matmul and LayerNorm inputs; the loss (InfoNCE over 8 pairs, ~2.1 for the tiny model) and the
# parameters stay float32. Measured on this CPU over the 5 steps below: at most 1.3e-3 between the
# float32 and bfloat16 losses (8 steps: 1.3e-3 too, i.e. no drift). 1e-2 leaves ~8x margin for other
# CPUs' summation orders, and stays well below what a real error shows (a compute path left in float16
# or a loss computed in bfloat16 moves the loss by ~1e-1 or gives NaN).
BF16_LOSS_TOLERANCE = 1e-2


@pytest.fixture(scope="module")
def model(tmp_path_factory):
  return tiny_model(tmp_path_factory.mktemp("accel") / "tiny", 0)


def _args(model, out, **kw):
  return train_argv(model, out, {"steps": 5, "log_every": 1, "checkpoint_every": 100, "batch.batch_size": 8,
                                 "batch.alpha": 0.5, "optim.warmup_steps": 2, "data.max_passage_length": 64,
                                 "data.max_query_length": 32}, **kw)


def _records(run, event="train"):
  return [r for r in map(json.loads, (Path(run) / "log.jsonl").read_text().splitlines()) if r["event"] == event]


# ------------------------------------------------------------------ bfloat16

def test_bfloat16_trains_like_float32_and_exports_float32(model, tmp_path):
  import torch
  from transformers import AutoModel
  from jaxir.model.hf_io import load_pretrained
  losses = {}
  for dtype in ("float32", "bfloat16"):
    run = tmp_path / dtype
    assert cli.main(_args(model, run, **{"model.dtype": dtype})) == 0
    losses[dtype] = np.array([r["loss"] for r in _records(run)])
  assert len(losses["float32"]) == 5
  gap = np.abs(losses["bfloat16"] - losses["float32"])
  assert gap.max() < BF16_LOSS_TOLERANCE, gap
  assert gap.max() > 0, "the bfloat16 run computed exactly the float32 losses: was it run in bfloat16?"

  export = tmp_path / "bfloat16" / "export"
  assert all(v.dtype == np.float32 for v in load_file(str(export / "model.safetensors")).values())
  assert json.loads((export / "config.json").read_text()).get("dtype", "float32") == "float32"
  pre = load_pretrained(str(export))
  import jax
  assert {x.dtype for x in jax.tree.leaves(pre.params)} == {np.dtype(np.float32)}
  hf = AutoModel.from_pretrained(str(export))
  assert {p.dtype for p in hf.parameters()} == {torch.float32}
  # The weights moved from the start (the export is the trained model, not the initial one).
  start = load_file(str(Path(model) / "model.safetensors"))
  trained = load_file(str(export / "model.safetensors"))
  assert max(np.abs(trained[k] - start[k]).max() for k in start if k in trained) > 1e-5


# ------------------------------------------------------------------ metrics on the host

def test_window_names_the_first_non_finite_step_and_averages_what_it_fetched():
  import jax.numpy as jnp
  from jaxir.train.trainer import _Window
  w = _Window()
  losses = [2.0, 1.0, float("nan"), 3.0, float("inf")]
  for i, loss in enumerate(losses):
    w.add(i + 1, {"loss": jnp.float32(loss), "accuracy": jnp.float32(0.5)},
          {"kind": i % 2, "mono_share": 0.5, "skipped": 0}, 8, 100)
  assert w.fetch() == (3, "loss nan")                  # the first bad step, not the last (5) nor the fetch
  w = _Window()
  for i, loss in enumerate([2.0, 1.0, 4.0]):
    w.add(i + 1, {"loss": jnp.float32(loss)}, {"kind": i % 2, "mono_share": 0.25, "skipped": 0}, 8, 100)
    if i == 1:
      assert w.fetch() is None                         # a fetch before a checkpoint, mid-window
  assert w.fetch() is None
  s = w.summary(1.0, None)
  assert s["loss"] == pytest.approx(7 / 3) and s["loss_x_x_mono"] == pytest.approx(3.0) and s["loss_x_y"] == 1.0
  assert s["x_x_mono_batches"] == pytest.approx(2 / 3) and s["mono_share"] == 0.25


def test_metrics_reach_the_host_only_at_log_steps(model, tmp_path, monkeypatch):
  import jax
  fetched = []
  real = jax.device_get

  def counting(tree):
    out = real(tree)
    fetched.append(out)
    return out

  monkeypatch.setattr(jax, "device_get", counting)
  run = tmp_path / "run"
  assert cli.main(_args(model, run, steps=6, log_every=3)) == 0
  # Two fetches of three steps each (steps 1-3, 4-6), and one of nothing before the final checkpoint;
  # never one per step.
  metric_fetches = [f for f in fetched if isinstance(f, list) and all(isinstance(m, dict) and "loss" in m for m in f)]
  assert [len(f) for f in metric_fetches] == [3, 3, 0], [len(f) for f in metric_fetches]
  assert len(fetched) < 6
  records = _records(run)
  assert [r["step"] for r in records] == [3, 6]
  for record, window in zip(records, metric_fetches):      # the log averages exactly the fetched steps
    assert record["loss"] == pytest.approx(np.mean([float(m["loss"]) for m in window]), rel=1e-6)
    assert record["grad_norm"] == pytest.approx(np.mean([float(m["grad_norm"]) for m in window]), rel=1e-6)


def test_divergence_mid_window_names_the_exact_step_and_keeps_the_good_checkpoints(model, tmp_path, capsys):
  """A learning rate of 1e30 diverges a few steps in. Checked every step (log_every=1) and only at log
  steps and checkpoints (log_every=4, checkpoint_every=2), the run stops at the same step, and keeps the
  checkpoints before it (every one saved before the divergence, none after)."""
  from jaxir.train.checkpoint import Checkpoints
  steps = {}
  for name, kw in (("every", {"log_every": 1, "checkpoint_every": 1}), ("windowed", {"log_every": 4, "checkpoint_every": 2})):
    run = tmp_path / name
    assert cli.main(_args(model, run, steps=8, keep_checkpoints=100, **{"optim.learning_rate": "1.0e+30"}, **kw)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "training diverged at step" in err, err
    steps[name] = int(err.split("training diverged at step ")[1].split()[0])
    assert _records(run, "diverged")[0]["step"] == steps[name]
    assert all(r["step"] < steps[name] for r in _records(run))         # no window holding the bad step is logged
    assert not (run / "run.json").exists() and not (run / "export").exists()
    ckpt = Checkpoints((run / "checkpoints").absolute(), keep=100)
    kept = sorted(ckpt.manager.all_steps())
    ckpt.close()
    every = kw["checkpoint_every"]
    assert kept == list(range(every, steps[name], every)), (name, kept)
  assert steps["every"] == steps["windowed"] and 1 < steps["every"] < 8


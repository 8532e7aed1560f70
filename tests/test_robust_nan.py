"""Non-finite values never become scores: NaN embeddings are refused at encode and at eval, AP cannot
exceed 1, a diverged training run stops (last good checkpoint kept, nothing exported, no run.json)
and its sweep cell fails; the training log is strict JSON and logs no step twice after a resume."""
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from safetensors.numpy import load_file, save_file

from jaxir import cli
from jaxir.errors import JaxirError
from conftest import DATA, tiny_model, train_argv


def _strict(text):
  """The records of a JSONL text, refusing NaN / Infinity as strict JSON readers do."""
  def refuse(name):
    raise ValueError(f"non-JSON constant {name}")
  return [json.loads(line, parse_constant=refuse) for line in text.splitlines()]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
  """(a tiny model, the same with one NaN weight)."""
  root = tmp_path_factory.mktemp("nan_models")
  good = Path(tiny_model(root / "good", 0))
  bad = root / "bad"
  shutil.copytree(good, bad)
  weights = load_file(str(bad / "model.safetensors"))
  weights["encoder.layer.0.output.dense.bias"][3] = np.nan
  save_file(weights, str(bad / "model.safetensors"), metadata={"format": "pt"})
  return good, bad


# ------------------------------------------------------------------ metric

@pytest.mark.parametrize("ranks, mask", [
    ([[1, 1, 1]], [[1, 1, 1]]),            # what NaN scores gave: every relevant answer "first", AP 2
    ([[3, 5, 3], [1, 2, 9]], [[1, 1, 1], [1, 1, 0]]),
    ([[0, 4]], [[1, 1]]),
])
def test_average_precision_refuses_ranks_that_would_exceed_one(ranks, mask):
  from jaxir.eval import ranking
  with pytest.raises(JaxirError, match="distinct ranks"):
    ranking.average_precision(np.asarray(ranks), np.asarray(mask, bool))
  ok = ranking.average_precision(np.asarray([[1, 2, 7], [4, 9, 9]]), np.asarray([[1, 1, 1], [1, 0, 0]], bool))
  np.testing.assert_allclose(ok, [(1 + 1 + 3 / 7) / 3, 1 / 4])       # padding may repeat; relevant ranks not


# ------------------------------------------------------------------ embeddings

def test_nan_model_is_refused_at_encode_and_nothing_is_written(models, tmp_path):
  from jaxir.encode import embed_texts, encode_benchmark
  from jaxir.model.hf_io import load_pretrained
  _, bad = models
  out = tmp_path / "emb"
  with pytest.raises(JaxirError, match=r"embeddings are not finite \(rows 0, 1, 2 and \d+ more: 'query: ") as e:
    encode_benchmark(str(bad), "xquad-r", out, data_dir=DATA, langs=["en"], max_articles=1, progress=False)
  assert len(str(e.value).splitlines()) == 1
  assert not out.exists()                                           # no manifest, no half export
  with pytest.raises(JaxirError, match=r"2 of 2 embeddings are not finite \(rows 0, 1: 'a', 'b'\)"):
    embed_texts(load_pretrained(str(bad)), ["a", "b"])


def test_nan_embeddings_are_refused_at_eval(models, tmp_path):
  from jaxir.encode import encode_benchmark
  from jaxir.eval.evaluate import evaluate
  good, _ = models
  out = encode_benchmark(str(good), "xquad-r", tmp_path / "emb", data_dir=DATA, langs=["en", "de"], max_articles=1,
                         progress=False)
  evaluate(out)                                                     # finite: fine
  emb = np.load(out / "embeddings.npy")
  emb[[4, 7]] = np.nan
  emb[9, 0] = np.inf
  np.save(out / "embeddings.npy", emb)
  texts = json.loads((out / "texts.json").read_text())
  with pytest.raises(JaxirError, match=rf"3 of {len(emb):,} embeddings are not finite \(rows 4, 7, 9: "
                                       rf"'{re.escape(texts[4][:40])}") as e:
    evaluate(out)
  assert len(str(e.value).splitlines()) == 1


def test_nan_embeddings_are_refused_in_stores(tmp_path):
  from jaxir.shards import Store, write_store

  def embed(texts, bar):
    return np.asarray([[np.nan, 0] if "bad" in t else [1, 0] for t in texts], np.float32)

  records = [(f"d{i}", "bad text" if i in (3, 5) else "good text") for i in range(6)]
  with pytest.raises(JaxirError, match=r"1 of 2 embeddings are not finite \(rows 3: 'd3 bad text'\)"):
    write_store(tmp_path / "s", records, embed, 2, rows_per_shard=2, progress=False)
  assert not (tmp_path / "s" / "store.json").exists()

  # A store written before these checks (or edited) is refused when read, whole or streamed.
  write_store(tmp_path / "t", records, lambda texts, bar: np.ones((len(texts), 2), np.float32), 2,
              rows_per_shard=4, progress=False)
  arr = np.load(tmp_path / "t" / "shard_00001.npy")
  arr[1, 1] = np.nan
  np.save(tmp_path / "t" / "shard_00001.npy", arr)
  store = Store(tmp_path / "t")
  with pytest.raises(JaxirError, match=r"1 of 6 embeddings are not finite \(rows 5: 'd5'\)"):
    store.read()
  with pytest.raises(JaxirError, match=r"rows 4-5\): 1 of 2 embeddings are not finite \(rows 5: 'd5'\)"):
    list(store.blocks(4))


# ------------------------------------------------------------------ training

def _train_args(model, out, **kw):
  return train_argv(model, out, {"steps": 6, "log_every": 1, "checkpoint_every": 1, "batch.batch_size": 8,
                                 "batch.alpha": 0.5, "optim.warmup_steps": 2, "data.max_passage_length": 64,
                                 "data.max_query_length": 32}, **kw)


def _checkpoints(run):
  from jaxir.train.checkpoint import Checkpoints
  ckpt = Checkpoints((run / "checkpoints").absolute(), keep=100)
  steps = sorted(ckpt.manager.all_steps())
  ckpt.close()
  return steps


@pytest.mark.parametrize("poisoned, overrides", [
    (False, {"optim.learning_rate": "1.0e+30", "keep_checkpoints": 100}),   # diverges after a few good steps
    (True, {}),                                                       # NaN from the first step
])
def test_diverged_training_stops_and_keeps_the_last_good_checkpoint(models, tmp_path, capsys, poisoned, overrides):
  model = models[poisoned]
  run = tmp_path / "run"
  assert cli.main(_train_args(model, run, **overrides)) == 2
  err = capsys.readouterr().err.strip()
  assert len(err.splitlines()) == 1 and "training diverged at step" in err, err
  step = int(err.split("training diverged at step ")[1].split()[0])
  assert not (run / "run.json").exists() and not (run / "export").exists()
  records = _strict((run / "log.jsonl").read_text())
  assert records[-1]["event"] == "diverged" and records[-1]["step"] == step
  assert max((r["step"] for r in records if r["event"] == "train"), default=0) == step - 1   # the NaN step is not logged
  kept = _checkpoints(run)
  assert step > 1 or poisoned
  assert kept == list(range(1, step))                                    # every good step, not the NaN one
  if kept:
    assert f"last good checkpoint, step {kept[-1]}" in err
  else:
    assert step == 1 and "no checkpoint was saved" in err


def test_diverged_sweep_cell_fails_without_cell_json(models, tmp_path, capsys):
  cfg = {"out_dir": str(tmp_path / "sw"),
         "train": {"model": {"name": str(models[1])}, "steps": 2, "log_every": 1, "checkpoint_every": 100,
                   "eval_every": 0, "batch": {"batch_size": 8}, "optim": {"warmup_steps": 1},
                   "data": {"data_dir": str(DATA), "max_query_length": 32, "max_passage_length": 64,
                            "dev_fraction": 0.05, "langs": ["en", "de"]}},
         "grid": {"alphas": [0.5], "seeds": 1, "zero_shot": False},
         "eval": {"langs": ["en", "de"], "max_articles": 1, "benchmarks": ["xquad-r"]}}
  path = tmp_path / "sweep.yaml"
  path.write_text(yaml.safe_dump(cfg))
  assert cli.main(["sweep", "--config", str(path)]) == 2
  err = capsys.readouterr().err
  assert "sweep: hybrid_a0.5_s0 failed" in err and "training diverged at step 1" in err.splitlines()[-1], err
  cell = tmp_path / "sw" / "cells" / "hybrid_a0.5_s0"
  assert not (cell / "cell.json").exists() and not (cell / "train" / "run.json").exists()
  assert not (cell / "eval").exists()


# ------------------------------------------------------------------ log

def test_log_is_strict_json(tmp_path):
  from jaxir.train.log import JsonlLog
  log = JsonlLog(tmp_path / "log.jsonl", echo=False)
  log.write({"event": "train", "step": 1, "loss": float("nan"), "tflops": float("inf"), "nested": {"x": float("-inf")}})
  log.close()
  (record,) = _strict((tmp_path / "log.jsonl").read_text())
  assert record["loss"] is None and record["tflops"] is None and record["nested"] == {"x": None}


def test_resumed_run_logs_each_step_once(models, tmp_path, capsys):
  good, _ = models
  run = tmp_path / "run"
  args = _train_args(good, run, steps=4, checkpoint_every=2)
  assert cli.main(args) == 0
  # As if killed after logging steps 3 and 4 but before their checkpoint was saved (plus a cut line).
  shutil.rmtree(run / "checkpoints" / "4")
  (run / "run.json").unlink()
  shutil.rmtree(run / "export")
  with open(run / "log.jsonl", "a") as f:
    f.write('{"time": 1, "event": "tr')
  assert cli.main(args) == 0
  records = _strict((run / "log.jsonl").read_text())
  steps = [r["step"] for r in records if r["event"] == "train"]
  assert steps == [1, 2, 3, 4], steps
  events = [r["event"] for r in records]
  assert events.count("start") == 1 and events.count("resume") == 1
  resume = next(r for r in records if r["event"] == "resume")
  assert resume["step"] == 2 and resume["dropped_records"] == 3        # steps 3, 4 and the cut line

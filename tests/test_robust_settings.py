"""Settings are checked before anything is written: a bad value is one line naming the key, never a
late crash, a silently wrong run or a run directory that refuses the corrected config. Numbers read as
a person writes them (1e10). The distributed environment (JAXIR_COORDINATOR ...) likewise."""
import math
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from jaxir import cli
from jaxir import config
from jaxir.errors import JaxirError
from jaxir.sweep import spec as spec_lib
from jaxir.train import trainer
from conftest import DATA, free_port, tiny_model, train_argv

ROOT = Path(__file__).resolve().parents[1]


BAD = [
    ("log_every=0", "log_every must be at least 1, got 0"),
    ("checkpoint_every=0", "checkpoint_every must be at least 1, got 0"),
    ("keep_checkpoints=0", "keep_checkpoints must be at least 1"),
    ("eval_every=-1", "eval_every must be at least 0"),
    ("steps=0", "steps must be at least 1"),
    ("optim.learning_rate=-2e-5", "optim.learning_rate must be at least 0"),
    ("optim.learning_rate=.nan", "optim.learning_rate must be at least 0 and finite, got nan"),
    ("optim.learning_rate=inf", "optim.learning_rate must be at least 0 and finite, got inf"),
    ("optim.warmup_steps=-1", "optim.warmup_steps must be at least 0"),
    ("optim.weight_decay=-0.01", "optim.weight_decay must be at least 0"),
    ("optim.weight_decay=.nan", "optim.weight_decay must be at least 0 and finite"),
    ("optim.clip_norm=-1.0", "optim.clip_norm must be at least 0"),
    ("optim.clip_norm=.nan", "optim.clip_norm must be at least 0 and finite"),
    ("optim.schedule=constant", "unknown optim.schedule 'constant'; choose from linear, cosine"),
    ("loss.temperature=.inf", "loss.temperature must be greater than 0 and finite, got inf"),
    ("loss.temperature=.nan", "loss.temperature must be greater than 0 and finite, got nan"),
    ("loss.temperature=0", "loss.temperature must be greater than 0"),
    ("loss.grad_cache_chunk=0", "loss.grad_cache_chunk must be at least 1"),
    ("loss.grad_cache_chunk=3", "loss.grad_cache_chunk=3 does not divide batch.batch_size=8"),
    ("loss.name=triplet", "unknown loss.name 'triplet'; choose from info_nce"),
    ("batch.alpha=.nan", "batch.alpha must lie in [0, 1], got nan"),
    ("batch.prefetch=0", "batch.prefetch must be at least 1"),
    ("batch.mono_lang=sized", "unknown batch.mono_lang 'sized'; choose from uniform, size"),
    ("batch.seed=-1", "batch.seed must be at least 0"),
    ("data.extra_mix=weight", "unknown data.extra_mix 'weight'; choose from size, weights"),
    ("data.max_query_length=0", "data.max_query_length must be at least 1"),
    ("data.max_passage_length=-5", "data.max_passage_length must be at least 1"),
    ("data.dev_fraction=.nan", "data.dev_fraction must lie in (0, 1), got nan"),
    ("data.hard_negatives=-1", "data.hard_negatives must be at least 0"),
    ("data.split_seed=-3", "data.split_seed must be at least 0"),
    ("data.source=squad", "unknown data.source 'squad'; choose from mlqa-r, pairs, squad-r"),
    ("data.langs=[en, xx]", "data.langs: unknown language(s) xx for mlqa-r"),
    ("data.langs=[en, en]", "data.langs lists en twice"),
    ("data.langs=[]", "data.langs is empty"),
    ("data.extra_mono=[{path: a.json}]", "data.extra_mono[0] must be a mapping with 'path' and 'lang'"),
    ("data.extra_mono=[{lang: de}]", "data.extra_mono[0] must be a mapping with 'path' and 'lang'"),
    ("data.extra_mono=[a.json]", "data.extra_mono[0] must be a mapping"),
    ("data.extra_mono=[{path: a.json, lang: de, wieght: 2}]", "data.extra_mono[0] has unknown key(s) wieght (did you mean weight?)"),
    ("data.extra_mono=[{path: a.json, lang: DE}]", "data.extra_mono[0].lang must be a language code"),
    ("data.extra_mono=[{path: a.json, lang: 'de de'}]", "data.extra_mono[0].lang must be a language code"),
    ("data.extra_mono=[{path: a.json, lang: de, weight: .nan}]", "data.extra_mono[0].weight must be a positive number (not NaN or infinity)"),
    ("data.extra_mono=[{path: a.json, lang: de, weight: .inf}]", "data.extra_mono[0].weight must be a positive number (not NaN or infinity)"),
    ("data.extra_mono=[{path: a.json, lang: de, weight: 0}]", "data.extra_mono[0].weight must be a positive number (not NaN or infinity)"),
    ("data.extra_mono=[{path: '', lang: de}]", "data.extra_mono[0].path must be a file path"),
    ("data.extra_pairs=a.jsonl", "config key 'data.extra_pairs' must be a list, got 'a.jsonl'"),
    ("data.extra_pairs=[a.jsonl, '']", "data.extra_pairs[1] must be a file path"),
    ("model.dtype=fp16", "unknown model.dtype 'fp16'; choose from auto, float32, bfloat16, float16"),
    ("model.name=' '", "model.name is empty"),
    ("mesh.data=0", "mesh.data must be -1"),
    ("mesh.data=-2", "mesh.data must be -1"),
    ("mesh.model=0", "mesh.model must be at least 1"),
    ("mesh.model=-1", "mesh.model must be at least 1"),
]


@pytest.mark.parametrize("override, message", BAD)
def test_bad_setting_is_refused_by_build(override, message):
  with pytest.raises(JaxirError) as e:
    config.build(None, ["batch.batch_size=8", "batch.pack=false", override])
  assert message in str(e.value) and "\n" not in str(e.value), str(e.value)


def test_keep_checkpoints_zero_without_export_says_no_weights_would_be_left():
  with pytest.raises(JaxirError, match=r"keep_checkpoints must be at least 1.*export=false writes no other copy"):
    config.build(None, ["keep_checkpoints=0", "export=false"])


def test_learnt_temperature_below_its_clip_is_refused():
  with pytest.raises(JaxirError, match="at least 0.01 with loss.learn_temperature"):
    config.build(None, ["loss.temperature=0.001", "loss.learn_temperature=true"])
  with pytest.raises(JaxirError, match="loss.temperature_learning_rate needs loss.learn_temperature=true"):
    config.build(None, ["loss.temperature_learning_rate=0.01"])
  with pytest.raises(JaxirError, match="loss.temperature_learning_rate must be greater than 0"):
    config.build(None, ["loss.temperature_learning_rate=0", "loss.learn_temperature=true"])
  assert config.build(None, ["loss.temperature_learning_rate=1e-2", "loss.learn_temperature=true"]
                      ).loss.temperature_learning_rate == 0.01
  assert config.build(None, ["loss.temperature=0.001"]).loss.temperature == 0.001


@pytest.fixture(scope="module")
def model(tmp_path_factory):
  return tiny_model(tmp_path_factory.mktemp("m") / "tiny", 0)


def _train_args(model, out, **kw):
  return train_argv(model, out, {"steps": 2, "log_every": 1, "checkpoint_every": 1, "batch.batch_size": 8,
                                 "optim.warmup_steps": 1, "data.max_passage_length": 32,
                                 "data.max_query_length": 16}, **kw)


@pytest.mark.parametrize("override, message", [
    ("log_every=0", "log_every must be at least 1"),                 # was ZeroDivisionError after the run dir
    ("checkpoint_every=0", "checkpoint_every must be at least 1"),   # likewise
    ("keep_checkpoints=0", "keep_checkpoints must be at least 1"),   # was: every checkpoint deleted
    ("optim.learning_rate=-1e-3", "optim.learning_rate must be at least 0"),   # was: gradient ascent
    ("loss.temperature=.inf", "loss.temperature must be greater than 0 and finite"),   # was: zero gradients
    ("data.max_passage_length=4096", "data.max_passage_length=4096 exceeds the 128 positions of"),
])
def test_train_refuses_before_the_run_directory_exists(model, tmp_path, capsys, override, message):
  out = tmp_path / "run"
  argv = [*_train_args(model, out), override]
  if override.startswith("keep_checkpoints"):
    argv.append("export=false")
  assert cli.main(argv) == 2
  err = capsys.readouterr().err.strip()
  assert message in err and len(err.splitlines()) == 1, err
  assert not out.exists()


def test_a_sweep_preset_given_to_train_and_a_train_config_given_to_sweep_are_one_line(tmp_path, capsys, monkeypatch):
  monkeypatch.chdir(tmp_path)                              # nothing may appear here
  assert cli.main(["train", "--config", str(ROOT / "experiments/best.py")]) == 2   # was: unknown config key 'prune_checkpoints'
  err = capsys.readouterr().err.strip()
  assert len(err.splitlines()) == 1 and "is a sweep preset" in err and "jaxir sweep --config" in err, err
  grid_only = tmp_path / "grid_only.yaml"                  # a preset without a train section is still a preset
  grid_only.write_text("grid:\n  alphas: [0.5]\n")
  assert cli.main(["train", "--config", str(grid_only)]) == 2   # was: unknown config key 'grid'
  err = capsys.readouterr().err.strip()
  assert len(err.splitlines()) == 1 and "is a sweep preset (it has grid)" in err, err
  train = tmp_path / "train.yaml"
  train.write_text("steps: 7\n")
  assert cli.main(["sweep", "--config", str(train), "--quiet"]) == 2   # was: unknown sweep config key 'steps'
  err = capsys.readouterr().err.strip()
  assert len(err.splitlines()) == 1 and "is a train config (it has steps)" in err and "jaxir train --config" in err, err
  assert sorted(p.name for p in tmp_path.iterdir()) == ["grid_only.yaml", "train.yaml"]


def test_numbers_as_a_person_writes_them(tmp_path):
  cfg = config.build(None, ["optim.learning_rate=1e10", "optim.weight_decay=1E-5", "batch.alpha=.5",
                            "loss.temperature=5e-2", "steps=1e3", "optim.clip_norm=+2"])
  assert cfg.optim.learning_rate == 1e10 and cfg.optim.weight_decay == 1e-5 and cfg.batch.alpha == 0.5
  assert cfg.loss.temperature == 0.05 and cfg.steps == 1000 and type(cfg.steps) is int and cfg.optim.clip_norm == 2.0
  with pytest.raises(JaxirError, match="optim.learning_rate must be at least 0 and finite, got -0.0003"):
    config.build(None, ["optim.learning_rate=-3e-4"])
  with pytest.raises(JaxirError, match="config key 'steps' must be an integer, got '1.5e0'"):
    config.build(None, ["steps=1.5e0"])
  with pytest.raises(JaxirError, match="config key 'optim.learning_rate' must be a number, got 'fast'"):
    config.build(None, ["optim.learning_rate=fast"])
  assert config.build(None, ["model.name=1e5"]).model.name == "1e5"     # a string field keeps its text
  # no YAML 1.1 base-60 numbers: 5:30 is not 330, nor a query-feedback setting 5:0.75 the number 300.75
  assert config.build(None, ["model.name=5:30"]).model.name == "5:30"
  (tmp_path / "s.yaml").write_text("eval:\n  feedback: 5:0.75\n")
  assert spec_lib.build(tmp_path / "s.yaml").eval.feedback == "5:0.75"
  # A YAML config file reads 2e-5 as a string too (YAML 1.1); the extra_mono weight likewise.
  path = tmp_path / "c.yaml"
  path.write_text("optim:\n  learning_rate: 2e-5\nsteps: 1e2\n"
                  "data:\n  extra_mono: [{path: x.json, lang: de, weight: 5e-1}]\n")
  cfg = config.build(path)
  assert cfg.optim.learning_rate == 2e-5 and cfg.steps == 100 and cfg.data.extra_mono[0]["weight"] == 0.5
  assert config.parse_number("inf") == math.inf and math.isnan(config.parse_number("nan"))
  assert config.parse_number("1e-") is None and config.parse_number("e5") is None


def test_validate_checks_a_config_built_in_python():
  cfg = config.TrainConfig()
  cfg.optim.learning_rate = float("nan")
  with pytest.raises(JaxirError, match="optim.learning_rate must be at least 0 and finite"):
    config.validate(cfg)
  cfg = config.TrainConfig()
  cfg.batch.batch_size = "eight"
  with pytest.raises(JaxirError, match="'batch.batch_size' must be an integer"):
    config.validate(cfg)


# ------------------------------------------------------------------ sweep


def _sweep_config(path, model, out):
  train = {"model": {"name": str(model)}, "steps": 2, "log_every": 1, "checkpoint_every": 100, "eval_every": 0,
          "batch": {"batch_size": 8}, "optim": {"warmup_steps": 1},
          "data": {"data_dir": str(DATA), "max_query_length": 16, "max_passage_length": 32, "dev_fraction": 0.05,
                   "langs": ["en", "de", "es"]}}
  cfg = {"out_dir": str(out), "train": train,
         "grid": {"alphas": [0, 1], "seeds": 1}, "eval": {"langs": ["en", "de"], "max_articles": 1}}
  path.write_text(yaml.safe_dump(cfg))
  return path


@pytest.mark.parametrize("overrides, message", [
    (["train.log_every=0"], "log_every must be at least 1"),
    (["train.keep_checkpoints=0"], "keep_checkpoints must be at least 1"),
    (["train.optim.learning_rate=.nan"], "optim.learning_rate must be at least 0 and finite"),
    (["train.mesh.data=0"], "mesh.data must be -1"),
    (["prune_checkpoints=maybe"], "prune_checkpoints must be true or false"),
    (["grid.zero_shot=maybe"], "grid.zero_shot must be true or false"),
    (["eval.xnli.probe_c=.nan"], "eval.xnli.probe_c must be a positive finite number"),
    # Checked against the data before sweep.json: a cell that cannot draw its batches.
    (["train.data.langs=[en]"], "cell hybrid_a0_s0: batch type 'hybrid' with alpha=0 needs cross-lingual pairs"),
    (["train.batch.batch_size=100000"], "cell hybrid_a0_s0: "),
    (["train.data.max_passage_length=4096"], "cell hybrid_a0_s0: data.max_passage_length=4096 exceeds the 128 positions"),
    (["train.data.extra_mono=[{path: /nonexistent/x.json, lang: de}]"], "/nonexistent/x.json"),
])
def test_sweep_refuses_before_sweep_json(model, tmp_path, capsys, overrides, message):
  cfg = _sweep_config(tmp_path / "s.yaml", model, tmp_path / "sw")
  assert cli.main(["sweep", "--config", str(cfg), "--quiet", *overrides]) == 2
  err = capsys.readouterr().err.strip()
  assert message in err and len(err.splitlines()) == 1, err
  assert not (tmp_path / "sw").exists()


def test_sweep_numbers_as_a_person_writes_them(tmp_path):
  cfg = _sweep_config(tmp_path / "s.yaml", tmp_path / "no-model", tmp_path / "sw")
  spec = spec_lib.build(cfg, ["eval.max_articles=1e0", "eval.tokens_per_batch=4e3", "eval.xnli.probe_c=1e-2",
                              "train.optim.learning_rate=3e-5"])
  assert spec.eval.max_articles == 1 and spec.eval.tokens_per_batch == 4000 and spec.eval.xnli.probe_c == 0.01
  assert spec.train.optim.learning_rate == 3e-5


# ------------------------------------------------------------------ eval --train-langs


def test_eval_refuses_a_training_language_the_embeddings_lack(tmp_path, capsys, monkeypatch):
  from jaxir import encode
  fake = ({"benchmark": "xquad-r"}, {"langs": ["en", "de"], "per_lang": {}}, np.zeros((0, 4), np.float32))
  monkeypatch.setattr(encode, "load_embeddings", lambda path: fake)
  (tmp_path / "emb").mkdir()
  argv = ["eval", "--embeddings", str(tmp_path / "emb"), "--out", str(tmp_path / "o"), "--train-langs", "en,dee"]
  assert cli.main(argv) == 2
  err = capsys.readouterr().err.strip()
  assert "--train-langs: language(s) dee not in these embeddings (they have en de)" in err and len(err.splitlines()) == 1
  assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------ distributed environment


@pytest.mark.parametrize("env, message", [
    ({"JAXIR_COORDINATOR": "h:1", "JAXIR_NUM_PROCESSES": "abc", "JAXIR_PROCESS_ID": "0"},
     "JAXIR_NUM_PROCESSES must be an integer at least 1, got 'abc'"),
    ({"JAXIR_COORDINATOR": "h:1", "JAXIR_NUM_PROCESSES": "0", "JAXIR_PROCESS_ID": "0"},
     "JAXIR_NUM_PROCESSES must be an integer at least 1, got '0'"),
    ({"JAXIR_COORDINATOR": "h:1", "JAXIR_NUM_PROCESSES": "2", "JAXIR_PROCESS_ID": "2"},
     "JAXIR_PROCESS_ID must be an integer in [0, 1], got '2'"),
    ({"JAXIR_COORDINATOR": "h:1", "JAXIR_NUM_PROCESSES": "2", "JAXIR_PROCESS_ID": "-1"},
     "JAXIR_PROCESS_ID must be an integer in [0, 1], got '-1'"),
    ({"JAXIR_COORDINATOR": "h:1", "JAXIR_NUM_PROCESSES": "2"}, "JAXIR_COORDINATOR is set, so JAXIR_PROCESS_ID must be too"),
    ({"JAXIR_COORDINATOR": "localhost", "JAXIR_NUM_PROCESSES": "2", "JAXIR_PROCESS_ID": "0"},
     "JAXIR_COORDINATOR must be host:port"),
    ({"JAXIR_COORDINATOR": "localhost:http", "JAXIR_NUM_PROCESSES": "2", "JAXIR_PROCESS_ID": "0"},
     "the port of JAXIR_COORDINATOR must be an integer in [1, 65535], got 'http'"),
    ({"JAXIR_COORDINATOR": "localhost:70000", "JAXIR_NUM_PROCESSES": "2", "JAXIR_PROCESS_ID": "0"},
     "the port of JAXIR_COORDINATOR must be an integer in [1, 65535]"),
    ({"JAXIR_COORDINATOR": "h:1", "JAXIR_NUM_PROCESSES": "2", "JAXIR_PROCESS_ID": "1", "JAXIR_COORDINATOR_TIMEOUT": "soon"},
     "JAXIR_COORDINATOR_TIMEOUT must be a number"),
    ({"JAXIR_COORDINATOR": "h:1", "JAXIR_NUM_PROCESSES": "2", "JAXIR_PROCESS_ID": "1", "JAXIR_COORDINATOR_TIMEOUT": "0"},
     "JAXIR_COORDINATOR_TIMEOUT must be a number"),
    ({"JAXIR_NUM_PROCESSES": "2", "JAXIR_PROCESS_ID": "1"}, "set without JAXIR_COORDINATOR=host:port"),
])
def test_distributed_environment_is_checked(env, message):
  with pytest.raises(JaxirError) as e:
    trainer.distributed_env(env)
  assert message in str(e.value), str(e.value)


def test_distributed_environment_is_read():
  env = {"JAXIR_COORDINATOR": "[::1]:1234", "JAXIR_NUM_PROCESSES": "4", "JAXIR_PROCESS_ID": "3",
         "JAXIR_COORDINATOR_TIMEOUT": "2.5"}
  assert trainer.distributed_env(env) == ("[::1]:1234", "::1", 1234, 4, 3, 3)
  assert trainer.distributed_env({**env, "JAXIR_COORDINATOR_TIMEOUT": ""})[-1] == trainer.COORDINATOR_TIMEOUT
  assert trainer.distributed_env({}) is None


def test_coordinator_port_taken_on_process_0_is_one_line():
  with socket.socket() as s:
    s.bind(("", 0))
    s.listen()
    port = s.getsockname()[1]
    with pytest.raises(JaxirError, match=f"process 0 cannot start the coordinator 127.0.0.1:{port}: port {port} is taken"):
      trainer._wait_for_coordinator(f"127.0.0.1:{port}", "127.0.0.1", port, 0, 2)


def test_unreachable_coordinator_times_out_with_one_line(tmp_path):
  port = free_port()
  env = {**os.environ, "PYTHONPATH": str(ROOT), "JAXIR_COORDINATOR": f"127.0.0.1:{port}", "JAXIR_NUM_PROCESSES": "2",
         "JAXIR_PROCESS_ID": "1", "JAXIR_COORDINATOR_TIMEOUT": "2"}
  t0 = time.monotonic()
  p = subprocess.run([sys.executable, "-m", "jaxir.cli", "train", f"out_dir={tmp_path / 'run'}"], cwd=ROOT, env=env,
                     capture_output=True, text=True, timeout=120)
  assert time.monotonic() - t0 < 60
  assert p.returncode == 2, p.stderr
  lines = p.stderr.strip().splitlines()
  assert lines[0] == f"waiting for coordinator 127.0.0.1:{port} (process 1 of 2)…", p.stderr
  assert len(lines) == 2 and lines[1].startswith(f"jaxir train: error: no coordinator answered at 127.0.0.1:{port} within 2 s"), p.stderr
  assert not (tmp_path / "run").exists()

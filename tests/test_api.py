"""The Python API (jaxir.api): load / encode, the config convention of train and sweep, evaluate, report,
the callable packages, a cheap `import jaxir`, and docs/api.md run as a notebook."""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import jaxir
from jaxir import api, cli
from jaxir.errors import JaxirError
from conftest import DATA, tiny_model

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
  return tiny_model(tmp_path_factory.mktemp("m") / "tiny", 0)


@pytest.fixture(scope="module")
def model(model_dir):
  return jaxir.load(model_dir)


def test_import_is_cheap():
  code = "import jaxir, sys; assert 'jax' not in sys.modules and 'tensorflow' not in sys.modules, sorted(sys.modules)"
  env = dict(os.environ, PYTHONPATH=str(ROOT))
  subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=ROOT)


def test_train_sweep_report_stay_callable_after_their_modules_load():
  import jaxir.report.build  # noqa: F401
  import jaxir.sweep.runner  # noqa: F401
  import jaxir.train.trainer  # noqa: F401
  for name in ("train", "sweep", "report"):
    assert callable(getattr(jaxir, name)), name
  with pytest.raises(JaxirError, match="resamples must be an integer of at least 99"):
    jaxir.report("nowhere", resamples=5)


def test_encode_applies_prompts_and_normalises(model):
  assert model.dim == 16 and model.meta["query_prompt"] == "query: " and model.path.is_dir()
  texts = ["Wie hoch ist der Eiffelturm?", "Who wrote Faust?", "x"]
  q = model.encode(texts, kind="query")
  assert q.shape == (3, 16) and q.dtype == np.float32
  assert np.allclose(np.linalg.norm(q, axis=1), 1, atol=1e-5)
  by_hand = model.encode(["query: " + t for t in texts], prompts=False)
  np.testing.assert_allclose(q, by_hand, atol=1e-5)
  np.testing.assert_allclose(model.encode(texts, kind="passage"),
                             model.encode(texts, prompt="passage: "), atol=1e-5)
  np.testing.assert_allclose(model.encode(texts, kind="query", batch_size=1), q, atol=1e-5)
  assert not np.allclose(model.encode(texts, kind="passage"), q, atol=1e-3)
  assert model.encode(texts[0]).shape == (16,)
  assert model.encode([]).shape == (0, 16)


@pytest.mark.parametrize("call, message", [
    (lambda m: m.encode(["a"], kind="document"), "kind must be 'query' or 'passage', got 'document'"),
    (lambda m: m.encode(["a", 3]), "texts[1] is int, not a string"),
    (lambda m: m.encode(("a", None)), "texts[1] is NoneType, not a string"),
    (lambda m: m.encode({"a": 1}), "texts must be a string or a list of strings, got dict"),
    (lambda m: m.encode(["a"], prompt="q: ", prompts=False), "give prompt=... or prompts=False, not both"),
    (lambda m: m.encode(["a"], batch_size=0), "batch_size must be a positive integer, got 0"),
])
def test_encode_bad_input_is_one_line(model, call, message):
  with pytest.raises(JaxirError) as e:
    call(model)
  assert message in str(e.value) and "\n" not in str(e.value)


def test_load_bad_input(tmp_path):
  with pytest.raises(JaxirError, match="model not found"):
    jaxir.load(tmp_path / "missing")
  with pytest.raises(JaxirError, match="dtype must be"):
    jaxir.load(tmp_path, dtype="int8")


def test_train_config_convention(tmp_path):
  yaml = tmp_path / "c.yaml"
  yaml.write_text("steps: 7\nbatch:\n  alpha: 0.1\n  batch_size: 4\n")
  cfg = api.train_config(yaml, {"batch.alpha": 0.25, "optim": {"learning_rate": 1e-4}}, steps=9, batch__seed=3)
  assert (cfg.steps, cfg.batch.alpha, cfg.batch.batch_size, cfg.batch.seed, cfg.optim.learning_rate) == \
         (9, 0.25, 4, 3, 1e-4)
  cfg2 = api.train_config({"batch.alpha": 0.75}, ["steps=5", "batch.batch_type=mixed"])
  assert (cfg2.batch.alpha, cfg2.steps, cfg2.batch.batch_type) == (0.75, 5, "mixed")
  cfg3 = api.train_config(cfg2, out_dir=tmp_path / "run")
  assert cfg3.out_dir == str(tmp_path / "run") and cfg3.steps == 5 and cfg2.out_dir == "runs/train"
  with pytest.raises(JaxirError, match="unknown config key 'batch.alhpa'; did you mean batch.alpha"):
    api.train_config(None, batch__alhpa=0.5)
  with pytest.raises(JaxirError, match=r"batch.alpha must lie in \[0, 1\]"):
    api.train_config(None, {"batch.alpha": 2})
  with pytest.raises(JaxirError, match="train overrides must be a dict or a list of KEY=VALUE strings, got int"):
    api.train_config(None, 3)
  with pytest.raises(JaxirError, match="config must be a path"):
    jaxir.train(42)


def test_sweep_spec_from_a_dict_and_overrides(tmp_path):
  spec = api.sweep_spec(ROOT / "experiments/quick.py", {"grid.seeds": 1, "grid.alphas": [0.0, 1.0]},
                        out=tmp_path / "s", train__steps=3)
  assert spec.out_dir == str(tmp_path / "s") and spec.train.steps == 3
  assert [c.name for c in spec.cells()] == ["zero-shot", "hybrid_a0_s0", "hybrid_a1_s0"]
  spec2 = api.sweep_spec({"grid": {"seeds": 1, "alphas": [0.5], "zero_shot": False}, "out_dir": str(tmp_path / "t")})
  assert [c.name for c in spec2.cells()] == ["hybrid_a0.5_s0"]
  with pytest.raises(JaxirError, match="unknown sweep config key 'gird'"):
    api.sweep_spec({"gird": {}})
  with pytest.raises(JaxirError, match="--cells is empty"):
    jaxir.sweep({"out_dir": str(tmp_path / "u")}, cells=" , ")


def test_a_sweep_preset_and_a_train_config_are_told_apart(tmp_path):
  preset = ROOT / "experiments/best.py"
  with pytest.raises(JaxirError, match="experiments/best.py is a sweep preset .*: run it with `jaxir sweep --config"):
    api.train_config(preset)
  cfg = api.cell_train_config(preset, ["steps=7"])             # what `jaxir plan` and `jaxir data pairs` read
  assert (cfg.steps, cfg.data.hard_negatives, cfg.data.hard_negative_lang, cfg.batch.batch_size) == (7, 3, "both", 32)
  train = tmp_path / "train.yaml"
  train.write_text("steps: 7\nbatch:\n  batch_size: 4\n")
  assert api.cell_train_config(train).steps == api.train_config(train).steps == 7
  with pytest.raises(JaxirError, match=r"train.yaml is a train config \(it has batch, steps\), not a sweep preset: .*`jaxir train --config"):
    api.sweep_spec(train)
  with pytest.raises(JaxirError, match=r"unknown sweep config key 'steps': a train setting, .* \(train.steps=...\)"):
    api.sweep_spec(preset, ["steps=3"])
  sweep = tmp_path / "sweep.yaml"                              # out_dir alone is a sweep key too, not a train setting
  sweep.write_text(f"out_dir: {tmp_path / 's'}\ngrid:\n  seeds: 1\n  alphas: [0.5]\n  zero_shot: false\n")
  assert [c.name for c in api.sweep_spec(sweep).cells()] == ["hybrid_a0.5_s0"]


def test_evaluate_bad_input(model_dir):
  with pytest.raises(JaxirError, match="evaluate needs one of"):
    jaxir.evaluate()
  with pytest.raises(JaxirError, match="evaluate needs one of"):
    jaxir.evaluate("emb", model=model_dir)
  with pytest.raises(JaxirError, match="needs benchmark='xquad-r' or 'mlqa-r', got 'tatoeba'"):
    jaxir.evaluate(model=model_dir, benchmark="tatoeba")
  with pytest.raises(JaxirError, match="unknown baseline 'bm99'"):
    jaxir.evaluate(baseline="bm99", benchmark="xquad-r")


def test_evaluate_bm25_baseline_matches_the_command(tmp_path, capsys):
  summary = jaxir.evaluate(baseline="bm25", benchmark="xquad-r", data_dir=DATA, langs=["de", "en"], max_articles=1)
  assert cli.main(["eval", "--baseline", "bm25", "--benchmark", "xquad-r", "--data-dir", str(DATA),
                   "--langs", "de,en", "--max-articles", "1", "--out", str(tmp_path / "e")]) == 0
  import json
  assert json.loads((tmp_path / "e" / "summary.json").read_text())["Mo"] == pytest.approx(summary["Mo"])
  assert "eval: wrote" in capsys.readouterr().err


def test_version(capsys):
  with pytest.raises(SystemExit) as e:
    cli.main(["--version"])
  assert e.value.code == 0
  assert capsys.readouterr().out.strip() == f"jaxir {jaxir.version()}"
  assert re.fullmatch(r"\d+\.\d+\.\d+.*", jaxir.version())


def _python_blocks(text):
  return re.findall(r"```python\n(.*?)```", text, re.S)


def test_docs_api_page_runs_as_a_notebook(model_dir, tmp_path, monkeypatch):
  """docs/api.md's cells, in order, in a fresh folder: the first cell only names MODEL and DATA, which the
  test replaces with a tiny random model and the real data."""
  blocks = _python_blocks((ROOT / "docs" / "api.md").read_text())
  assert len(blocks) >= 4
  first = [l for l in blocks[0].splitlines() if l.strip()]
  assert [l.split("=")[0].strip() for l in first] == ["MODEL", "DATA"], first
  monkeypatch.chdir(tmp_path)
  ns = {"__name__": "__notebook__"}
  exec(blocks[0], ns)
  ns.update(MODEL=str(model_dir), DATA=str(DATA))
  for block in blocks[1:]:
    exec(compile(block, "docs/api.md", "exec"), ns)
  assert (tmp_path / "runs" / "notebook" / "run.json").is_file()
  assert (tmp_path / "runs" / "notebook-xquad" / "summary.json").is_file()

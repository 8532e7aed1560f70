"""Resuming over damaged files, and the filesystem's refusals: an unreadable checkpoint falls back to the
previous one (moved aside), damaged encode chunks and shards are recomputed, a cell's damaged results
are redone, a lock whose pid was reused is taken over, and an OSError is one line naming the path."""
import errno
import json
import os
import shutil
import socket
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from jaxir import cli
from jaxir.errors import JaxirError
from conftest import DATA, TWO_LANGS, free_port, steps_logged, tiny_model


@pytest.fixture(scope="module")
def model(tmp_path_factory):
  return tiny_model(tmp_path_factory.mktemp("m") / "tiny", 0)


def _garbage(path, how):
  """Damages the file at `path`: truncated, garbage bytes, or emptied."""
  if how == "truncated":
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
  elif how == "garbage":
    path.write_bytes(b"\x00garbage\xff" * 16)
  else:
    path.write_bytes(b"")


def _damage_checkpoint(step_dir):
  for p in (step_dir / "state").rglob("*"):
    if p.is_file() and p.parent.name == "d":
      _garbage(p, "garbage")


def _one_line(err, prefix):
  lines = [l for l in err.splitlines() if l.startswith(prefix)]
  assert len(lines) == 1 and "Traceback" not in err, err
  return lines[0]


# ------------------------------------------------------------------ checkpoints

def test_unreadable_checkpoint_falls_back_and_is_moved_aside(tmp_path, capsys):
  import jax.numpy as jnp
  from jaxir.train.checkpoint import Checkpoints
  ckpt = Checkpoints(tmp_path / "checkpoints", keep=3)
  state = {"w": jnp.arange(6.0).reshape(2, 3), "b": jnp.ones(3)}
  for step in (10, 20):
    ckpt.save(step, {k: v * step for k, v in state.items()}, {"next_step": step})
  ckpt.wait()
  _damage_checkpoint(tmp_path / "checkpoints" / "20")
  step, restored, position, bad = ckpt.restore_readable(state)
  assert (step, position, bad) == (10, {"next_step": 10}, [20])
  np.testing.assert_allclose(np.asarray(restored["w"]), np.asarray(state["w"]) * 10)
  err = capsys.readouterr().err
  line = _one_line(err, "checkpoint step 20 unreadable (")
  assert line.endswith("; resuming from step 10")
  # Moved aside (kept, out of orbax's way): step 20 can be saved again.
  ckpt.move_aside(20)
  assert (tmp_path / "checkpoints" / ".corrupt-20" / "state").is_dir()
  assert ckpt.manager.all_steps() == [10]
  ckpt.save(20, state, {"next_step": 20})
  ckpt.wait()
  assert ckpt.restore_readable(state)[0] == 20
  # Nothing readable: one error line; an explicit unreadable step too.
  for step in (10, 20):
    _damage_checkpoint(tmp_path / "checkpoints" / str(step))
  with pytest.raises(JaxirError, match=r"no readable checkpoint \(step 20: .*; step 10: "):
    ckpt.restore_readable(state)
  with pytest.raises(JaxirError, match="checkpoint step 10 unreadable"):
    ckpt.restore_readable(state, 10)
  assert "Traceback" not in capsys.readouterr().err
  ckpt.close()


def _train_args(model, out, **more):
  args = {"out_dir": out, "model.name": model, "data.data_dir": DATA, "steps": 4, "log_every": 1,
          "checkpoint_every": 2, "keep_checkpoints": 3, "eval_every": 0, "batch.batch_size": 8,
          "optim.warmup_steps": 1, "data.max_passage_length": 64, "data.max_query_length": 32, "export": False, **more}
  return ["train", "--quiet", *[f"{k}={v}" for k, v in args.items()]]


def test_train_resumes_from_the_previous_readable_checkpoint(model, tmp_path, capsys):
  """A run whose newest checkpoint is unreadable resumes from the one before (said in one line) and
  saves that step again (the damaged one kept aside); `checkpoint_model` exports the previous one."""
  from jaxir.train.trainer import checkpoint_model
  out = tmp_path / "run"
  assert cli.main(_train_args(model, out)) == 0
  (out / "run.json").unlink()                          # as if killed after its last checkpoint
  shutil.copytree(out / "checkpoints", tmp_path / "intact")
  _damage_checkpoint(out / "checkpoints" / "4")
  capsys.readouterr()
  assert cli.main(_train_args(model, out)) == 0
  err = capsys.readouterr().err
  assert _one_line(err, "checkpoint step 4 unreadable (").endswith("; resuming from step 2")
  assert "train: resumed" in err and "at step 2" in err
  assert (out / "run.json").exists() and (out / "checkpoints" / ".corrupt-4" / "state").is_dir()
  assert sorted(int(p.name) for p in (out / "checkpoints").iterdir() if p.name.isdigit()) == [2, 4]
  # Exporting: the latest readable checkpoint, said; an unreadable explicit step is one error.
  _damage_checkpoint(out / "checkpoints" / "4")
  pretrained = checkpoint_model(out)
  assert pretrained.meta["source"].endswith("step 2")
  assert _one_line(capsys.readouterr().err, "checkpoint step 4 unreadable (").endswith("; exporting from step 2")
  with pytest.raises(JaxirError, match="checkpoint step 4 unreadable"):
    checkpoint_model(out, 4)


def _sigterm_at_call(n):
  """A stand-in for trainer._real_tokens that sends this process SIGTERM on its n-th call (during step n)."""
  import signal
  from jaxir.train import trainer
  real, calls = trainer._real_tokens, []

  def counted(arrays):
    calls.append(1)
    if len(calls) == n:
      os.kill(os.getpid(), signal.SIGTERM)
    return real(arrays)
  return counted


def test_sigterm_saves_the_step_it_is_at_and_the_rerun_resumes_there(model, tmp_path, capsys, monkeypatch):
  """SIGTERM during step 3 (checkpoints every 2): the step finishes, a checkpoint of step 3 is saved, exit 143
  with one line; the rerun resumes at step 3 and finishes. (That a resumed run equals an unstopped one is
  test_trainer.py's kill -9 test.)"""
  import signal
  from jaxir.train import trainer
  out = tmp_path / "run"
  with monkeypatch.context() as m:
    m.setattr(trainer, "_real_tokens", _sigterm_at_call(3))
    assert cli.main(_train_args(model, out, **TWO_LANGS)) == 143
  err = capsys.readouterr().err
  assert _one_line(err, "jaxir train: ") == (f"jaxir train: stopped by SIGTERM at step 3 of 4, after saving a checkpoint"
                                             f" of that step in {out / 'checkpoints'}; finished work is kept, rerun to resume")
  assert sorted(int(p.name) for p in (out / "checkpoints").iterdir() if p.name.isdigit()) == [2, 3]
  assert not (out / "run.json").exists()
  last = json.loads((out / "log.jsonl").read_text().splitlines()[-1])
  assert (last["event"], last["step"], last["why"]) == ("stopped", 3, "SIGTERM")
  assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL          # the handlers are taken back
  assert cli.main(_train_args(model, out, **TWO_LANGS)) == 0
  assert f"train: resumed {out} at step 3" in capsys.readouterr().err
  assert (out / "run.json").exists()


def test_sigterm_before_training_is_one_line(model, tmp_path, capsys, monkeypatch):
  """SIGTERM while the data loads (outside the loop): exit 143, one line, nothing written yet."""
  import signal
  from jaxir.train import trainer
  real = trainer.load_checked

  def load_then_term(*a, **k):
    data = real(*a, **k)
    os.kill(os.getpid(), signal.SIGTERM)
    return data
  monkeypatch.setattr(trainer, "load_checked", load_then_term)
  assert cli.main(_train_args(model, tmp_path / "run")) == 143
  assert _one_line(capsys.readouterr().err, "jaxir train: ") == \
      "jaxir train: stopped by SIGTERM; finished work is kept, rerun to resume"
  assert not (tmp_path / "run").exists()


def test_a_stop_that_arrives_while_the_hook_sends_it_again_is_not_lost():
  """On a loaded machine the mark sent again once arrived while the main thread was still inside the hook
  (starting the thread that sends it): raised there it was dropped once more, for good. Now a handler inside the
  hook leaves the signal pending, and the sending goes on until a handler raises it outside."""
  import signal
  import time
  import types
  from jaxir.errors import Stopped
  sigint = signal.getsignal(signal.SIGINT)           # xdist's workers ignore it; kept so
  with cli.sigterm_stops():
    hook = sys.unraisablehook
    assert signal.getsignal(signal.SIGINT) in (cli._raise_interrupt, signal.SIG_IGN)
    cli._Redelivery.in_hook = True
    try:
      assert cli._raise_stopped(signal.SIGTERM, None) is None     # inside the hook: no raise
    finally:
      cli._Redelivery.in_hook = False
    caught = None
    hook(types.SimpleNamespace(exc_value=Stopped("stopped by SIGTERM")))   # as Python drops one
    assert cli._Redelivery.pending == signal.SIGTERM and cli._Redelivery.thread is not None
    deadline = time.time() + 10
    while caught is None and time.time() < deadline:
      try:
        time.sleep(0.001)
      except Stopped as e:
        caught = e
    assert str(caught) == "stopped by SIGTERM" and cli._Redelivery.pending is None
    while cli._Redelivery.thread is not None and time.time() < deadline:
      time.sleep(0.005)
    assert cli._Redelivery.thread is None                        # the sender stops once delivered
  assert signal.getsignal(signal.SIGINT) is sigint


def test_a_stop_that_lands_in_a_garbage_collector_callback_is_not_lost(model, tmp_path, capsys, monkeypatch):
  """Python runs a signal's handler wherever the main thread is. Inside a gc callback (JAX has one) its
  exception used to be printed and dropped, and `jaxir train` ran on to the end with exit 0 (seen in a
  sweep, reproduced by killing `jaxir train` 0.5-8 s after launch). Now the stop is delivered again.
  (Ctrl-C takes the same path; it is checked on real processes, not here: inside the xdist suite a
  self-sent SIGINT was once not seen by Python at all.)"""
  import gc
  import signal
  from jaxir.train import trainer
  real = trainer.load_checked

  def signal_inside_gc(phase, info):
    if phase == "start":
      gc.callbacks.remove(signal_inside_gc)
      os.kill(os.getpid(), signal.SIGTERM)
      for _ in range(1000):       # bytecodes inside the callback, where the handler runs
        pass

  def load_with_a_gc(*a, **k):
    data = real(*a, **k)
    gc.callbacks.append(signal_inside_gc)
    gc.collect()
    return data
  monkeypatch.setattr(trainer, "load_checked", load_with_a_gc)
  hook = sys.unraisablehook                       # pytest's own
  assert cli.main(_train_args(model, tmp_path / "run")) == 143
  err = capsys.readouterr().err
  assert _one_line(err, "jaxir train: ") == "jaxir train: stopped by SIGTERM; finished work is kept, rerun to resume"
  assert "Exception ignored" not in err and not (tmp_path / "run" / "run.json").exists()
  assert sys.unraisablehook is hook and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_sigterm_to_one_of_two_processes_stops_both_at_one_saved_step(model, tmp_path):
  """A pod where one host gets the preemption notice (SIGTERM): JAX's preemption sync point stops both
  processes after the same step, with a checkpoint of it; both exit 143 with one line."""
  import signal
  import subprocess
  import sys
  import time
  out = tmp_path / "run"
  args = _train_args(model, out, steps=40, checkpoint_every=100, **TWO_LANGS)
  port = free_port()
  procs = [subprocess.Popen([sys.executable, "-m", "jaxir.cli", *args], cwd=Path(__file__).resolve().parents[1],
                            env={**os.environ, "JAX_PLATFORMS": "cpu", "JAXIR_COORDINATOR": f"localhost:{port}",
                                 "JAXIR_NUM_PROCESSES": "2", "JAXIR_PROCESS_ID": str(i),
                                 "JAXIR_COORDINATOR_TIMEOUT": "60"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
  try:
    deadline = time.time() + 240
    while not steps_logged(out) and time.time() < deadline and all(p.poll() is None for p in procs):
      time.sleep(0.05)
    procs[1].send_signal(signal.SIGTERM)
    errs = [p.communicate(timeout=120)[1] for p in procs]
  finally:
    for p in procs:
      p.kill()
  assert [p.returncode for p in procs] == [143, 143], errs
  last = json.loads((out / "log.jsonl").read_text().splitlines()[-1])
  assert last["event"] == "stopped" and 1 <= last["step"] < 40, last
  lines = {_one_line(e, "jaxir train: ") for e in errs}
  assert lines == {f"jaxir train: stopped by SIGTERM at step {last['step']} of 40, after saving a checkpoint of "
                   f"that step in {out / 'checkpoints'}; finished work is kept, rerun to resume"}, errs
  assert [p.name for p in (out / "checkpoints").iterdir() if p.name.isdigit()] == [str(last["step"])]
  assert not (out / "run.json").exists()


# ------------------------------------------------------------------ encode chunks and shards

def _encode(model, out, **kw):
  from jaxir.encode import encode_benchmark
  return encode_benchmark(model, "xquad-r", out, DATA, ["en", "de"], 1, tokens_per_batch=512, chunk_texts=16,
                          progress=False, **kw)


def _wrong_keys(path):
  with open(path, "wb") as f:
    np.savez(f, rows=np.zeros(3))


def _wrong_shape(path):
  with np.load(path) as z:
    members, emb = z["members"], z["emb"]
  with open(path, "wb") as f:
    np.savez(f, members=members, emb=emb[:, :3])


@pytest.fixture(scope="module")
def partial_export(model, tmp_path_factory):
  """A finished export of XQuAD-R and its `.partial/` chunks, as an interrupted export leaves them."""
  from jaxir import storage                 # jaxir.encode removes its .partial/ through storage.rmtree
  out = tmp_path_factory.mktemp("enc") / "emb"
  keep = storage.rmtree
  storage.rmtree = lambda *a, **k: None
  try:
    _encode(model, out)
  finally:
    storage.rmtree = keep
  assert len(list((out / ".partial").glob("chunk_*.npz"))) >= 3
  return out


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", _wrong_keys, _wrong_shape])
def test_damaged_encode_chunk_is_recomputed(model, partial_export, tmp_path, capsys, damage):
  out = tmp_path / "emb"
  shutil.copytree(partial_export, out)
  reference = np.load(out / "embeddings.npy")
  for name in ("manifest.json", "embeddings.npy", "index.json", "texts.json"):
    (out / name).unlink()
  chunk = out / ".partial" / "chunk_00001.npz"
  damage(chunk) if callable(damage) else _garbage(chunk, damage)
  _encode(model, out)
  err = capsys.readouterr().err
  assert _one_line(err, "encode: ").startswith(f"encode: {chunk} is damaged (")
  assert err.rstrip().endswith("recomputing it")
  manifest = json.loads((out / "manifest.json").read_text())
  assert 0 < manifest["reused_texts"] < manifest["n_texts"]
  np.testing.assert_allclose(np.load(out / "embeddings.npy"), reference, rtol=1e-5, atol=1e-6)


def _truncated_npy(path):
  data = path.read_bytes()
  path.write_bytes(data[:len(data) - 40])


def _other_shape_npy(path):
  np.save(path, np.zeros((2, 4), np.float32))


@pytest.mark.parametrize("damage", [_truncated_npy, lambda p: _garbage(p, "garbage"), _other_shape_npy,
                                    lambda p: p.with_suffix(".ids").write_text("only-one\n")])
def test_damaged_shard_with_a_valid_json_is_recomputed(tmp_path, capsys, damage):
  from jaxir.shards import Store, write_store
  records = [(f"d{i}", f"text {i}") for i in range(10)]
  embedded = []

  def embed(texts, bar):
    embedded.append(list(texts))
    return np.asarray([[float(t.split()[1]), 1.0, 2.0] for t in texts], np.float32)

  folder = tmp_path / "store"
  write_store(folder, records, embed, 3, rows_per_shard=4, progress=False)
  embedded.clear()
  damage(folder / "shard_00001.npy")
  meta = write_store(folder, records, embed, 3, rows_per_shard=4, progress=False)
  assert embedded == [["text 4", "text 5", "text 6", "text 7"]] and meta["reused_rows"] == 6
  assert "is damaged (" in _one_line(capsys.readouterr().err, "encode: ")
  store = Store(folder)
  np.testing.assert_array_equal(store.read()[:, 0], np.arange(10))
  assert store.ids() == [r[0] for r in records]


# ------------------------------------------------------------------ OSError: one line, the path and the reason

def _sweep_config(path, model, out):
  cfg = {"out_dir": str(out),
         "train": {"model": {"name": str(model)}, "steps": 2, "log_every": 1, "checkpoint_every": 100, "eval_every": 0,
                   "batch": {"batch_size": 8}, "optim": {"warmup_steps": 1},
                   "data": {"data_dir": str(DATA), "max_query_length": 32, "max_passage_length": 64,
                            "dev_fraction": 0.05, "langs": ["en", "de", "es"]}},
         "grid": {"alphas": [0], "seeds": 1},
         "eval": {"langs": ["en", "de"], "max_articles": 1, "benchmarks": ["xquad-r"]}}
  path.write_text(yaml.safe_dump(cfg))
  return path


def _bm25(out):
  return ["eval", "--baseline", "bm25", "--benchmark", "xquad-r", "--data-dir", str(DATA), "--langs", "en,de",
          "--max-articles", "1", "--out", str(out)]


@pytest.mark.parametrize("command", ["encode", "eval", "train", "sweep"])
def test_output_under_a_file_is_one_line(model, tmp_path, capsys, command):
  blocker = tmp_path / "a-file"
  blocker.write_text("not a directory\n")
  out = blocker / "out"
  argv = {"encode": ["encode", "--model", str(model), "--benchmark", "xquad-r", "--data-dir", str(DATA),
                     "--langs", "en,de", "--max-articles", "1", "--out", str(out)],
          "eval": _bm25(out),
          "train": _train_args(model, out),
          "sweep": ["sweep", "--config", str(_sweep_config(tmp_path / "s.yaml", model, out)), "--quiet"]}[command]
  assert cli.main(argv) == 2
  line = _one_line(capsys.readouterr().err, f"jaxir {command}: error: ")
  assert line.startswith(f"jaxir {command}: error: {out}") and line.endswith(": Not a directory")
  assert blocker.read_text() == "not a directory\n"


def test_full_disk_is_one_line_and_the_old_outputs_stay(tmp_path, capsys, monkeypatch):
  out = tmp_path / "ev"
  assert cli.main(_bm25(out)) == 0
  before = {p.name: p.read_bytes() for p in out.iterdir()}
  real = os.replace

  def full(src, dst, *a, **k):
    if Path(dst).parent == out:
      raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))   # as a failed write: no file named
    return real(src, dst, *a, **k)

  monkeypatch.setattr(os, "replace", full)
  assert cli.main(_bm25(out)) == 2
  line = _one_line(capsys.readouterr().err, "jaxir eval: error: ")
  assert line == f"jaxir eval: error: {out / 'per_query.npz'}: {os.strerror(errno.ENOSPC)}"
  assert {p.name: p.read_bytes() for p in out.iterdir()} == before         # nor any temporary file left


def test_os_error_line():
  assert cli.os_error(OSError("no more inodes")) == "no more inodes"
  assert cli.os_error(PermissionError(errno.EROFS, os.strerror(errno.EROFS), "/ro/x")) == \
      f"/ro/x: {os.strerror(errno.EROFS)}"


@pytest.mark.parametrize("how", ["truncated", "garbage", "empty"])
def test_a_damaged_npz_is_an_error_and_its_file_is_closed(tmp_path, how):
  """`storage.load` of a damaged .npz raises, and leaves no open file behind (np.load alone leaks it: a
  ResourceWarning once garbage collection closes it). A sound one is closed by `with`."""
  import gc
  import warnings
  import zipfile
  from jaxir import storage
  path = tmp_path / "a.npz"
  np.savez(path, emb=np.arange(6.0).reshape(2, 3), members=np.asarray(["a", "b"]))
  with storage.load(path) as z:
    assert z["members"].tolist() == ["a", "b"]
    fid = z.fid
  assert fid.closed
  _garbage(path, how)
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", ResourceWarning)
    with pytest.raises((zipfile.BadZipFile, EOFError, ValueError, OSError)):
      storage.load(path)
    gc.collect()
  assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


# ------------------------------------------------------------------ sweep cells and locks

def test_finished_means_readable(tmp_path):
  from jaxir.sweep.cell import damaged, is_finished
  cell = tmp_path / "cell"
  ev = cell / "eval" / "xquad-r"
  ev.mkdir(parents=True)
  (cell / "cell.json").write_text(json.dumps({"seconds": 1}))
  (ev / "summary.json").write_text(json.dumps({"Mo": 0.5}))
  with open(ev / "per_query.npz", "wb") as f:
    np.savez_compressed(f, **{"mul/en": np.ones(3), "ids/en": np.asarray(["a", "b", "c"])})
  (cell / "eval" / "tatoeba").mkdir()
  (cell / "eval" / "tatoeba" / "summary.json").write_text("{}")
  assert is_finished(cell, ["xquad-r", "tatoeba"]) and damaged(cell, ["xquad-r", "tatoeba"]) == {}
  intact = {p: p.read_bytes() for p in cell.rglob("*") if p.is_file()}
  cases = [(ev / "summary.json", lambda p: p.write_text('{"Mo": 0.')),
           (ev / "summary.json", lambda p: p.write_text("[1, 2]")),
           (ev / "per_query.npz", lambda p: p.unlink()),
           (ev / "per_query.npz", lambda p: _garbage(p, "truncated")),
           (cell / "cell.json", lambda p: _garbage(p, "garbage"))]
  for path, damage in cases:
    damage(path)
    assert not is_finished(cell, ["xquad-r", "tatoeba"]), path
    assert list(damaged(cell, ["xquad-r", "tatoeba"])) == [path]
    for p, data in intact.items():
      p.write_bytes(data)


@pytest.fixture(scope="module")
def zero_shot_sweep(model, tmp_path_factory):
  root = tmp_path_factory.mktemp("sweep")
  cfg = _sweep_config(root / "s.yaml", model, root / "sw")
  assert cli.main(["sweep", "--config", str(cfg), "--cells", "zero-shot", "--quiet"]) == 0
  return root / "sw", cfg


@pytest.mark.parametrize("name,damage,said", [
    ("eval/xquad-r/summary.json", lambda p: _garbage(p, "truncated"), "evaluating xquad-r again"),
    ("eval/xquad-r/per_query.npz", lambda p: p.unlink(), "evaluating xquad-r again"),
    ("eval/xquad-r/per_query.npz", lambda p: _garbage(p, "garbage"), "evaluating xquad-r again"),
    ("cell.json", lambda p: _garbage(p, "truncated"), "recording the cell again")])
def test_damaged_cell_is_redone(zero_shot_sweep, tmp_path, capsys, name, damage, said):
  src, cfg = zero_shot_sweep
  out = tmp_path / "sw"
  shutil.copytree(src, out)
  cell = out / "cells" / "zero-shot"
  damage(cell / name)
  assert cli.main(["sweep", "--config", str(cfg), "--out", str(out), "--cells", "zero-shot", "--quiet"]) == 0
  captured = capsys.readouterr()
  assert "1 run now" in captured.out
  assert _one_line(captured.err, "sweep: zero-shot: ").endswith(said)
  assert f"{cell / name} is unreadable (" in captured.err
  json.loads((cell / "eval" / "xquad-r" / "summary.json").read_text())
  with np.load(cell / "eval" / "xquad-r" / "per_query.npz") as z:
    assert "mul/en" in z.files
  assert json.loads((cell / "cell.json").read_text())["benchmarks"] == ["xquad-r"]


def test_busy_cell_names_its_lock(zero_shot_sweep, tmp_path, capsys):
  src, cfg = zero_shot_sweep
  out = tmp_path / "sw"
  shutil.copytree(src, out)
  cell = out / "cells" / "zero-shot"
  (cell / "cell.json").unlink()
  lock = cell / ".lock"
  lock.write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "since": "then"}))
  assert cli.main(["sweep", "--config", str(cfg), "--out", str(out), "--cells", "zero-shot"]) == 0
  assert (f"sweep: zero-shot is being run by process {os.getpid()} on {socket.gethostname()} since then "
          f"(lock {lock}, touched ") in capsys.readouterr().err
  assert lock.exists() and not (cell / "cell.json").exists()


def test_lock_of_a_reused_pid_is_taken_over(tmp_path, capsys):
  """A lock of this host names a live process that started at another time than its holder (the pid
  was reused): stale, taken over, said; the holder's own start time keeps it held."""
  from jaxir.sweep import lock
  me = lock._start_time(os.getpid())
  assert isinstance(me, int)
  for pid in (1, os.getppid()):
    cell = tmp_path / f"cell{pid}"
    cell.mkdir()
    (cell / ".lock").write_text(json.dumps({"host": socket.gethostname(), "pid": pid, "since": "then",
                                            "start": lock._start_time(pid) + 1}))
    assert lock.acquire(cell) is None
    assert json.loads((cell / ".lock").read_text())["start"] == me
    lock.release(cell)
    assert f"sweep: {cell / '.lock'}: process {pid} is alive but is not the lock's holder" in capsys.readouterr().err
  held = tmp_path / "held"
  held.mkdir()
  record = {"host": socket.gethostname(), "pid": os.getppid(), "since": "then", "start": lock._start_time(os.getppid())}
  (held / ".lock").write_text(json.dumps(record))
  assert lock.acquire(held) == record and capsys.readouterr().err == ""
  assert lock.describe(record, held / ".lock").startswith(
      f"process {os.getppid()} on {socket.gethostname()} since then (lock {held / '.lock'}, touched ")

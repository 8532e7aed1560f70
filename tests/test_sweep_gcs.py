"""`jaxir sweep --out gs://...` on a fake GCS (tests/fake_gcs.py: epath's gs:// backend and google-cloud-storage's
Client on one local folder, the client keeping GCS's generation preconditions): the cell lock as an object
created only if absent (two takers race, one wins; a stale lock is taken over by one taker; only its holder
releases it), a refusal in one line without google-cloud-storage, and a tiny sweep that is interrupted,
resumes and scores as the same sweep on a local disk."""
import json
import os
import sys
import threading

import pytest
import yaml

from jaxir import cli
from jaxir.errors import JaxirError
from jaxir.report import load
from jaxir.sweep import lock
from conftest import DATA, tiny_model
from fake_gcs import FakeClient, age, fake_gcs_in

CELL = "gs://b/sw/cells/hybrid_a1_s0"
LOCK = CELL + "/.lock"


@pytest.fixture
def gcs(tmp_path, monkeypatch):
  monkeypatch.setattr(lock, "HEARTBEAT_S", 0.05)
  monkeypatch.setattr(lock, "_beats", {})   # this test's heartbeats only (another test file may leave one running)
  with fake_gcs_in(tmp_path, monkeypatch) as fake:
    yield fake


@pytest.fixture(scope="module")
def model(tmp_path_factory):
  return tiny_model(tmp_path_factory.mktemp("m") / "tiny", 0)


def _blob(fake, uri=LOCK):
  bucket, key = uri[len("gs://"):].split("/", 1)
  return FakeClient(fake.root).bucket(bucket).get_blob(key)


def _race(monkeypatch, method, n=2):
  """Runs `lock.acquire(CELL)` in `n` threads that all reach `_Object.<method>` before any of them calls it."""
  barrier, real = threading.Barrier(n, timeout=10), getattr(lock._Object, method)

  def together(self, *args):
    barrier.wait()
    return real(self, *args)
  monkeypatch.setattr(lock._Object, method, together)
  results = [None] * n

  def take(i):
    results[i] = lock.acquire(CELL)
  threads = [threading.Thread(target=take, args=(i,)) for i in range(n)]
  for t in threads:
    t.start()
  for t in threads:
    t.join(timeout=30)
  monkeypatch.setattr(lock._Object, method, real)
  return results


def test_two_takers_race_for_a_gcs_lock_and_one_wins(gcs, monkeypatch):
  results = _race(monkeypatch, "create")                     # both create with ifGenerationMatch=0 at once
  assert results.count(None) == 1
  held = next(r for r in results if r is not None)
  assert held["pid"] == os.getpid()                          # the loser sees the winner's record
  lock.release(CELL)
  assert _blob(gcs) is None and not lock._beats

  # A stale lock of another host: both takers read its generation, both rewrite matched to it; one wins.
  _blob_new = FakeClient(gcs.root).bucket("b").blob(LOCK[len("gs://b/"):])
  _blob_new.upload_from_string(json.dumps({"host": "elsewhere", "pid": 1, "since": "t"}), if_generation_match=0)
  age(gcs.root, LOCK, lock.STALE_AFTER_S + 1)
  results = _race(monkeypatch, "rewrite")
  assert results.count(None) == 1
  assert json.loads(_blob(gcs).download_as_bytes())["pid"] == os.getpid()
  lock.release(CELL)
  assert _blob(gcs) is None


def _until(condition, seconds=20):
  import time
  end = time.monotonic() + seconds
  while not condition() and time.monotonic() < end:
    time.sleep(0.02)
  return condition()


def test_gcs_lock_heartbeat_stale_takeover_and_release_by_its_holder_only(gcs, capsys):
  assert lock.acquire(CELL) is None
  first = _blob(gcs).generation
  assert _until(lambda: _blob(gcs).generation != first)      # the heartbeat rewrote it (matched to its generation)
  assert lock.acquire(CELL)["pid"] == os.getpid()            # not re-entrant
  lock.release(CELL)
  assert _blob(gcs) is None

  theirs = json.dumps({"host": "elsewhere", "pid": 1, "since": "t"})
  FakeClient(gcs.root).bucket("b").blob(LOCK[len("gs://b/"):]).upload_from_string(theirs, if_generation_match=0)
  holder = lock.acquire(CELL)                                # fresh: held, whatever its pid means here
  assert lock.describe(holder, LOCK) == f"process 1 on elsewhere since t (lock {LOCK}, touched 0s ago)"
  lock.release(CELL)                                         # not ours: stays
  assert _blob(gcs).download_as_bytes().decode() == theirs
  age(gcs.root, LOCK, lock.STALE_AFTER_S + 1)                # that host's heartbeat stopped: taken over
  assert lock.acquire(CELL) is None
  assert json.loads(_blob(gcs).download_as_bytes())["pid"] == os.getpid()

  # Another process takes it over meanwhile (this one's heartbeat had stopped): this one no longer holds it;
  # its heartbeat says so, and its release (matched to its old generation) deletes nothing.
  blob = _blob(gcs)
  blob.upload_from_string(theirs, if_generation_match=blob.generation)
  assert _until(lambda: lock._beats[LOCK].generation is None)
  assert "lost this process's cell lock" in capsys.readouterr().err
  lock.release(CELL)
  assert _blob(gcs).download_as_bytes().decode() == theirs and not lock._beats

  FakeClient(gcs.root).bucket("b").blob("sw/cells/other/.lock").upload_from_string("not json")
  with pytest.raises(JaxirError, match=r"holds no JSON \(not a jaxir lock"):
    lock.acquire("gs://b/sw/cells/other")


def test_a_gcs_lock_whose_create_reply_was_lost_is_this_process_s(gcs, monkeypatch):
  """The client retries a create whose reply was lost; the retry fails its precondition on this call's own
  object, which is then held (not left as another's until it goes stale)."""
  create = lock._Object.create
  monkeypatch.setattr(lock._Object, "create", lambda self, text: (create(self, text), None)[1])
  assert lock.acquire(CELL) is None and lock._beats[LOCK].generation == _blob(gcs).generation
  lock.release(CELL)
  assert _blob(gcs) is None


def test_gcs_sweep_without_google_cloud_storage_is_one_line(gcs, model, tmp_path, capsys, monkeypatch):
  import google.cloud
  monkeypatch.setitem(sys.modules, "google.cloud.storage", None)     # import fails as if not installed
  monkeypatch.delattr(google.cloud, "storage")
  monkeypatch.setattr(lock, "_client_of", {})
  cfg = _config(tmp_path / "s.yaml", model, "gs://b/sw")
  assert cli.main(["sweep", "--config", str(cfg), "--quiet"]) == 2
  err = capsys.readouterr().err
  assert err.startswith("jaxir sweep: error: a gs:// sweep takes its cell locks through google-cloud-storage, "
                        "which is not installed: pip install -e .[gcs]") and err.count("\n") == 1, err
  assert not os.path.exists(gcs.local("gs://b/sw"))


def _config(path, model, out):
  cfg = {"out_dir": str(out),
         "train": {"model": {"name": str(model)}, "steps": 2, "log_every": 1, "checkpoint_every": 100, "eval_every": 0,
                   "batch": {"batch_size": 8}, "optim": {"warmup_steps": 1},
                   "data": {"data_dir": str(DATA), "max_query_length": 32, "max_passage_length": 64,
                            "dev_fraction": 0.05, "langs": ["en", "de", "es"]}},
         "grid": {"alphas": [1], "seeds": 1, "zero_shot": False},
         "eval": {"benchmarks": ["xquad-r"], "langs": ["en", "de", "el"], "max_articles": 1}}
  path.write_text(yaml.safe_dump(cfg))
  return path


def test_gcs_sweep_is_interrupted_resumes_and_equals_a_local_one(gcs, model, tmp_path, capsys, monkeypatch):
  from jaxir import backends
  with backends.compilation_cache(tmp_path / "xla"):       # one cache for both sweeps: the local one compiles nothing
    _interrupt_resume_and_compare(model, tmp_path, capsys, monkeypatch, gcs)


def _interrupt_resume_and_compare(model, tmp_path, capsys, monkeypatch, gcs):
  import tempfile
  import numpy as np
  from jaxir import encode, storage
  embed = encode._embed_steps
  scratch = tmp_path / "scratch"                  # where the gs:// models' local copies are made
  scratch.mkdir()
  monkeypatch.setattr(tempfile, "tempdir", str(scratch))

  def killed(*args, **kw):
    raise KeyboardInterrupt
  monkeypatch.setattr(encode, "_embed_steps", killed)             # trained and exported, then killed in its encode
  cfg = _config(tmp_path / "g.yaml", model, "gs://b/sw")
  assert cli.main(["sweep", "--config", str(cfg), "--quiet"]) == 130
  cell = gcs.local(CELL)
  assert os.path.isfile(os.path.join(cell, "train/run.json")) and not os.path.exists(os.path.join(cell, "cell.json"))
  assert not os.path.exists(os.path.join(cell, ".lock"))           # released on the way out
  monkeypatch.setattr(encode, "_embed_steps", embed)
  assert cli.main(["sweep", "--config", str(cfg), "--quiet"]) == 0
  assert "1 cells finished (1 run now, 0 already done) in gs://b/sw" in capsys.readouterr().out
  assert not os.path.exists(os.path.join(cell, ".lock")) and not os.path.exists(os.path.join(cell, "train/checkpoints"))
  assert cli.main(["sweep", "--config", str(cfg), "--quiet"]) == 0         # finished: nothing to do
  assert "(0 run now, 1 already done)" in capsys.readouterr().out
  assert cli.main(["sweep", "--config", str(cfg), "--quiet", "grid.wise=[0.5]"]) == 0   # grown: its interpolation
  assert "(1 run now, 1 already done)" in capsys.readouterr().out
  # every gs:// model read was copied, loaded and its copy deleted: none is kept until the process exits
  assert not [p.name for p in scratch.iterdir() if p.name.startswith("jaxir-")]
  monkeypatch.setattr(tempfile, "tempdir", None)

  local = _config(tmp_path / "l.yaml", model, tmp_path / "local")
  assert cli.main(["sweep", "--config", str(local), "--quiet", "grid.wise=[0.5]"]) == 0
  for name in ("hybrid_a1_s0", "hybrid_a1_w0.5_s0"):
    ours = storage.read_json(f"gs://b/sw/cells/{name}/eval/xquad-r/summary.json")
    theirs = storage.read_json(tmp_path / f"local/cells/{name}/eval/xquad-r/summary.json")
    for key in ("Mo", "Cr", "Mul", "RD"):
      assert ours[key] == pytest.approx(theirs[key], abs=1e-6), (name, key)
  a = storage.load(f"{CELL}/emb/xquad-r/embeddings.npy")
  b = np.load(tmp_path / "local/cells/hybrid_a1_s0/emb/xquad-r/embeddings.npy")
  assert a.shape == b.shape and np.allclose(a, b, atol=1e-6)
  record = storage.read_json(f"{CELL}/cell.json")
  assert record["model_dir"] == f"{CELL}/train/export"


def test_report_of_a_gcs_sweep_is_refused_in_one_line(gcs, capsys):
  """`jaxir report` reads a local copy of a gs:// sweep; never a local folder named "gs:"."""
  assert cli.main(["report", "gs://b/sw"]) == 2
  assert capsys.readouterr().err == ("jaxir report: error: gs://b/sw: jaxir report works on a local or shared filesystem "
                                     f"only ({load.REPORT_CLOUD})\n")

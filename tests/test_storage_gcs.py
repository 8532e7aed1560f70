"""Runs on cloud storage: out_dir=gs://bucket/run trains, checkpoints (orbax), is interrupted, resumes and
exports through etils.epath, on a fake GCS (tests/fake_gcs.py: epath's gs:// backend and orbax's tensorstore
kvstore are served from a local folder; jaxir's own code is the one a real bucket runs); `jaxir encode
--out gs://` (xquad-r chunks, beir shards) is interrupted, resumes and equals a local export, and `jaxir eval`
reads it. Plus the storage layer's object-store rules: one upload per file, a directory's marker uploaded
last, nothing replaced that jaxir did not write. (The gs:// sweep and its locks: tests/test_sweep_gcs.py.)"""
import json
import os

import numpy as np
import pytest

from jaxir import cli
from jaxir import storage
from jaxir.errors import JaxirError
from conftest import DATA, tiny_model
from fake_gcs import fake_gcs_in


@pytest.fixture
def gcs(tmp_path, monkeypatch):
  with fake_gcs_in(tmp_path, monkeypatch) as fake:
    yield fake


@pytest.fixture(scope="module")
def model(tmp_path_factory):
  return tiny_model(tmp_path_factory.mktemp("m") / "tiny", 0)


def _train_args(model, out, **kw):
  args = {"out_dir": out, "model.name": model, "data.data_dir": DATA, "data.langs": "[en,de]", "steps": 4,
          "log_every": 1, "checkpoint_every": 2, "keep_checkpoints": 2, "eval_every": 0, "batch.batch_size": 8,
          "optim.warmup_steps": 1, "data.max_passage_length": 32, "data.max_query_length": 16, **kw}
  return ["train", "--quiet", *[f"{k}={v}" for k, v in args.items()]]


def test_train_on_gcs_is_interrupted_resumes_and_exports(model, gcs, capsys, monkeypatch, tmp_path):
  import jax
  from jaxir.model.hf_io import load_pretrained
  from jaxir.train import checkpoint
  run = "gs://bucket/runs/r1"
  local = lambda rel: gcs.local(f"{run}/{rel}")   # noqa: E731  the file behind an object, to look at

  save = checkpoint.Checkpoints.save

  def killed_after_step_2(self, step, state, position):
    save(self, step, state, position)
    if step == 2:
      self.wait()
      raise KeyboardInterrupt
  monkeypatch.setattr(checkpoint.Checkpoints, "save", killed_after_step_2)
  assert cli.main(_train_args(model, run)) == 130
  assert os.path.isfile(local("config.json")) and not os.path.exists(local("run.json"))
  assert os.path.isfile(local("checkpoints/2/commit_success.txt"))      # orbax's GCS commit marker
  monkeypatch.setattr(checkpoint.Checkpoints, "save", save)
  capsys.readouterr()

  assert cli.main(_train_args(model, run)) == 0
  assert "resumed gs://bucket/runs/r1 at step 2" in capsys.readouterr().err
  steps = [r["step"] for r in map(json.loads, open(local("log.jsonl"))) if r["event"] == "train"]
  assert steps == [1, 2, 3, 4]                                            # rewritten whole, no step twice
  finished = storage.read_json(f"{run}/run.json", "run")
  assert finished["export"] == f"{run}/export"
  assert os.path.isfile(local("export/jaxir.json"))
  assert sorted(os.listdir(local("checkpoints"))) == ["2", "4"]

  exported = load_pretrained(local("export"))
  assert cli.main(["export", "--run", run, "--out", str(tmp_path / "step4")]) == 0   # step 4, back through orbax
  restored = load_pretrained(tmp_path / "step4")
  assert restored.meta["source"] == f"jaxir train {run} step 4"
  flat = lambda tree: {jax.tree_util.keystr(k): np.asarray(v)  # noqa: E731
                       for k, v in jax.tree_util.tree_flatten_with_path(tree)[0]}
  a, b = flat(exported.params), flat(restored.params)
  assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
  assert not all(np.array_equal(a[k], v) for k, v in flat(load_pretrained(model).params).items())

  # Finished: a rerun says so; another config is refused, nothing rewritten.
  assert cli.main(_train_args(model, run)) == 0
  assert "already finished" in capsys.readouterr().err
  # An upload of run.json cut short leaves an empty object: not finished; the rerun redoes the end only.
  open(local("run.json"), "w").close()
  assert cli.main(_train_args(model, run)) == 0
  assert "already finished" not in capsys.readouterr().err
  assert storage.read_json(f"{run}/run.json", "run")["steps"] == 4
  assert cli.main(_train_args(model, run, steps=6)) == 2
  assert "holds a run with another config (differs in steps)" in capsys.readouterr().err


def test_gcs_objects_jaxir_did_not_write_are_not_replaced(model, gcs, capsys):
  from jaxir.model.hf_io import load_pretrained, save_pretrained
  theirs = gcs.local("gs://bucket/theirs/notes.txt")
  os.makedirs(os.path.dirname(theirs))
  with open(theirs, "w") as f:
    f.write("mine")
  assert cli.main(_train_args(model, "gs://bucket/theirs")) == 2
  assert "gs://bucket/theirs exists and is not a jaxir run directory" in capsys.readouterr().err
  with pytest.raises(JaxirError, match="gs://bucket/theirs is not empty and not a directory jaxir wrote"):
    save_pretrained(load_pretrained(model), "gs://bucket/theirs")
  with pytest.raises(JaxirError, match="gs://bucket/theirs/notes.txt exists and is not a directory"):
    save_pretrained(load_pretrained(model), "gs://bucket/theirs/notes.txt")
  assert open(theirs).read() == "mine" and os.listdir(os.path.dirname(theirs)) == ["notes.txt"]


def _export_files(root):
  return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, files in os.walk(root) for f in files)


def test_encode_on_gcs_is_interrupted_resumes_and_equals_a_local_export(model, gcs, capsys, monkeypatch, tmp_path):
  """xquad-r chunk by chunk: killed after its first chunk, resumed from it, the manifest last; the export and
  `jaxir eval` of it (read from gs://, written to gs://) equal a local export's."""
  from jaxir import encode
  argv = ["encode", "--model", str(model), "--benchmark", "xquad-r", "--data-dir", str(DATA), "--langs", "en,de",
          "--max-articles", "1", "--chunk-texts", "16", "--tokens-per-batch", "256"]
  embed, calls = encode._embed_steps, []

  def killed_at_the_second_chunk(*args, **kw):
    calls.append(1)
    if len(calls) == 2:
      raise KeyboardInterrupt
    return embed(*args, **kw)
  monkeypatch.setattr(encode, "_embed_steps", killed_at_the_second_chunk)
  assert cli.main([*argv, "--out", "gs://b/e"]) == 130
  out = gcs.local("gs://b/e")
  assert _export_files(out) == [".partial/chunk_00000.npz", ".partial/plan.json"]
  with storage.load("gs://b/e/.partial/chunk_00000.npz") as z:
    first = len(z["members"])
  monkeypatch.setattr(encode, "_embed_steps", embed)
  with pytest.raises(JaxirError, match="no manifest.json .an unfinished export"):
    encode.load_embeddings("gs://b/e")
  assert cli.main([*argv, "--out", "gs://b/e"]) == 0
  manifest = storage.read_json("gs://b/e/manifest.json")
  assert manifest["reused_texts"] == first and 16 <= first < manifest["n_texts"]
  assert _export_files(out) == ["embeddings.npy", "index.json", "manifest.json", "texts.json"]
  assert cli.main([*argv, "--out", "gs://b/e"]) == 0
  assert "is already complete" in capsys.readouterr().err

  assert cli.main([*argv, "--out", str(tmp_path / "e")]) == 0
  ours, theirs = encode.load_embeddings("gs://b/e"), encode.load_embeddings(tmp_path / "e")
  assert ours[1] == theirs[1] and np.allclose(ours[2], theirs[2], atol=1e-6)
  assert cli.main(["eval", "--embeddings", "gs://b/e", "--out", "gs://b/ev"]) == 0
  assert cli.main(["eval", "--embeddings", str(tmp_path / "e"), "--out", str(tmp_path / "ev")]) == 0
  a, b = storage.read_json("gs://b/ev/summary.json"), storage.read_json(tmp_path / "ev" / "summary.json")
  for key in ("Mo", "Cr", "Mul", "RD"):
    assert a[key] == pytest.approx(b[key], abs=1e-6), key
  assert _export_files(gcs.local("gs://b/ev")) == _export_files(tmp_path / "ev")


def test_sets_encode_on_gcs_resumes_by_shard_and_equals_a_local_export(model, gcs, monkeypatch, tmp_path):
  """A sets benchmark (beir: shards, qrels copied into the export): killed in its second corpus shard, resumed, and
  `jaxir eval` of it equals a local export's."""
  from jaxir import shards
  from test_bench_readers import write_beir
  docs = {str(i): (f"Title {i}", f"Document {i} is about {w}.") for i, w in enumerate(["cats", "dogs", "tea", "rivers"] * 3)}
  write_beir(tmp_path / "data" / "beir" / "toy", docs, {"q1": "about cats", "q2": "a cup of tea"},
             [("q1", "0", 1), ("q2", "2", 1), ("q2", "6", 1)])
  argv = ["encode", "--model", str(model), "--benchmark", "beir", "--data-dir", str(tmp_path / "data"),
          "--datasets", "toy", "--shard-rows", "5"]
  write_npy, written = storage.write_npy, []

  def killed_at_the_second_corpus_shard(path, array):     # queries (1 shard), corpus (3): killed at the 3rd
    written.append(path)
    if len(written) == 3:
      raise KeyboardInterrupt
    write_npy(path, array)
  monkeypatch.setattr(storage, "write_npy", killed_at_the_second_corpus_shard)
  assert cli.main([*argv, "--out", "gs://b/s"]) == 130
  assert not os.path.exists(gcs.local("gs://b/s/manifest.json"))
  monkeypatch.setattr(storage, "write_npy", write_npy)
  assert cli.main([*argv, "--out", "gs://b/s"]) == 0
  assert storage.read_json("gs://b/s/manifest.json")["reused_texts"] == 2 + 5
  assert cli.main([*argv, "--out", str(tmp_path / "s")]) == 0
  assert _export_files(gcs.local("gs://b/s")) == _export_files(tmp_path / "s")
  assert np.allclose(shards.Store("gs://b/s/toy/corpus").read(), shards.Store(tmp_path / "s/toy/corpus").read(), atol=1e-6)
  assert cli.main(["eval", "--embeddings", "gs://b/s", "--out", "gs://b/ev"]) == 0
  assert cli.main(["eval", "--embeddings", str(tmp_path / "s"), "--out", str(tmp_path / "ev")]) == 0
  a, b = storage.read_json("gs://b/ev/summary.json"), storage.read_json(tmp_path / "ev" / "summary.json")
  assert a["nDCG@10"] == pytest.approx(b["nDCG@10"], abs=1e-6) and a["per"]["toy"]["n_queries"] == 2


def test_gcs_writes_are_whole_objects_and_the_marker_comes_last(gcs, monkeypatch):
  uploads = []
  upload = storage._upload
  monkeypatch.setattr(storage, "_upload", lambda src, dest: (uploads.append(str(dest)), upload(src, dest)))
  storage.write_json("gs://b/x/doc.json", {"a": 1})
  assert uploads == ["gs://b/x/doc.json"] and storage.read_json("gs://b/x/doc.json") == {"a": 1}
  assert not [n for n in os.listdir(os.path.dirname(gcs.local("gs://b/x/doc.json"))) if n != "doc.json"]

  # A failed write leaves the old object as it was (nothing uploaded).
  with pytest.raises(RuntimeError):
    with storage.atomic_path("gs://b/x/doc.json") as tmp:
      tmp.write_text("{half")
      raise RuntimeError("killed")
  assert storage.read_json("gs://b/x/doc.json") == {"a": 1} and len(uploads) == 1

  # A directory: the marker is uploaded last; replacing one deletes the old marker first, then the rest.
  for n, files in enumerate((["a.txt", "sub/b.txt"], ["c.txt"])):
    uploads.clear()
    with storage.atomic_dir("gs://b/d", marker="manifest.json") as tmp:
      (tmp / "manifest.json").write_text("{}")
      for name in files:
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_text(str(n))
    assert uploads[-1] == "gs://b/d/manifest.json" and len(uploads) == len(files) + 1
  d = gcs.local("gs://b/d")
  assert sorted(os.listdir(d)) == ["c.txt", "manifest.json"]
  with pytest.raises(JaxirError, match="only"):
    storage.as_path("s3://b/x")
  with pytest.raises(OSError, match="appended"):                         # the fake is an object store
    open_append = storage.as_path("gs://b/x/doc.json").open("a")
    open_append.close()


def test_unreadable_gcs_checkpoint_falls_back_and_is_moved_aside(gcs, capsys):
  """As on a local disk (test_robust_resume.py): the previous step restores, the damaged one is moved aside
  (on gs://: a copy and delete of its objects), out of orbax's way."""
  import jax
  import jax.numpy as jnp
  from jaxir.train.checkpoint import Checkpoints
  ckpt = Checkpoints("gs://b/run/checkpoints", keep=3)
  for step in (2, 4):
    ckpt.save(step, {"w": jnp.full(4, float(step))}, {"next_step": step})
  ckpt.wait()
  for root, _, files in os.walk(gcs.local("gs://b/run/checkpoints/4/state")):
    for name in files:
      if os.path.basename(root) == "d":
        with open(os.path.join(root, name), "wb") as f:
          f.write(b"\x00garbage\xff" * 16)
  step, state, position, bad = ckpt.restore_readable({"w": jax.ShapeDtypeStruct((4,), jnp.float32)})
  assert (step, position, bad) == (2, {"next_step": 2}, [4]) and np.all(np.asarray(state["w"]) == 2)
  assert str(ckpt.move_aside(4)) == "gs://b/run/checkpoints/.corrupt-4"
  assert ckpt.manager.all_steps() == [2] and os.path.isdir(gcs.local("gs://b/run/checkpoints/.corrupt-4/state"))
  assert "checkpoint step 4 unreadable (" in capsys.readouterr().err
  ckpt.close()

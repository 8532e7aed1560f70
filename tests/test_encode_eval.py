"""`jaxir encode` and `jaxir eval` end to end on a tiny random encoder and a slice of real XQuAD-R."""
import json
from pathlib import Path

import numpy as np
import pytest

from jaxir import cli, encode
from jaxir.errors import JaxirError

from conftest import tiny_model as _tiny_model

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
  root = tmp_path_factory.mktemp("models")
  return _tiny_model(root / "a", 0), _tiny_model(root / "b", 1)


def _encode(model, out, **kw):
  kw.setdefault("tokens_per_batch", 512)     # several batches even for this small slice
  return encode.encode_benchmark(model, "xquad-r", out, DATA, langs=["en", "de", "zh"], max_articles=2,
                                 progress=False, **kw)


def test_encode_writes_a_complete_export(models, tmp_path):
  out = _encode(models[0], tmp_path / "emb")
  manifest, index, emb = encode.load_embeddings(out)
  assert manifest["langs"] == ["en", "de", "zh"] and manifest["dim"] == 16
  texts = json.loads((out / "texts.json").read_text())
  assert len(texts) == len(set(texts)) == emb.shape[0]          # every unique text once
  en = index["per_lang"]["en"]
  assert all(texts[r].startswith("query: ") for r in en["question_rows"])
  assert all(texts[r].startswith("passage: ") for r in en["candidate_rows"])
  np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, rtol=1e-5)
  assert not (out / ".partial").exists()


def test_export_of_a_model_with_a_dense_head_has_its_output_size(tmp_path):
  model = _tiny_model(tmp_path / "m", 2, head_out=8)
  manifest, _, emb = encode.load_embeddings(_encode(model, tmp_path / "emb"))
  assert emb.shape[1] == manifest["dim"] == 8 and manifest["head"]["out"] == 8


def test_interrupted_export_resumes_to_the_same_embeddings(models, tmp_path, monkeypatch):
  full = _encode(models[0], tmp_path / "full", chunk_texts=16)
  calls = {"n": 0}
  real_call = encode.Embedder.__call__

  def flaky(self, *args):
    calls["n"] += 1
    if calls["n"] == 4:
      raise KeyboardInterrupt
    return real_call(self, *args)

  monkeypatch.setattr(encode.Embedder, "__call__", flaky)
  with pytest.raises(KeyboardInterrupt):
    _encode(models[0], tmp_path / "cut", chunk_texts=16)
  assert not (tmp_path / "cut" / "manifest.json").exists()
  assert list((tmp_path / "cut" / ".partial").glob("chunk_*.npz"))
  monkeypatch.setattr(encode.Embedder, "__call__", real_call)
  _encode(models[0], tmp_path / "cut", chunk_texts=16)
  manifest = json.loads((tmp_path / "cut" / "manifest.json").read_text())
  assert manifest["reused_texts"] > 0
  np.testing.assert_allclose(np.load(tmp_path / "cut" / "embeddings.npy"), np.load(full / "embeddings.npy"), atol=1e-6)


def test_another_model_cannot_mix_into_an_export(models, tmp_path, monkeypatch):
  calls = {"n": 0}
  real_call = encode.Embedder.__call__

  def cut(self, *args):
    calls["n"] += 1
    if calls["n"] == 2:
      raise KeyboardInterrupt
    return real_call(self, *args)

  monkeypatch.setattr(encode.Embedder, "__call__", cut)
  with pytest.raises(KeyboardInterrupt):
    _encode(models[0], tmp_path / "emb", chunk_texts=16)
  monkeypatch.setattr(encode.Embedder, "__call__", real_call)
  with pytest.raises(JaxirError, match="another model"):
    _encode(models[1], tmp_path / "emb", chunk_texts=16)
  _encode(models[0], tmp_path / "emb2")
  with pytest.raises(JaxirError, match="another model"):
    _encode(models[1], tmp_path / "emb2")


def test_eval_cli_writes_summary_and_per_query(models, tmp_path, capsys):
  emb = _encode(models[0], tmp_path / "emb")
  out = tmp_path / "eval"
  assert cli.main(["eval", "--embeddings", str(emb), "--out", str(out), "--train-langs", "en,de"]) == 0
  summary = json.loads((out / "summary.json").read_text())
  for key in ("Mo", "Cr", "Mul", "RD"):
    assert summary[key] is not None
  assert summary["seen_langs"] == ["en", "de"] and summary["zero_shot_langs"] == ["zh"]
  assert set(summary["pairs_mAP"]) == {"en", "de", "zh"}
  per_query = np.load(out / "per_query.npz")
  n_en = summary["queries"]["en"]
  assert per_query["pair/en/de"].shape == (n_en,) and per_query["ids/en"].shape == (n_en,)
  assert (out / "pairs_mAP.csv").read_text().splitlines()[0] == "query\\candidate,en,de,zh"
  assert "Mo" in capsys.readouterr().out
  # A random encoder is far from a trained one: mAP well below 1, above 0.
  assert 0 < summary["Mo"] < 0.9
  # tools/language_bias.py on the same embeddings: its RD is the summary's, and a language left out changes it.
  import importlib.util
  spec = importlib.util.spec_from_file_location("language_bias", Path(__file__).parents[1] / "tools" / "language_bias.py")
  tool = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(tool)
  capsys.readouterr()
  tool.main([str(emb), "--train-langs", "en,de"])
  lines = capsys.readouterr().out.splitlines()
  assert lines[0].startswith(f"RD {summary['RD']:.1f} over ")
  rows = {line.split()[0]: line.split() for line in lines[2:]}
  assert set(rows) == {"en", "de", "zh"} and rows["en"][1] == "yes" and rows["zh"][1] != "yes"
  assert sum(float(r[-3].rstrip("%")) for r in rows.values()) >= 100.0 - 1e-6     # every query has a worst answer
  # --segmentation: the queries with a Chinese answer, split by whether zh's paragraph has fewer sentences than en's
  tool.main([str(emb), "--segmentation", "zh"])
  lines = capsys.readouterr().out.splitlines()
  groups = {line.split()[0]: int(line.split()[1]) for line in lines if line.split()[:1] in (["fewer"], ["others"])}
  data = {l: json.loads((DATA / "xquad-r" / f"{l}.json").read_text(encoding="utf-8"))["data"][:2] for l in ("en", "zh")}
  fewer = sum(len(zp["sentences"]) < len(ep["sentences"])
              for ea, za in zip(data["en"], data["zh"]) for ep, zp in zip(ea["paragraphs"], za["paragraphs"])
              for _ in ep["qas"])                                  # questions of such paragraphs, per query language
  n_queries = sum(summary["queries"].values())
  assert groups == {"fewer": 3 * fewer, "others": n_queries - 3 * fewer}
  with pytest.raises(JaxirError, match="need both xx and en"):
    tool.main([str(emb), "--segmentation", "xx"])


@pytest.mark.parametrize("argv, message", [
    (["eval", "--embeddings", "/nonexistent/emb", "--out", "OUT"], "not found"),
    (["eval", "--baseline", "bm25", "--out", "OUT"], "--benchmark"),
    (["encode", "--model", "/nonexistent/model", "--benchmark", "xquad-r", "--out", "OUT"], "model not found"),
    (["encode", "--model", "M", "--benchmark", "xquad-r", "--out", "OUT", "--langs", "en,xx"], "unknown language"),
])
def test_bad_input_is_one_line(argv, message, tmp_path, capsys, monkeypatch):
  monkeypatch.chdir(tmp_path)
  assert cli.main(argv) == 2
  err = capsys.readouterr().err.strip()
  assert message in err and len(err.splitlines()) == 1


def test_unfinished_export_is_refused(models, tmp_path, capsys):
  (tmp_path / "emb" / ".partial").mkdir(parents=True)
  assert cli.main(["eval", "--embeddings", str(tmp_path / "emb"), "--out", str(tmp_path / "o")]) == 2
  assert "unfinished export" in capsys.readouterr().err


def test_bm25_baseline_on_real_xquad_r(tmp_path):
  assert cli.main(["eval", "--baseline", "bm25", "--benchmark", "xquad-r", "--data-dir", str(DATA),
                   "--langs", "en,zh", "--out", str(tmp_path)]) == 0
  summary = json.loads((tmp_path / "summary.json").read_text())
  assert summary["Cr"] is None and 0.5 < summary["Mo"] < 0.95

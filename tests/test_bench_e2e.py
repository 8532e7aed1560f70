"""`jaxir encode` / `jaxir eval` for tatoeba, beir, miracl and xnli on a tiny random encoder; the export
loads as a plain sentence-transformers model; bad input is one clear error line."""
import json

import numpy as np
import pytest

from jaxir import cli, encode_sets
from jaxir.benchmarks import beir, pipeline, tatoeba
from jaxir.errors import JaxirError
from jaxir.eval import bitext, ir, xnli_probe
from jaxir.shards import Store

from conftest import DATA, tiny_model
from test_bench_readers import write_beir, write_miracl

DOCS = {f"d{i}": (f"Title {i}", f"Document {i} is about {w}.") for i, w in enumerate(
    ["cats", "dogs", "rivers", "mountains", "music", "physics", "bread", "trains", "stars", "rain", "chess", "tea"])}
QUERIES = {"q1": "about cats", "q2": "mountains and rivers", "q3": "a cup of tea", "q4": "unjudged query"}
QRELS = [("q1", "d0", 2), ("q1", "d1", 1), ("q2", "d3", 1), ("q2", "d2", 1), ("q3", "d11", 1), ("q3", "d5", 0)]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
  return tiny_model(tmp_path_factory.mktemp("model") / "m", 0)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
  root = tmp_path_factory.mktemp("data")
  write_beir(root / "beir" / "toy", DOCS, QUERIES, QRELS)
  write_beir(root / "beir" / "toy-nohead", DOCS, QUERIES, QRELS[:3], header=False)
  for lang in ("sw", "th"):
    write_miracl(root / "miracl", lang, {f"{i}#0": v for i, v in enumerate(DOCS.values())},
                 {"1": "cats", "2": "tea"}, [("1", "0#0", 1), ("2", "11#0", 1), ("2", "3#0", 0)])
  return root


def _cli(capsys, *argv):
  code = cli.main(list(argv))
  return code, capsys.readouterr()


@pytest.fixture(scope="module")
def beir_export(model, data, tmp_path_factory):
  """Two BEIR datasets exported through the CLI (small shards: several per corpus)."""
  out = tmp_path_factory.mktemp("beir") / "emb"
  assert cli.main(["encode", "--model", str(model), "--benchmark", "beir", "--data-dir", str(data),
                   "--datasets", "toy,toy-nohead", "--out", str(out), "--shard-rows", "5"]) == 0
  return out


def test_beir_encode_eval_cli_runs_and_prompts(model, data, beir_export, tmp_path, capsys):
  from jaxir.encode import embed_texts
  from jaxir.model.hf_io import load_pretrained
  out, ev = beir_export, tmp_path / "eval"
  manifest = json.loads((out / "manifest.json").read_text())
  assert manifest["datasets"] == ["toy", "toy-nohead"] and manifest["n_texts"]["toy/queries"] == 3   # judged only
  assert manifest["sets"]["toy/corpus"]["prompt"] == "passage" and len(Store(out / "toy" / "corpus").shards) == 3
  pre = load_pretrained(model)
  np.testing.assert_allclose(Store(out / "toy" / "queries").read(),
                             embed_texts(pre, ["query: about cats", "query: mountains and rivers", "query: a cup of tea"]),
                             atol=1e-5)
  np.testing.assert_allclose(Store(out / "toy" / "corpus").read()[:2],
                             embed_texts(pre, ["passage: Title 0 Document 0 is about cats.",
                                               "passage: Title 1 Document 1 is about dogs."]), atol=1e-5)
  code, io_ = _cli(capsys, "eval", "--embeddings", str(out), "--out", str(ev))
  assert code == 0 and "toy-nohead" in io_.out
  summary = json.loads((ev / "summary.json").read_text())
  assert summary["headline"] == {"mean_nDCG@10": summary["nDCG@10"]}
  assert summary["per"]["toy"]["n_queries"] == 3 and summary["per"]["toy-nohead"]["n_queries"] == 2
  import pytrec_eval
  with open(ev / "runs" / "toy.trec") as f:
    run = pytrec_eval.parse_run(f)
  assert set(run) == {"q1", "q2", "q3"} and all(len(docs) == 12 for docs in run.values())
  qrels = {"q1": {"d0": 2, "d1": 1}, "q2": {"d3": 1, "d2": 1}, "q3": {"d11": 1, "d5": 0}}
  ev_ = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100"}).evaluate(run)
  assert summary["per"]["toy"]["nDCG@10"] == pytest.approx(np.mean([v["ndcg_cut_10"] for v in ev_.values()]))
  assert summary["per"]["toy"]["Recall@100"] == pytest.approx(1.0)       # 12 documents, all retrieved
  code, io_ = _cli(capsys, "encode", "--model", str(model), "--benchmark", "beir", "--data-dir", str(data),
                   "--datasets", "toy,toy-nohead", "--out", str(out))
  assert code == 0 and "already complete" in io_.err


def test_export_loads_in_sentence_transformers_with_its_prompts(model, beir_export):
  from sentence_transformers import SentenceTransformer
  st = SentenceTransformer(str(model), device="cpu")
  cos = lambda a, b: np.sum(a * b, 1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
  q = st.encode_query(["about cats", "mountains and rivers", "a cup of tea"], convert_to_numpy=True)
  d = st.encode_document([f"{t} {x}" for t, x in DOCS.values()], convert_to_numpy=True)
  assert cos(q, Store(beir_export / "toy" / "queries").read()).min() >= 0.9999
  assert cos(d, Store(beir_export / "toy" / "corpus").read()).min() >= 0.9999


def test_miracl_api_per_language_and_mean(model, data, tmp_path):
  pipeline.encode(str(model), "miracl", tmp_path / "emb", data, progress=False)
  s, _ = pipeline.evaluate(tmp_path / "emb", tmp_path / "eval")
  assert s["langs"] == ["sw", "th"] and s["per"]["sw"]["n_docs"] == 12 and s["per"]["sw"]["n_queries"] == 2
  assert s["headline"]["mean_nDCG@10"] == pytest.approx(np.mean([s["per"][l]["nDCG@10"] for l in ("sw", "th")]))
  assert (tmp_path / "eval" / "runs" / "th.trec").read_text().startswith("1 Q0 ")
  again, _ = pipeline.evaluate(tmp_path / "emb", options={"langs": ["th"]})       # from the export, a subset
  assert again["langs"] == ["th"] and again["nDCG@10"] == s["per"]["th"]["nDCG@10"]


def test_tatoeba_both_directions_with_the_query_prompt(model, tmp_path):
  from jaxir.encode import embed_texts
  from jaxir.model.hf_io import load_pretrained
  (tmp_path / "data" / "tatoeba").mkdir(parents=True)
  for ext in ("deu", "eng"):                # the first 60 real pairs keep the test quick
    lines = (DATA / "tatoeba" / f"tatoeba.deu-eng.{ext}").read_text(encoding="utf-8").splitlines(keepends=True)[:60]
    (tmp_path / "data" / "tatoeba" / f"tatoeba.deu-eng.{ext}").write_text("".join(lines), encoding="utf-8")
  pipeline.encode(str(model), "tatoeba", tmp_path / "emb", tmp_path / "data", {"langs": ["de"]}, progress=False)
  s, _ = pipeline.evaluate(tmp_path / "emb")
  assert s["langs"] == ["de"] and s["per"]["de"]["n"] == 60
  with pytest.raises(JaxirError, match="--feedback does not apply to tatoeba embeddings"):
    pipeline.evaluate(tmp_path / "emb", feedback=(2, 0.5))        # refused, not ignored
  assert s["headline"]["mean_acc@1"] == pytest.approx(np.mean([(p["xx2en"] + p["en2xx"]) / 2 for p in s["per"].values()]))
  manifest = json.loads((tmp_path / "emb" / "manifest.json").read_text())
  assert {v["prompt"] for v in manifest["sets"].values()} == {"query"}
  eng = (DATA / "tatoeba" / "tatoeba.deu-eng.eng").read_text(encoding="utf-8").splitlines()[:3]
  np.testing.assert_allclose(Store(tmp_path / "emb" / "de" / "eng").read()[:3],
                             embed_texts(load_pretrained(model), ["query: " + t for t in eng]), atol=1e-5)
  # A subset (max_pairs) is another export: never taken for the full one, nor the full one for it.
  assert manifest["max_pairs"] is None and s["max_pairs"] is None
  with pytest.raises(JaxirError, match="different export"):
    encode_sets.encode_spec(model, tatoeba.sets(tmp_path / "data", tatoeba.Options(["de"], max_pairs=10)),
                            tmp_path / "emb", progress=False)
  # A half (eval.tatoeba.half, the other half trained on): its own export of exactly those line pairs.
  from jaxir.data.tatoeba import halves
  pipeline.encode(str(model), "tatoeba", tmp_path / "half", tmp_path / "data", {"langs": ["de"], "half": 2},
                  progress=False)
  h, _ = pipeline.evaluate(tmp_path / "half")
  second = halves(60)[1]
  assert h["half"] == 2 and h["per"]["de"]["n"] == 30
  np.testing.assert_allclose(Store(tmp_path / "half" / "de" / "eng").read(),
                             Store(tmp_path / "emb" / "de" / "eng").read()[second], atol=1e-5)
  with pytest.raises(JaxirError, match="different export"):
    encode_sets.encode_spec(model, tatoeba.sets(tmp_path / "data", tatoeba.Options(["de"], half=1)),
                            tmp_path / "half", progress=False)
  with pytest.raises(JaxirError, match="half must be 1 or 2"):
    from jaxir.benchmarks.registry import validate_options
    validate_options(tatoeba.Options(["de"], half=3), lambda f: f"eval.tatoeba.{f}")


def test_bitext_accuracy_by_hand():
  src = np.eye(4, dtype=np.float32)
  eng = src[[0, 1, 3, 2]] + 0.01                   # lines 2 and 3 swapped on the English side
  assert bitext.accuracy(src, eng) == (0.5, 0.5)


def test_xnli_probe_transfer_gap(model, tmp_path):
  root = tmp_path / "data" / "xnli"
  (root / "dev").mkdir(parents=True)
  (root / "test").mkdir()
  rng = np.random.default_rng(0)
  labels = ["entailment", "neutral", "contradiction"]
  dev = [("fiction", labels[i % 3], f"premise {i // 3}", f"hypothesis {i}") for i in range(30)]
  (root / "dev" / "en-xx.genre.dev.tsv").write_text("genre\tlabel\tsentence1_en\tsentence2_en\n" +
                                                    "".join("\t".join(r) + "\n" for r in dev))
  for lang in ("en", "de", "fr"):
    (root / "test" / f"{lang}.jsonl").write_text("".join(json.dumps(
        {"premise": f"{lang} p {i // 3}", "hypothesis": f"{lang} h {i}", "label": int(rng.integers(3))}) + "\n"
        for i in range(12)))
  pipeline.encode(str(model), "xnli", tmp_path / "emb", tmp_path / "data", {"langs": ["de"]}, progress=False)
  s, _ = pipeline.evaluate(tmp_path / "emb")
  assert s["langs"] == ["en", "de"] and s["n_train"] == 30
  assert s["transfer_gap"] == pytest.approx(s["accuracy"]["en"] - s["accuracy"]["de"])
  assert s["headline"] == {"transfer_gap": s["transfer_gap"], "mean_accuracy": s["mean_accuracy"]}
  assert json.loads((tmp_path / "emb" / "manifest.json").read_text())["n_texts"]["train/texts"] == 10 + 30  # premises once


def test_probe_learns_a_separable_relation():
  rng = np.random.default_rng(0)
  u = rng.standard_normal((300, 8))
  y = rng.integers(0, 3, 300)
  v = u * np.array([1.0, -1.0, 0.0])[y][:, None] + 0.05 * rng.standard_normal((300, 8))   # label in u*v
  probe = xnli_probe.fit_probe(xnli_probe.features(u[:200], v[:200]), y[:200])
  assert np.mean(probe.predict(xnli_probe.features(u[200:], v[200:])) == y[200:]) > 0.9


@pytest.mark.parametrize("case", ["beir-missing-file", "qrels-unknown-id", "tsv-columns", "xnli-language",
                                  "max-pairs-not-tatoeba"])
def test_bad_input_is_one_error_line(model, data, tmp_path, capsys, case):
  argv = ["encode", "--model", str(model), "--out", str(tmp_path / "out")]
  if case == "beir-missing-file":
    f = write_beir(tmp_path / "b", DOCS, QUERIES, QRELS)
    (f / "corpus.jsonl").unlink()
    argv += ["--benchmark", "beir", "--datasets", str(f)]
    want = "missing corpus.jsonl"
  elif case == "qrels-unknown-id":
    write_beir(tmp_path / "beir" / "b", DOCS, QUERIES, QRELS + [("q1", "nope", 1)])
    argv += ["--benchmark", "beir", "--data-dir", str(tmp_path), "--datasets", "b"]
    want = "document id(s) not in the corpus"
  elif case == "tsv-columns":
    (tmp_path / "xnli" / "test").mkdir(parents=True)
    (tmp_path / "xnli" / "test" / "en.jsonl").write_text('{"premise": "a", "hypothesis": "b", "label": 0}\n')
    (tmp_path / "xnli" / "xnli.dev.tsv").write_text("lang\tlabel\ts1\ts2\nen\tneutral\ta\tb\n")
    argv += ["--benchmark", "xnli", "--data-dir", str(tmp_path)]
    want = "missing column"
  elif case == "xnli-language":
    argv += ["--benchmark", "xnli", "--data-dir", str(DATA), "--langs", "de,xx"]
    want = "XNLI language(s) xx not in"
  else:
    argv += ["--benchmark", "beir", "--data-dir", str(data), "--datasets", "toy", "--max-pairs", "5"]
    want = "--max-pairs applies to --benchmark tatoeba"
  code, io_ = _cli(capsys, *argv)
  lines = io_.err.strip().splitlines()
  assert code == 2 and len(lines) == 1 and want in lines[0], io_.err
  assert not (tmp_path / "out" / "manifest.json").exists()


def test_eval_errors_for_another_benchmark_or_model(model, data, beir_export, tmp_path):
  out = beir_export
  with pytest.raises(JaxirError, match="holds beir embeddings, not tatoeba"):
    bitext.evaluate_export(out)
  with pytest.raises(JaxirError, match="nope not in these embeddings"):
    ir.evaluate_export(out, names=["nope"])
  import shutil
  other = shutil.copytree(model, tmp_path / "other")
  (other / "config.json").write_text((other / "config.json").read_text() + " ")      # another fingerprint
  with pytest.raises(JaxirError, match="another model"):
    encode_sets.encode_spec(other, beir.sets(data, beir.Options(["toy", "toy-nohead"])), out, progress=False)


def test_interrupted_sets_export_resumes_shard_by_shard(model, data, tmp_path, monkeypatch):
  from jaxir import encode
  spec = lambda: beir.sets(data, beir.Options(["toy-nohead"]))
  real_call, calls = encode.Embedder.__call__, []

  def cut(self, *args):
    calls.append(1)
    if len(calls) == 3:                    # queries (1 shard), corpus shard 0 done; shard 1 cut
      raise KeyboardInterrupt
    return real_call(self, *args)

  monkeypatch.setattr(encode.Embedder, "__call__", cut)
  with pytest.raises(KeyboardInterrupt):
    encode_sets.encode_spec(model, spec(), tmp_path / "emb", rows_per_shard=5, progress=False)
  with pytest.raises(JaxirError, match="unfinished export"):
    encode_sets.load_export(tmp_path / "emb")
  monkeypatch.setattr(encode.Embedder, "__call__", real_call)
  out = encode_sets.encode_spec(model, spec(), tmp_path / "emb", rows_per_shard=5, progress=False)
  manifest = encode_sets.load_export(out, "beir")
  assert manifest["reused_texts"] == 2 + 5 and manifest["n_texts"] == {"toy-nohead/queries": 2, "toy-nohead/corpus": 12}


def test_eval_feedback_is_a_second_exact_search_and_prf_ir_reads_it(beir_export, tmp_path, capsys):
  """`jaxir eval --feedback 2:0.5:0.1` on a BEIR export: q' from each query's two best documents (softmax(q·c/0.1)
  weights), every document scored again, by hand in float64; tools/prf_ir.py's numbers are that evaluation's."""
  import importlib.util
  from pathlib import Path
  from jaxir.data.beir import read_qrels
  code, io_ = _cli(capsys, "eval", "--embeddings", str(beir_export), "--feedback", "2:0.5:0.1",
                   "--out", str(tmp_path / "fed"))
  assert code == 0 and io_.out.startswith("ranked with query feedback k 2 w 0.5 t 0.1")
  summary = json.loads((tmp_path / "fed" / "summary.json").read_text())
  assert summary["feedback"] == {"k": 2, "w": 0.5, "t": 0.1}
  tools = Path(__file__).parents[1] / "tools"
  spec = importlib.util.spec_from_file_location("prf_ir", tools / "prf_ir.py")
  prf_ir = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(prf_ir)
  r = prf_ir.measure(beir_export, [(2, 0.0), (2, 0.5, 0.1)])
  for name in ("toy", "toy-nohead"):
    ref = ir.evaluate_export(beir_export, names=[name])["per"][name]
    assert r[name]["plain"]["nDCG@10"] == ref["nDCG@10"] and r[name]["k 2 w 0.0"]["nDCG@10"] == ref["nDCG@10"]
    queries, corpus = Store(beir_export / name / "queries"), Store(beir_export / name / "corpus")
    q, c = queries.read().astype(np.float64), corpus.read().astype(np.float64)
    first = np.sort(q @ c.T, 1)[:, ::-1]
    assert (first[:, 1] - first[:, 2]).min() > 1e-5       # the two best are the same in float32
    top2 = np.argsort(-(q @ c.T), 1)[:, :2]
    weights = np.exp((q[:, None, :] * c[top2]).sum(-1) / 0.1)
    fed = 0.5 * q + 0.5 * (weights[:, :, None] * c[top2]).sum(1) / weights.sum(1, keepdims=True)
    s = fed @ c.T
    assert np.diff(np.sort(s, 1), axis=1).min() > 1e-5   # no near-tie that float32 could order apart
    order = np.argsort(-s, 1)
    lines = ir.run_lines(queries.ids(), order, np.take_along_axis(s, order, 1), corpus.lookup(order))
    want, _ = ir.metrics(read_qrels(beir_export / name / "qrels.tsv"), ir.run_dict(lines))
    run = [line.split() for line in (tmp_path / "fed" / "runs" / f"{name}.trec").read_text().splitlines()]
    for qid, row in zip(queries.ids(), s):                # the run's scores are q'·c, not q·c
      np.testing.assert_allclose([float(r[4]) for r in run if r[0] == qid], np.sort(row)[::-1], rtol=0, atol=1e-5)
    assert not np.allclose(s, q @ c.T, atol=1e-3)
    for m in ("nDCG@10", "Recall@100"):
      assert summary["per"][name][m] == pytest.approx(want[m], abs=1e-12)
      assert r[name]["k 2 w 0.5 t 0.1"][m] == summary["per"][name][m]
    np.testing.assert_array_equal(corpus.take(top2), c[top2].astype(np.float32))   # across the 5-row shards
  with pytest.raises(JaxirError, match="embeddings directory not found"):
    prf_ir.measure(Path(__file__).parents[1] / "nowhere", [(2, 0.5)])
  for bad, want in (("2:0.5:0", "needs k >= 1, 0 <= w <= 1 and t > 0"), ("a:b", "is K:W or K:W:T"),
                    ("101:0.5", "feedback k 101 is more than --top-k 100")):
    code, io_ = _cli(capsys, "eval", "--embeddings", str(beir_export), "--feedback", bad, "--out", str(tmp_path / "x"))
    assert code == 2 and len(io_.err.strip().splitlines()) == 1 and want in io_.err, io_.err

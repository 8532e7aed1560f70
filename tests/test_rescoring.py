"""The rescoring tools (tools/rescoring.py and the two that use it).

tools/csls.py: r(c) is the mean of each candidate's k largest similarities to the reference queries (checked against
a sort, in float64), β = 0 ranks as plain retrieval does, and a hub candidate in the query's language is pushed below
the parallel answer it was hiding. tools/prf.py: the feedback query is the mean of the k top candidates (checked
against a sort), w = 0 is plain retrieval, and feedback from the query's answer pulls up its translation."""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import hand_export
from jaxir.errors import JaxirError
from jaxir.eval import feedback, lareqa

TOOLS = Path(__file__).parents[1] / "tools"
sys.path.insert(0, str(TOOLS))                               # the tools import tools/rescoring.py as their neighbour


def load_tool(name):
  spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


csls, prf = load_tool("csls"), load_tool("prf")
rescoring = sys.modules["rescoring"]
TOOL = TOOLS / "csls.py"


def test_hubness_is_the_mean_of_the_k_nearest_reference_queries(monkeypatch):
  monkeypatch.setattr(csls, "CHUNK", 3)                     # several chunks
  rng = np.random.default_rng(0)
  c, ref = rng.normal(size=(8, 5)), rng.normal(size=(11, 5))
  for k in (1, 4, 11):
    want = [np.mean(sorted(row, reverse=True)[:k]) for row in (c @ ref.T).tolist()]
    np.testing.assert_allclose(csls.hubness(c, ref, k), want, rtol=0, atol=1e-12)
  with pytest.raises(JaxirError, match="--k must be in 1..11"):
    csls.hubness(c, ref, 12)


def two_language_index():
  """en and th, one question and two candidates each: rows 0-1 questions, 2-3 en candidates, 4-5 th candidates."""
  return lareqa.Index(langs=["en", "th"], question_ids={"en": ["q"], "th": ["q"]},
                      question_rows={"en": np.array([0]), "th": np.array([1])},
                      answer={"en": np.array([0]), "th": np.array([0])},
                      candidate_rows={"en": np.array([2, 3]), "th": np.array([4, 5])})


def test_beta_zero_is_plain_retrieval_and_the_correction_pulls_up_a_far_answer():
  index = two_language_index()
  #                 q_en        q_th        a_en        d_en (hub)   a_th        d_th
  emb = np.array([[1.0, 0.0], [0.8, 0.2], [0.9, 0.0], [0.85, 0.3], [0.7, 0.0], [0.0, 1.0]])
  reference = np.array([[1.0, 0.2], [0.8, 0.4], [0.0, 1.0]])
  qrows, crows = lareqa.query_candidate_rows(index)
  assert qrows.tolist() == [0, 1] and crows.tolist() == [2, 3, 4, 5]
  r = csls.hubness(emb[crows], reference, 2)
  np.testing.assert_allclose(r, [0.81, 0.855, 0.63, 0.7], rtol=0, atol=1e-12)
  plain = lareqa.rank(index, emb.astype(np.float32))
  same = lareqa.rank(index, scores=csls.corrected_scores(emb[qrows], emb[crows], r, 0.0))
  np.testing.assert_array_equal(plain.pooled, same.pooled)
  # plain: the en query puts the en hub (0.85) between its en answer (0.9) and its th answer (0.7)
  assert plain.pooled.tolist() == [[1, 3], [2, 3]]
  # β = 1: en query 0.09, -0.005, 0.07, -0.7; th query -0.09, -0.115, -0.07, -0.5: the hub drops below both answers
  fixed = lareqa.rank(index, scores=csls.corrected_scores(emb[qrows], emb[crows], r, 1.0))
  assert fixed.pooled.tolist() == [[1, 2], [2, 1]]
  pq = {}
  out = csls.score(index, emb, reference, 2, [0.0, 1.0], None, pq)
  assert pq[0.0]["RD"].tolist() == [2.0, 1.0] and pq[1.0]["RD"].tolist() == [1.0, 1.0]     # per query, en then th
  assert out[0.0]["RD"] == 1.5 and out[1.0]["RD"] == 1.0
  assert out[0.0]["th_worst"] == 1.0 and out[1.0]["th_worst"] == 0.5
  assert out[1.0]["RD_no_th"] is None
  assert out["r_by_lang"] == pytest.approx({"en": (0.81 + 0.855) / 2, "th": (0.63 + 0.7) / 2}, abs=1e-12)                      # one language left: no query has two answers


@pytest.mark.parametrize("args,message", [
    (["--betas", "0,x"], "--betas must be comma-separated numbers"),
    (["--betas", "-1"], "--betas must name one or more finite numbers >= 0"),
    (["--k", "0"], "--k and --max-ref must be at least 1"),
    (["--xquad", "somewhere"], "--xquad and --xquad-beta go together"),
])
def test_bad_arguments_are_one_line_before_any_model_is_read(tmp_path, args, message):
  r = subprocess.run([sys.executable, str(TOOL), str(tmp_path / "no-model"), *args], capture_output=True, text=True)
  assert r.returncode == 1 and r.stderr.startswith(f"csls: error: {message}") and r.stderr.count("\n") == 1


def test_feedback_query_is_the_mean_of_the_k_top_candidates(monkeypatch):
  monkeypatch.setattr(prf.feedback, "CHUNK", 3)             # several chunks
  rng = np.random.default_rng(1)
  q, c = rng.normal(size=(7, 4)), rng.normal(size=(9, 4))
  np.testing.assert_allclose(prf.feedback_scores(q, c, (4, 0.0)), (q @ c.T).astype(np.float32), rtol=0, atol=1e-6)
  for k, w in ((1, 0.5), (4, 0.25), (9, 1.0)):
    want = []
    for row in q.tolist():
      top = sorted(range(len(c)), key=lambda j: -float(np.dot(row, c[j])))[:k]
      fed = [(1 - w) * row[d] + w * sum(c[j][d] for j in top) / k for d in range(4)]
      want.append([sum(fed[d] * c[j][d] for d in range(4)) for j in range(len(c))])
    np.testing.assert_allclose(prf.feedback_scores(q, c, (k, w)), want, rtol=0, atol=1e-5)
  with pytest.raises(JaxirError, match="k must be in 1..9"):
    prf.feedback_scores(q, c, (10, 0.5))


def test_score_weighted_feedback_weighs_the_top_candidates_by_softmax_of_their_scores(monkeypatch):
  import math
  monkeypatch.setattr(prf.feedback, "CHUNK", 2)
  rng = np.random.default_rng(3)
  q, c = rng.normal(size=(5, 3)), rng.normal(size=(6, 3))
  k, w, t = 3, 0.6, 0.5
  want = []
  for row in q.tolist():
    s = {j: sum(row[d] * c[j][d] for d in range(3)) for j in range(6)}
    top = sorted(s, key=lambda j: -s[j])[:k]
    z = sum(math.exp(s[j] / t) for j in top)
    want.append([(1 - w) * row[d] + w * sum(math.exp(s[j] / t) / z * c[j][d] for j in top) for d in range(3)])
  np.testing.assert_allclose(feedback.rewrite(q, c, (k, w, t)), want, rtol=0, atol=1e-12)
  # a large t is the plain mean; a small one is the top candidate alone
  np.testing.assert_allclose(feedback.rewrite(q, c, (k, w, 1e9)), feedback.rewrite(q, c, (k, w)), atol=1e-8)
  np.testing.assert_allclose(feedback.rewrite(q, c, (k, w, 1e-4)), feedback.rewrite(q, c, (1, w)), atol=1e-8)
  assert feedback.parse("5:0.75:0.02") == (5, 0.75, 0.02) and feedback.name((5, 0.75, 0.02)) == "k 5 w 0.75 t 0.02"
  for bad in ("5:0.5:0", "5:0.5:-1", "5:0.5:nan", "5:0.5:1:2", "5:0.5:x"):
    with pytest.raises(JaxirError, match="a feedback setting"):
      feedback.parse(bad)


def test_feedback_from_the_answer_pulls_up_its_translation_above_a_hub():
  index = two_language_index()
  #                 q_en             q_th             a_en             d_en (hub)       a_th (a_en's translation) d_th
  emb = np.array([[1.0, 0, 0], [0.5, 0.8, 0.1], [0.9, 0.4, 0], [0.8, 0, 0.6], [0.6, 0.75, 0], [0, 0, -1.0]])
  plain = lareqa.rank(index, emb.astype(np.float32))
  assert plain.pooled.tolist() == [[1, 3], [2, 1]]          # en query: a_en 0.9, d_en 0.8, a_th 0.6
  pq = {}
  out = rescoring.score(index, emb, prf.feedback_scores, [(1, 0.0), (1, 0.75)], None, pq)
  # k 1, w 0.75: the en query becomes 0.25·q_en + 0.75·a_en = (0.925, 0.3, 0): a_th 0.78 > d_en 0.74
  assert pq[(1, 0.0)]["RD"].tolist() == [2.0, 1.0] and pq[(1, 0.75)]["RD"].tolist() == [1.0, 1.0]
  assert out[(1, 0.0)]["RD"] == 1.5 and out[(1, 0.75)]["RD"] == 1.0
  assert out[(1, 0.0)]["th_worst"] == out[(1, 0.75)]["th_worst"] == 0.5     # en query: th still below en, 2 not 3
  # both queries' top candidate is an answer (a_en, a_th); their own-language answers stay first: Mo AP 1 -> 1
  assert pq[(1, 0.0)]["Mo"].tolist() == pq[(1, 0.75)]["Mo"].tolist() == [1.0, 1.0]
  assert prf.drift(index, emb, 1, pq[(1, 0.0)]["Mo"], pq[(1, 0.75)]["Mo"]) == {1: (1.0, 1.0, 1.0)}
  # top 2: the en query's are a_en and d_en (1 answer), the th query's a_th and a_en (2 answers)
  assert prf.drift(index, emb, 2, np.array([0.5, 1.0]), np.array([1.0, 0.25])) == {1: (0.5, 0.5, 1.0),
                                                                                   2: (0.5, 1.0, 0.25)}
  cache = {}                                          # a second setting with the same k reuses the first's search
  assert prf.drift(index, emb, 2, np.array([0.5, 1.0]), np.array([1.0, 0.25]), cache) == {1: (0.5, 0.5, 1.0),
                                                                                          2: (0.5, 1.0, 0.25)}
  assert cache[2].tolist() == [1, 2]
  cache[2] = np.array([2, 2])                         # what is cached is what is used: no second search
  assert prf.drift(index, emb, 2, np.array([0.5, 1.0]), np.array([1.0, 0.25]), cache) == {2: (1.0, 0.75, 0.625)}


@pytest.mark.parametrize("args,message", [
    (["--settings", "3"], "a feedback setting is K:W or K:W:T"),
    (["--settings", "0:0.5"], "a feedback setting needs k >= 1, 0 <= w <= 1 and t > 0"),
    (["--settings", "3:1.5"], "a feedback setting needs k >= 1, 0 <= w <= 1 and t > 0"),
    (["--settings", ","], "--settings names no K:W"),
    (["--xquad", "somewhere"], "--xquad and --xquad-setting go together"),
    (["--xquad-setting", "3:x"], "--xquad and --xquad-setting go together"),
])
def test_prf_bad_arguments_are_one_line_before_any_model_is_read(tmp_path, args, message):
  r = subprocess.run([sys.executable, str(TOOLS / "prf.py"), str(tmp_path / "no-model"), *args],
                     capture_output=True, text=True)
  assert r.returncode == 1 and r.stderr.startswith(f"prf: error: {message}") and r.stderr.count("\n") == 1


def test_jaxir_eval_feedback_ranks_as_the_tool_does(tmp_path, capsys):
  from jaxir import cli
  from jaxir.eval.evaluate import evaluate
  src = hand_export(tmp_path / "e")
  index, emb = rescoring.load_xquad(src)
  qrows, crows = lareqa.query_candidate_rows(index)
  setting = (2, 0.5)
  scores = prf.feedback_scores(emb[qrows], emb[crows], setting)
  gaps = np.diff(np.sort(scores.astype(np.float64), axis=1), axis=1)
  assert gaps.min() > 1e-3                                  # no near-tie that float32 and float64 could order apart
  pq = {}
  both = rescoring.score(index, emb, prf.feedback_scores, [(2, 0.0), setting], None, pq)
  tool, plain_mo = both[setting], both[(2, 0.0)]["Mo"]
  summary, _ = evaluate(src, feedback=setting)              # the production ranker
  for m in ("Mo", "Cr", "Mul", "RD"):
    assert summary[m] == pytest.approx(tool[m], rel=1e-9)
  assert summary["feedback"] == {"k": 2, "w": 0.5} and "feedback" not in evaluate(src)[0]
  assert summary["Mul"] != pytest.approx(evaluate(src)[0]["Mul"])       # the setting changes the ranking here
  assert np.array_equal(np.load(src / "embeddings.npy"), emb)  # the export is untouched
  assert cli.main(["eval", "--embeddings", str(src), "--feedback", "2:0.5", "--out", str(tmp_path / "ev")]) == 0
  assert capsys.readouterr().out.startswith("ranked with query feedback k 2 w 0.5")
  assert json.loads((tmp_path / "ev" / "summary.json").read_text())["Mul"] == pytest.approx(tool["Mul"], rel=1e-9)
  for bad, want in (("9:0.5", "feedback k must be in 1..6"), ("2:2", "needs k >= 1, 0 <= w <= 1")):
    assert cli.main(["eval", "--embeddings", str(src), "--feedback", bad, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert want in err and len(err.strip().splitlines()) == 1, err
  assert not (tmp_path / "x" / "summary.json").exists()
  # drift's groups add up to Mo before and after (2 queries per language, so Mo is the mean over queries), and
  # its counts of answers among the top 2 are a sort's
  split = prf.drift(index, emb, 2, pq[(2, 0.0)]["Mo"], pq[setting]["Mo"])
  assert sum(v[0] for v in split.values()) == pytest.approx(1)
  assert sum(v[0] * v[1] for v in split.values()) == pytest.approx(plain_mo)
  assert sum(v[0] * v[2] for v in split.values()) == pytest.approx(tool["Mo"])
  answers, _ = lareqa.relevant_matrix(index)
  qe, ce = np.asarray(emb[qrows], np.float64), np.asarray(emb[crows], np.float64)
  hits = [len(set(np.argsort(-(qe[i] @ ce.T))[:2].tolist()) & set(answers[i].tolist())) for i in range(len(qe))]
  assert {h: hits.count(h) / len(hits) for h in set(hits)} == pytest.approx({h: v[0] for h, v in split.items()})
  bad = emb.copy()
  bad[3] = np.nan
  with pytest.raises(JaxirError, match="1 of 10 embeddings are not finite"):
    rescoring.load_xquad(hand_export(tmp_path / "nan", emb=bad))


prf_seeds = load_tool("prf_seeds")


def hand_sweep(root, seeds, unfinished=()):
  """A sweep directory whose cells hybrid_a0.5_w0.75_s<seed> hold a hand export and its evaluation by `jaxir eval`."""
  from jaxir import storage
  from jaxir.eval.evaluate import evaluate
  for s in seeds:
    d = root / "cells" / f"hybrid_a0.5_w0.75_s{s}"
    emb = np.random.default_rng(10 + s).standard_normal((10, 4)).astype(np.float32)
    src = hand_export(d / "emb" / "xquad-r", emb=emb)
    storage.write_json(d / "eval" / "xquad-r" / "summary.json", evaluate(src)[0])
    storage.write_json(d / "cell.json", {"cell": {"name": d.name}})
  for s in unfinished:
    hand_export(root / "cells" / f"hybrid_a0.5_w0.75_s{s}" / "emb" / "xquad-r")     # no evaluation yet
  return root


def test_prf_seeds_scores_each_finished_seed_and_checks_plain_against_the_cell(tmp_path):
  from jaxir import storage
  sweep = hand_sweep(tmp_path / "sweep", [0, 1, 2], unfinished=[3])
  cells, unfinished = prf_seeds.seed_cells(sweep, "hybrid_a0.5_w0.75")
  assert sorted(cells) == [0, 1, 2] and unfinished == ["hybrid_a0.5_w0.75_s3"]
  for s, d in cells.items():
    index, emb = rescoring.load_xquad(d / "emb" / "xquad-r")
    qrows, crows = lareqa.query_candidate_rows(index)
    gaps = np.diff(np.sort(emb[qrows].astype(np.float64) @ emb[crows].astype(np.float64).T, axis=1), axis=1)
    assert gaps.min() > 1e-4                                # no near-tie that float32 and float64 could order apart
    got = prf_seeds.score_seed(d, (2, 0.5))
    want = rescoring.score(index, emb, prf.feedback_scores, [(2, 0.5)], None)[(2, 0.5)]
    recorded = storage.read_json(d / "eval" / "xquad-r" / "summary.json")
    for m, scale in (("Mo", 100), ("Cr", 100), ("Mul", 100), ("RD", 1)):
      assert got["plain"][m] == pytest.approx(scale * recorded[m], rel=1e-9)
      assert got["feedback"][m] == pytest.approx(scale * want[m], rel=1e-12)
  summary = storage.read_json(cells[1] / "eval" / "xquad-r" / "summary.json")
  storage.write_json(cells[1] / "eval" / "xquad-r" / "summary.json", {**summary, "Mul": summary["Mul"] + 0.01})
  with pytest.raises(JaxirError, match="plain Mul .* is not the cell's recorded"):
    prf_seeds.score_seed(cells[1], (2, 0.5))
  with pytest.raises(JaxirError, match="no finished cell hybrid_a1_w0.75_s<seed>"):
    prf_seeds.seed_cells(sweep, "hybrid_a1_w0.75")


def test_prf_seeds_claim_is_the_mean_its_interval_and_holm_adjusted_seed_pairs():
  from scipy import stats as sps
  fed = {"Mo": [80.5, 80.6, 80.7], "Cr": [70.0, 72.0, 74.0], "Mul": [59.0, 59.5, 60.0], "RD": [280.0, 284.0, 282.0]}
  plain = {"Mo": [81.0, 81.3, 81.0], "Cr": [71.0, 71.5, 71.2], "Mul": [60.0, 60.2, 60.1], "RD": [300.0, 310.0, 305.0]}
  per_seed = {s: {"feedback": {m: fed[m][s] for m in fed}, "plain": {m: plain[m][s] for m in plain}} for s in range(3)}
  goal = prf_seeds.parse_goal("80,71,60,285")
  base = {0: {"xquad-r": {"Mo": 78.0, "Cr": 69.0, "Mul": 57.0, "RD": 320.0}},
          1: {"xquad-r": {"Mo": 78.5, "Cr": 69.5, "Mul": 57.5, "RD": 318.0}}}
  r = prf_seeds.summarize(per_seed, goal, ("full.yaml", "hybrid_a0.5", base))
  half = lambda x: sps.t.ppf(0.975, 2) * np.std(x, ddof=1) / np.sqrt(3)
  for m in fed:
    assert r["feedback"][m]["mean"] == pytest.approx(np.mean(fed[m]))
    assert r["feedback"][m]["high"] - r["feedback"][m]["mean"] == pytest.approx(half(fed[m]))
  # Mo 80.6 ± 0.25 clears 80 with its interval; Cr 72 ± 4.97 and RD 282 ± 4.97 only on the mean; Mul 59.5 misses
  assert [r["feedback"][m]["verdict"] for m in ("Mo", "Cr", "Mul", "RD")] == [
      "met beyond seed noise", "met on the mean, not beyond seed noise", "missed",
      "met on the mean, not beyond seed noise"]
  ps = [sps.ttest_1samp(np.subtract(fed[m], plain[m]), 0).pvalue for m in ("Mo", "Cr", "Mul", "RD")]
  order = np.argsort(ps)
  holm = np.maximum.accumulate([min(1, (4 - i) * ps[j]) for i, j in enumerate(order)])
  for i, j in enumerate(order):
    m = ("Mo", "Cr", "Mul", "RD")[j]
    assert r["feedback - plain"][m]["p_holm"] == pytest.approx(holm[i])
    assert r["feedback - plain"][m]["diff"] == pytest.approx(np.mean(np.subtract(fed[m], plain[m])))
  assert r["baseline"]["seeds"] == [0, 1] and r["feedback - baseline"]["Mo"]["n"] == 2
  one = prf_seeds.summarize({0: per_seed[0]}, goal)
  assert [one["feedback"][m]["verdict"] for m in ("Mo", "Mul")] == ["met, no interval (one seed)", "missed"]
  assert r["feedback - baseline"]["RD"]["diff"] == pytest.approx(((280 - 320) + (284 - 318)) / 2)
  rows = prf_seeds.table(per_seed, r, goal, "k 5 w 0.75")
  assert rows[2].startswith("| 0 | 81.00 → 80.50 |") and "**80.60 ± 0.25**" in rows[5]


@pytest.mark.parametrize("args,message", [
    (["--config", "c", "--setting", "5:0"], "--setting 5:0: w = 0 is plain retrieval"),
    (["--config", "c", "--setting", "5:0.75", "--goal", "80,71"], "--goal is four numbers"),
    (["--config", "c", "--setting", "5:0.75"], "not a sweep directory"),
    (["--config", "c", "--setting", "5:0.75", "--baseline", "nofile"], "--baseline 'nofile': give FILE.yaml:CONFIG"),
    (["--config", "c", "--setting", "5:0.75", "--out", "USER"], "exists and is not an earlier prf_seeds result"),
])
def test_prf_seeds_bad_arguments_are_one_line_before_any_scoring(tmp_path, args, message):
  (tmp_path / "notes.json").write_text('{"mine": 1}')
  args = [str(tmp_path / "notes.json") if a == "USER" else a for a in args]
  r = subprocess.run([sys.executable, str(TOOLS / "prf_seeds.py"), str(tmp_path / "no-sweep"), *args],
                     capture_output=True, text=True)
  assert r.returncode == 1 and r.stderr.startswith("prf_seeds: error: ") and message in r.stderr
  assert r.stderr.count("\n") == 1 and (tmp_path / "notes.json").read_text() == '{"mine": 1}'


def test_prf_seeds_out_with_one_seed_is_strict_json(tmp_path, capsys):
  sweep = hand_sweep(tmp_path / "sweep", [0])
  prf_seeds.main([str(sweep), "--config", "hybrid_a0.5_w0.75", "--setting", "2:0.5", "--out", str(tmp_path / "r.json")])
  assert "not yet the claim" in capsys.readouterr().out

  def refuse(constant):
    raise AssertionError(f"{constant} in --out")
  r = json.loads((tmp_path / "r.json").read_text(), parse_constant=refuse)   # no NaN: one seed has no interval
  assert r["per_seed"]["0"]["feedback"]["Mo"] is not None and None in r["feedback"]["Mo"].values()


def _r_json(lang, articles):
  """An -R JSON of `articles` ([[paragraph ids]]): one sentence per question, the question's answer."""
  data = []
  for a, paragraphs in enumerate(articles):
    ps = []
    for ids in paragraphs:
      sents = [f"{lang} sentence {i}." for i in ids]
      starts = np.cumsum([0] + [len(s) + 1 for s in sents])
      ps.append({"context": " ".join(sents), "sentences": sents,
                 "sentence_breaks": [[int(s), int(s) + len(t)] for s, t in zip(starts, sents)],
                 "qas": [{"id": i, "question": f"{lang} question {i}?",
                          "answers": [{"text": sents[j], "answer_start": int(starts[j])}]} for j, i in enumerate(ids)]})
    data.append({"title": f"article {a}", "paragraphs": ps})
  return {"version": "1.1", "data": data}


def test_unparallel_keeps_each_paragraph_in_one_language(tmp_path, capsys):
  """tools/unparallel_r.py: paragraph g (reading order, across articles) is kept only in sorted(langs)[g mod L]
  with its questions, so no answer has a translation in the pool; a folder that is not parallel by position, or
  an output jaxir did not write, is one line and exit 1."""
  from jaxir.data import squad_r
  tool = load_tool("unparallel_r")
  articles = [[["q0", "q1"], ["q2"], ["q3"]], [["q4"], ["q5", "q6"]]]     # paragraphs g = 0..4
  src = tmp_path / "src"
  src.mkdir()
  for lang in ("de", "ar", "zh"):
    (src / f"{lang}.json").write_text(json.dumps(_r_json(lang, articles)))
  tool.main(["--benchmark", "squad-r", "--data-dir", str(src), "--out", str(tmp_path / "out")])
  got = squad_r.load_r_dir(tmp_path / "out")
  want = {"ar": {"q0", "q1", "q4"}, "de": {"q2", "q5", "q6"}, "zh": {"q3"}}         # ar: g 0, 3; de: g 1, 4; zh: g 2
  assert {lang: {q.id for q in corpus.questions} for lang, corpus in got.items()} == want
  out = json.loads((tmp_path / "out" / "zh.json").read_text())
  assert [a["title"] for a in out["data"]] == ["article 0"]                   # article 1 has no paragraph in zh
  assert sum(len(c.candidates) for c in got.values()) == 7                     # every sentence once, in one language
  (src / "ar.json").write_text(json.dumps(_r_json("ar", [[["q0", "q1"], ["q3"], ["q2"]], [["q4"], ["q5", "q6"]]])))
  for args, msg in ((["--data-dir", str(src), "--out", str(tmp_path / "o2")], "not parallel by position"),
                    (["--data-dir", str(tmp_path / "out"), "--out", str(src)], "refusing to replace it")):
    r = subprocess.run([sys.executable, str(TOOLS / "unparallel_r.py"), "--benchmark", "squad-r", *args],
                       capture_output=True, text=True, cwd=Path(__file__).parents[1],
                       env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and msg in r.stderr, r.stderr


def test_paired_eval_compares_two_evaluations_query_by_query(tmp_path):
  """tools/paired_eval.py: B − A over the queries both define, per metric (Cr and RD left out where no query has
  them), its p from paired_test; evaluations of different queries are refused in one line."""
  from jaxir.report.stats import paired_test
  tool = load_tool("paired_eval")
  rng = np.random.default_rng(0)

  def write(name, mo, mul, cr=None):
    d = tmp_path / name
    d.mkdir()
    (d / "summary.json").write_text(json.dumps({"langs": ["de", "en"]}))
    none = np.full(3, np.nan)
    np.savez(d / "per_query.npz", **{"pair/de/de": mo[:3], "pair/en/en": mo[3:], "mul/de": mul[:3], "mul/en": mul[3:],
                                    "pair/de/en": none if cr is None else cr[:3], "pair/en/de": none if cr is None else cr[3:],
                                    "rd/de": none, "rd/en": none})
    return d

  mo_a, mul_a, mo_b, mul_b = (rng.uniform(0, 1, 6) for _ in range(4))
  mo_b[1] = np.nan                                      # a query without an answer in its own language in B
  a, b = write("a", mo_a, mul_a), write("b", mo_b, mul_b)
  r = tool.compare(a, b)
  assert set(r) == {"Mo", "Mul"}
  keep = ~np.isnan(mo_b)
  assert r["Mo"]["n"] == 5 and r["Mo"]["diff"] == pytest.approx((mo_b[keep] - mo_a[keep]).mean(), abs=1e-12)
  assert r["Mul"]["p"] == paired_test(mul_b, mul_a)[1] and r["Mul"]["A"] == pytest.approx(mul_a.mean(), abs=1e-12)
  c = write("c", mo_a, mul_a, cr=rng.uniform(0, 1, 6))
  assert "Cr" not in tool.compare(a, c) and tool.compare(c, c)["Cr"]["diff"] == 0.0
  d = tmp_path / "d"
  d.mkdir()
  (d / "summary.json").write_text(json.dumps({"langs": ["de"]}))
  np.savez(d / "per_query.npz", **{"pair/de/de": mo_a[:3], "mul/de": mul_a[:3], "rd/de": mo_a[:3]})
  with pytest.raises(JaxirError, match="do not hold the same languages and queries"):
    tool.compare(a, d)
  (d / "per_query.npz").write_bytes((a / "per_query.npz").read_bytes()[:200])        # a damaged file: one line
  with pytest.raises(JaxirError, match="no readable per_query.npz"):
    tool.compare(a, d)

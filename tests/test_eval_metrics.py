"""LAReQA metrics: hand-computed values on a tiny fixture, and an independent computation
(full stable argsort + scikit-learn average precision) on random embeddings."""
import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from jaxir.eval import lareqa, ranking


def _index(langs, ids, answers, n_cands):
  """Index whose embedding rows are: all questions (lang order), then all candidates."""
  q_rows, c_rows, row = {}, {}, 0
  for l in langs:
    q_rows[l] = np.arange(row, row + len(ids[l]))
    row += len(ids[l])
  for l in langs:
    c_rows[l] = np.arange(row, row + n_cands[l])
    row += n_cands[l]
  return lareqa.Index(list(langs), ids, q_rows, {l: np.asarray(answers[l]) for l in langs}, c_rows)


def test_hand_computed_fixture():
  # Two languages; scores are dot products of 2-d vectors, chosen by hand.
  # en questions: a (answer en0, es1), b (answer en1, es0).  es questions: a (es1), b (es0).
  langs = ["en", "es"]
  ids = {"en": ["a", "b"], "es": ["a", "b"]}
  answers = {"en": [0, 1], "es": [1, 0]}
  q = np.array([[1.0, 0.0], [0.0, 1.0],      # en a, en b
                [1.0, 0.0], [0.0, 1.0]])      # es a, es b
  c = np.array([[0.9, 0.1], [0.2, 0.8],       # en0, en1
                [0.1, 0.7], [0.8, 0.0], [0.5, 0.5]])  # es0, es1, es2
  index = _index(langs, ids, answers, {"en": 2, "es": 3})
  ranks = lareqa.rank(index, np.concatenate([q, c]))
  # en a: en scores [.9,.2] -> en0 rank 1; es scores [.1,.8,.5] -> es1 rank 1;
  #       pooled [.9,.2,.1,.8,.5] -> en0 rank 1, es1 rank 2.
  # en b: en [.1,.8] -> en1 rank 1; es [.7,0,.5] -> es0 rank 1; pooled [.1,.8,.7,0,.5] -> en1 1, es0 2.
  # es a: same query vector as en a.  es b: same as en b.
  np.testing.assert_array_equal(ranks.in_lang, [[1, 1]] * 4)
  np.testing.assert_array_equal(ranks.pooled, [[1, 2], [1, 2], [1, 2], [1, 2]])
  summary, per_query = lareqa.metrics(ranks)
  assert summary["Mo"] == 1.0 and summary["Cr"] == 1.0
  assert summary["Mul"] == pytest.approx(1.0)  # AP = (1/1 + 2/2) / 2
  assert summary["RD"] == 1.0

  # Move es1 below es2 for query "a": es1 score .8 -> use a new candidate matrix.
  c2 = c.copy()
  c2[3] = [0.3, 0.0]                    # es1: score .3 for query a, 0 for b
  ranks = lareqa.rank(index, np.concatenate([q, c2]))
  # query a: es scores [.1, .3, .5] -> es1 rank 2; pooled [.9,.2,.1,.3,.5] -> en0 1, es1 3.
  assert ranks.in_lang[0].tolist() == [1, 2] and ranks.pooled[0].tolist() == [1, 3]
  summary, per_query = lareqa.metrics(ranks, train_langs=["en"])
  assert per_query["pair/en/es"].tolist() == [0.5, 1.0]
  assert per_query["mul/en"][0] == pytest.approx((1 / 1 + 2 / 3) / 2)
  assert per_query["rd/en"].tolist() == [2.0, 1.0]
  assert summary["pairs_mAP"]["en"]["es"] == pytest.approx(0.75)
  assert summary["pairs_R@1"]["en"]["es"] == pytest.approx(0.5)
  assert summary["pairs_mAP"]["es"]["en"] == 1.0              # es a -> en0 and es b -> en1 both rank 1
  assert summary["Cr"] == pytest.approx((0.75 + 1.0) / 2)
  assert summary["Mo"] == pytest.approx((1.0 + 0.75) / 2)      # es a -> es1 rank 2
  assert summary["seen"]["Mo"] == 1.0 and summary["zero_shot"]["Mo"] == pytest.approx(0.75)


def test_ties_are_broken_by_candidate_position():
  # Identical candidates tie exactly; the earlier one ranks first (stable sort by score).
  scores = np.array([[0.5, 0.5, 0.9, 0.5]], np.float32)
  counts = ranking.rank_counts(None, None, np.array([[1, 3, 0]]), ((0, 4),), scores=scores)
  # candidate 1: beaten by 2 (higher) and 0 (tie, earlier) -> 2; candidate 3: by 2, 0, 1 -> 3.
  assert counts[0, :, 0].tolist() == [2, 3, 1]


def _random_setup(rng, langs, n_ids, n_cands, missing=0.0, dim=16):
  ids, answers = {}, {}
  for l in langs:
    keep = [i for i in range(n_ids) if rng.random() >= missing]
    ids[l] = [f"q{i}" for i in keep]
    answers[l] = rng.integers(0, n_cands[l], size=len(keep))
  index = _index(langs, ids, answers, n_cands)
  n_rows = sum(len(ids[l]) for l in langs) + sum(n_cands.values())
  emb = rng.normal(size=(n_rows, dim)).astype(np.float32)
  return index, emb


@pytest.mark.parametrize("missing", [0.0, 0.3])
def test_matches_independent_computation(missing):
  rng = np.random.default_rng(0)
  langs = ["ar", "de", "en"]
  n_cands = {"ar": 37, "de": 41, "en": 29}
  index, emb = _random_setup(rng, langs, 30, n_cands, missing)
  ranks = lareqa.rank(index, emb, chunk=7)   # chunk not dividing Q exercises padding
  summary, per_query = lareqa.metrics(ranks)

  offsets = dict(zip(langs, np.cumsum([0] + [n_cands[l] for l in langs])))
  pool = np.concatenate([emb[index.candidate_rows[l]] for l in langs])
  for lx in langs:
    q_emb = emb[index.question_rows[lx]]
    mul_ap, rd, pair_ap = [], [], {ly: [] for ly in langs}
    for qi, qid in enumerate(index.question_ids[lx]):
      scores = pool.astype(np.float64) @ q_emb[qi].astype(np.float64)
      # No relevant candidate is within 1e-5 of another candidate (checked in float64: the same on every
      # CPU), so the float32 ranking under test cannot depend on a BLAS kernel's last bits.
      relevant = np.zeros(len(pool), bool)
      for ly in langs:
        if qid in index.question_ids[ly]:
          a = offsets[ly] + index.answer[ly][index.question_ids[ly].index(qid)]
          relevant[a] = True
          seg = slice(offsets[ly], offsets[ly] + n_cands[ly])
          pair_ap[ly].append(average_precision_score(relevant[seg], scores[seg]))
      gaps = np.abs(scores[relevant][:, None] - scores[None, :])
      assert np.sort(gaps, axis=1)[:, 1].min() > 1e-5        # [:, 0] is the candidate itself
      mul_ap.append(average_precision_score(relevant, scores))
      order = np.argsort(-scores, kind="stable")
      pos = np.empty(len(order), int)
      pos[order] = np.arange(1, len(order) + 1)
      if relevant.sum() >= 2:
        rd.append(pos[relevant].max() - pos[relevant].min())
    np.testing.assert_allclose(per_query[f"mul/{lx}"], mul_ap, rtol=1e-6)
    assert summary["mul"][lx]["RD"] == pytest.approx(np.mean(rd))
    for ly in langs:
      got = per_query[f"pair/{lx}/{ly}"]
      np.testing.assert_allclose(got[~np.isnan(got)], pair_ap[ly], rtol=1e-6)
  assert summary["Mo"] == pytest.approx(np.mean([summary["pairs_mAP"][l][l] for l in langs]))


def test_recall_at_k_and_ap_helpers():
  ranks = np.array([[1, 5, 12], [3, 0, 0]])
  mask = np.array([[True, True, True], [True, False, False]])
  np.testing.assert_allclose(ranking.recall_at(ranks, mask, 10), [2 / 3, 1.0])
  np.testing.assert_allclose(ranking.average_precision(ranks, mask), [(1 + 2 / 5 + 3 / 12) / 3, 1 / 3])


def test_language_part_by_hand():
  """Three languages, four queries (pooled ranks by hand): whose answer is worst-placed, and RD without it."""
  pooled = np.array([[1, 9, 4],        # en query: th (col 2) is not the worst; de is. spread 8
                     [2, 3, 7],        # en query: th worst. spread 5
                     [6, 1, 5],        # de query: en worst. spread 5
                     [1, 1, 6]])       # de query: only en answers (mask below): no spread
  mask = np.array([[1, 1, 1], [1, 1, 1], [1, 1, 1], [1, 0, 0]], bool)
  ranks = lareqa.Ranks(["en", "de", "th"], np.array([0, 0, 1, 1]), pooled, pooled, mask)
  np.testing.assert_array_equal(lareqa.worst_placed(ranks), [[0, 1, 0], [0, 0, 1], [1, 0, 0], [0, 0, 0]])
  # RD: en queries (8 + 5) / 2 = 6.5, de queries 5 (the one-answer query has no spread): (6.5 + 5) / 2
  assert lareqa.mean_rank_distance(ranks) == 5.75 == lareqa.metrics(ranks)[0]["RD"]
  # without th: en queries 9-1 = 8 and 3-2 = 1, de query 6-1 = 5: (4.5 + 5) / 2
  assert lareqa.language_part(ranks, "th") == {"worst": 1 / 3, "RD_without": 4.75}
  # without en: en queries 9-4 = 5, 7-3 = 4; de query 5-1 = 4 (the last has no answer left): (4.5 + 4) / 2
  assert lareqa.language_part(ranks, "en") == {"worst": 1 / 3, "RD_without": 4.25}
  assert lareqa.language_part(ranks, "de")["worst"] == 1 / 3
  # two languages: without one, nothing is left to spread
  alone = lareqa.Ranks(["en", "th"], np.array([0]), pooled[:1, :2], pooled[:1, :2], np.array([[True, True]]))
  assert lareqa.language_part(alone, "th") == {"worst": 1.0, "RD_without": None}     # rank 9 against en's 1

"""LAReQA settings over exported embeddings: Mo, Cr, Mul and language bias (RD).

For query language X and candidate language Y the pair setting X->Y ranks the candidates of Y
(Mo when Y = X, Cr when Y != X); its relevant candidate is the answer sentence of the
question's parallel id in Y, and questions whose id does not exist in Y are left out. Mul ranks
the pooled candidates of all languages, every parallel answer relevant. Metrics: mAP over the
full ranking, R@1 for the pair settings, R@10 for Mul. RD (language bias) is, per query, the
pooled rank of its lowest-ranked relevant answer minus that of its highest-ranked one (queries
with at least two relevant answers), averaged over queries, then over query languages.

Summaries: Mo = mean over X of X->X, Cr = mean over X != Y of X->Y, Mul and RD = mean over X.
"""
import collections
import dataclasses

import numpy as np

from jaxir import schema
from jaxir.errors import JaxirError
from jaxir.eval import ranking


@dataclasses.dataclass
class Index:
  """Which embedding rows are whose, per language: what `jaxir encode` writes as index.json."""
  langs: list
  question_ids: dict       # lang -> list[str]
  question_rows: dict      # lang -> int array, row of each question in the embedding matrix
  answer: dict             # lang -> int array, answer's index among that language's candidates
  candidate_rows: dict     # lang -> int array, row of each candidate in the embedding matrix

  @classmethod
  def from_json(cls, obj, n_rows=None, where="index.json"):
    """The Index of an index.json object, type-checked and validated (see `validate`)."""
    langs = schema.items(schema.expect(obj, "langs", list, where), str, f"{where}: field 'langs'")
    per = schema.expect(obj, "per_lang", dict, where)
    fields = {l: schema.expect(per, l, dict, f"{where}: per_lang") for l in langs}
    ids = {l: schema.items(list(schema.expect(fields[l], "question_ids", (list, tuple), f"{where}: per_lang.{l}")),
                           str, f"{where}: per_lang.{l}.question_ids") for l in langs}
    rows = lambda key: {l: _int_array(schema.expect(fields[l], key, (list, tuple, np.ndarray), f"{where}: per_lang.{l}"),
                                      f"{where}: per_lang.{l}.{key}") for l in langs}
    index = cls(langs, ids, rows("question_rows"), rows("answer"), rows("candidate_rows"))
    index.validate(n_rows, where)
    return index

  def validate(self, n_rows=None, where="index.json"):
    """JaxirError, one line, unless every row lies in [0, n_rows), every answer indexes its language's
    candidates, the per-question lists have one entry per question id and no id repeats in a language."""
    if len(set(self.langs)) != len(self.langs):
      raise JaxirError(f"{where}: field 'langs' names a language twice ({' '.join(self.langs)})")
    for l in self.langs:
      at = f"{where}: per_lang.{l}"
      n_q = len(self.question_ids[l])
      for key, arr in (("question_rows", self.question_rows[l]), ("answer", self.answer[l])):
        if len(arr) != n_q:
          raise JaxirError(f"{at}.{key} has {len(arr)} entries for {n_q} question_ids")
      if len(set(self.question_ids[l])) != n_q:
        dup = next(q for q, k in collections.Counter(self.question_ids[l]).items() if k > 1)
        raise JaxirError(f"{at}.question_ids repeats the id {dup!r} (ids must be unique within a language)")
      limits = (("question_rows", self.question_rows[l], n_rows, "embedding rows"),
                ("candidate_rows", self.candidate_rows[l], n_rows, "embedding rows"),
                ("answer", self.answer[l], len(self.candidate_rows[l]), f"candidates of {l}"))
      for key, arr, n, what in limits:
        bad = (arr < 0) | (arr >= n) if n is not None else arr < 0
        if bad.any():
          i = int(np.argmax(bad))
          bound = f"[0, {n}) ({n} {what})" if n is not None else "[0, ...)"
          raise JaxirError(f"{at}.{key}[{i}] = {int(arr[i])} lies outside {bound}")

  def to_json(self):
    return {"langs": list(self.langs), "per_lang": {l: {
        "question_ids": list(self.question_ids[l]),
        "question_rows": [int(x) for x in self.question_rows[l]],
        "answer": [int(x) for x in self.answer[l]],
        "candidate_rows": [int(x) for x in self.candidate_rows[l]]} for l in self.langs}}

  def subset(self, langs):
    return Index(list(langs), *({l: d[l] for l in langs} for d in (
        self.question_ids, self.question_rows, self.answer, self.candidate_rows)))


def _int_array(values, what):
  """`values` as a 1-D int64 array; JaxirError unless it is a flat list of integers."""
  arr = np.asarray(values)
  if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
    raise JaxirError(f"{what} must be a list of integers, got {schema.describe(values) if arr.size < 8 else 'other values'}")
  return arr.astype(np.int64)


def relevant_matrix(index):
  """[Q, L] global candidate index of each query's parallel answer in every language (-1: none)."""
  langs = index.langs
  offsets = np.cumsum([0] + [len(index.candidate_rows[l]) for l in langs])
  answer_by_id = [dict(zip(index.question_ids[l], index.answer[l] + offsets[j])) for j, l in enumerate(langs)]
  rows = [[a.get(qid, -1) for a in answer_by_id] for l in langs for qid in index.question_ids[l]]
  segments = tuple(zip(offsets[:-1], offsets[1:]))
  return np.asarray(rows, np.int64).reshape(-1, len(langs)), segments


@dataclasses.dataclass
class Ranks:
  """1-based ranks of every query's parallel answers: within their own language, and pooled."""
  langs: list
  query_lang: np.ndarray   # [Q] index into langs
  in_lang: np.ndarray      # [Q, L]
  pooled: np.ndarray       # [Q, L]
  mask: np.ndarray         # [Q, L] the answer exists in that language


def query_candidate_rows(index):
  """(question rows, candidate rows) of the embedding matrix in the order `rank` scores them (by language, as the
  index lists them): the rows and columns of a score matrix passed to `rank`."""
  return (np.concatenate([index.question_rows[l] for l in index.langs]),
          np.concatenate([index.candidate_rows[l] for l in index.langs]))


def rank(index, embeddings=None, scores=None, chunk=128):
  """Ranks from embeddings (queries and candidates as rows of one matrix) or a [Q, C] score matrix."""
  rel, segments = relevant_matrix(index)
  langs = index.langs
  query_lang = np.concatenate([np.full(len(index.question_ids[l]), j) for j, l in enumerate(langs)])
  if scores is None:
    qrows, crows = query_candidate_rows(index)
    q, c = embeddings[qrows], embeddings[crows]
    counts = ranking.rank_counts(q, c, rel, segments, chunk=chunk)
  else:
    counts = ranking.rank_counts(None, None, rel, segments, scores=scores)
  L = len(langs)
  in_lang = 1 + counts[:, np.arange(L), np.arange(L)]
  pooled = 1 + counts.sum(-1)
  return Ranks(langs, query_lang, in_lang, pooled, rel >= 0)


def _nanmean(x):
  x = np.asarray(x, np.float64)
  x = x[~np.isnan(x)]
  return float(x.mean()) if x.size else None


def _mean(values):
  values = [v for v in values if v is not None]
  return float(np.mean(values)) if values else None


def rank_distance(pooled, mask):
  """[Q] per query: the pooled rank of its lowest-ranked relevant answer minus that of its highest-ranked one
  (NaN for a query with fewer than two relevant answers); `pooled` [Q, L] ranks, `mask` [Q, L] relevant."""
  worst = np.where(mask, pooled, 0).max(1)
  best = np.where(mask, pooled, np.iinfo(np.int64).max).min(1)
  return np.where(mask.sum(1) >= 2, worst - best, np.nan)


def mean_rank_distance(ranks, mask=None):
  """RD as `metrics` reports it: per query language the mean `rank_distance` over its queries with two or more
  answers in `mask` (default: all of them), then the mean over query languages (None where no query counts)."""
  mask = ranks.mask if mask is None else mask
  spread = rank_distance(ranks.pooled, mask)
  return _mean([_nanmean(spread[ranks.query_lang == x]) for x in range(len(ranks.langs))])


def worst_placed(ranks):
  """[Q, L] bool: language l holds the query's lowest-ranked answer (ties count for each tied language); all
  False for a query with fewer than two answers, which has no spread."""
  worst = np.where(ranks.mask, ranks.pooled, 0).max(1, keepdims=True)
  return ranks.mask & (ranks.pooled == worst) & (ranks.mask.sum(1, keepdims=True) >= 2)


def language_part(ranks, lang):
  """How much of RD is `lang`'s: "worst", the share of queries with two or more answers whose lowest-ranked answer
  is `lang`'s, and "RD_without", the RD with `lang`'s answers left out of every query."""
  y = ranks.langs.index(lang)
  counted = (ranks.mask.sum(1) >= 2).sum()
  keep = ranks.mask.copy()
  keep[:, y] = False
  return {"worst": float(worst_placed(ranks)[:, y].sum() / counted) if counted else None,
          "RD_without": mean_rank_distance(ranks, keep)}


def metrics(ranks, train_langs=None, pairs=True, pooled=True):
  """Summary dict plus per-query arrays (for significance tests) from Ranks."""
  langs = ranks.langs
  pair_map, pair_r1, per_query = {}, {}, {}
  mul, counts = {}, {}
  for x, lx in enumerate(langs):
    sel = ranks.query_lang == x
    counts[lx] = int(sel.sum())
    if pairs:
      pair_map[lx], pair_r1[lx] = {}, {}
      for y, ly in enumerate(langs):
        m = ranks.mask[sel, y]
        r = ranks.in_lang[sel, y]
        ap = np.where(m, 1.0 / r, np.nan)
        per_query[f"pair/{lx}/{ly}"] = ap
        pair_map[lx][ly] = _nanmean(ap)
        pair_r1[lx][ly] = _nanmean(np.where(m, (r == 1).astype(float), np.nan))
    if pooled:
      m, r = ranks.mask[sel], ranks.pooled[sel]
      ap = ranking.average_precision(r, m)
      r10 = ranking.recall_at(r, m, 10)
      spread = rank_distance(r, m)
      per_query[f"mul/{lx}"], per_query[f"rd/{lx}"] = ap, spread.astype(np.float64)
      mul[lx] = {"mAP": _nanmean(ap), "R@10": _nanmean(r10), "RD": _nanmean(spread)}

  def groups(pred_x, pred_pair):
    out = {}
    if pairs:
      out["Mo"] = _mean([pair_map[l][l] for l in langs if pred_x(l)])
      out["Cr"] = _mean([pair_map[a][b] for a in langs for b in langs if a != b and pred_pair(a, b)])
      out["R@1"] = {"Mo": _mean([pair_r1[l][l] for l in langs if pred_x(l)]),
                    "Cr": _mean([pair_r1[a][b] for a in langs for b in langs if a != b and pred_pair(a, b)])}
    if pooled:
      out["Mul"] = _mean([mul[l]["mAP"] for l in langs if pred_x(l)])
      out["RD"] = _mean([mul[l]["RD"] for l in langs if pred_x(l)])
      out["R@10"] = {"Mul": _mean([mul[l]["R@10"] for l in langs if pred_x(l)])}
    return out

  summary = {"Mo": None, "Cr": None, "Mul": None, "RD": None}
  summary.update(groups(lambda l: True, lambda a, b: True))
  summary.update({"langs": list(langs), "queries": counts})
  if pairs:
    summary.update({"pairs_mAP": pair_map, "pairs_R@1": pair_r1})
  if pooled:
    summary["mul"] = mul
  if train_langs is not None:
    seen = set(train_langs)
    summary["seen_langs"] = [l for l in langs if l in seen]
    summary["zero_shot_langs"] = [l for l in langs if l not in seen]
    summary["seen"] = groups(lambda l: l in seen, lambda a, b: a in seen and b in seen)
    summary["zero_shot"] = groups(lambda l: l not in seen, lambda a, b: a not in seen or b not in seen)
  return summary, per_query

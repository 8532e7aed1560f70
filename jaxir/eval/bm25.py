"""BM25 baseline (bm25s, Lucene variant, k1=1.5, b=0.75) for the monolingual Mo settings.

Lexical matching has no cross-lingual signal, so only X->X is reported. Tokens: lower-cased
`\\w+` words; for languages written without spaces (zh, ja, th) character unigrams and bigrams.
No stemming or stop words (one rule for all languages).
"""
import re

import numpy as np

from jaxir.eval import lareqa

_WORD = re.compile(r"\w+", re.UNICODE)
_UNSPACED = {"zh", "ja", "th"}


def tokenize(text, lang):
  words = _WORD.findall(text.lower())
  if lang not in _UNSPACED:
    return words
  chars = [ch for w in words for ch in w]
  return chars + [a + b for w in words for a, b in zip(w, w[1:])]


def scores(queries, candidates, lang):
  """[Q, C] BM25 scores of every query against every candidate of one language."""
  import bm25s
  retriever = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
  retriever.index([tokenize(c, lang) for c in candidates], show_progress=False)
  return np.stack([retriever.get_scores(tokenize(q, lang)) for q in queries]).astype(np.float32)


def evaluate_mo(corpora):
  """(summary, per_query) with Mo only: BM25 over each language's own candidates."""
  pair_map, pair_r1, per_query = {}, {}, {}
  for lang, c in corpora.items():
    index = lareqa.Index([lang], {lang: [q.id for q in c.questions]}, {lang: None},
                         {lang: np.array([q.answer for q in c.questions])}, {lang: np.arange(len(c.candidates))})
    s = scores([q.text for q in c.questions], c.candidates, lang)
    summary, pq = lareqa.metrics(lareqa.rank(index, scores=s), pooled=False)
    pair_map[lang], pair_r1[lang] = summary["pairs_mAP"][lang], summary["pairs_R@1"][lang]
    per_query[f"pair/{lang}/{lang}"] = pq[f"pair/{lang}/{lang}"]
  langs = list(corpora)
  summary = {"Mo": float(np.mean([pair_map[l][l] for l in langs])), "Cr": None, "Mul": None, "RD": None,
             "R@1": {"Mo": float(np.mean([pair_r1[l][l] for l in langs]))}, "langs": langs,
             "queries": {l: len(corpora[l].questions) for l in langs},
             "mo_mAP": {l: pair_map[l][l] for l in langs}, "mo_R@1": {l: pair_r1[l][l] for l in langs},
             "model": "bm25"}
  per_query["question_ids"] = {l: [q.id for q in corpora[l].questions] for l in langs}
  return summary, per_query

"""Query feedback (`jaxir.eval.feedback`: vector pseudo-relevance feedback, settings K:W and K:W:T) measured on the
MLQA-R dev split, and optionally applied once to an XQuAD-R export of the same model: the tool that chose the recipe's
setting. Beside Mo / Cr / Mul / RD it prints Thai's part in RD, the paired tests of `rescoring` and (--drift) where
feedback gains and loses Mo.

In LAReQA a query's top candidates are mostly its answer in several languages, translations of one another; their
mean leans away from the query's language toward what the parallel answers share, which is where an answer in a
language the model places apart (Thai in XQuAD-R) sits.

  PYTHONPATH=. python tools/prf.py MODEL_DIR [--settings 1:0.25,3:0.5,...] \
      [--drift] [--xquad SWEEP/cells/<cell>/emb/xquad-r --xquad-setting K:W[:T]]

`jaxir eval --embeddings EXPORT --feedback K:W[:T]` ranks with a setting in production. docs/results/best/README.md
(sections 11, 11b and 12) has the rules fixed before the runs and what they measured; tools/prf_seeds.py scores a
chosen setting over a configuration's seeds.
"""
import argparse
import json
import sys

import numpy as np

import rescoring                       # tools/rescoring.py, beside this file
from jaxir.eval import feedback
from jaxir.errors import JaxirError

GRID = "1:0.25,1:0.5,1:0.75,3:0.25,3:0.5,3:0.75,5:0.25,5:0.5,5:0.75,10:0.25,10:0.5,10:0.75"


def feedback_scores(q, c, setting):
  """[Q, C] q'·c (`feedback.rewrite`; float64, then float32 for the ranker); setting (k, 0) is q·c."""
  c = np.asarray(c, np.float64)
  fed = feedback.rewrite(q, c, setting)
  out = np.empty((len(fed), len(c)), np.float32)
  for s in range(0, len(fed), feedback.CHUNK):
    out[s:s + feedback.CHUNK] = fed[s:s + feedback.CHUNK] @ c.T
  return out


def drift(index, emb, k, mo_before, mo_after, hits_by_k=None):
  """Where feedback gains and loses Mo: {h: (share of queries, mean Mo AP before, after)} by h, how many of a
  query's k feedback candidates are its parallel answers (in any language). mo_before / mo_after are the per-query
  Mo AP (1 / the rank of the answer in the query's own language among that language's candidates) in the index's
  query order: `rescoring.score`'s per_query "Mo" of plain retrieval and of the feedback setting (NaN, skipped as Mo
  skips it, for a query with no answer in its own language). `hits_by_k`, a dict kept by the caller, holds each
  k's hit counts so that settings sharing k search the top k once."""
  from jaxir.eval import lareqa
  hits = (hits_by_k or {}).get(k)
  if hits is None:
    qrows, crows = lareqa.query_candidate_rows(index)
    answers, _ = lareqa.relevant_matrix(index)               # [Q, L] global candidate index (-1: none)
    top = feedback.top_candidates(emb[qrows], emb[crows], k)
    hits = (top[:, :, None] == answers[:, None, :]).any(2).sum(1)
    if hits_by_k is not None:
      hits_by_k[k] = hits
  return {h: (float((hits == h).mean()), float(np.nanmean(mo_before[hits == h])),
              float(np.nanmean(mo_after[hits == h])))
          for h in range(k + 1) if (hits == h).any()}


def print_drift(tag, k, groups):
  for h, (share, before, after) in groups.items():
    print(f"{tag} {h} of the top {k} are answers: {100 * share:4.1f}% of queries, Mo AP "
          f"{100 * before:.2f} -> {100 * after:.2f} ({100 * (after - before):+.2f})", flush=True)


def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("model")
  ap.add_argument("--settings", default=GRID, help="comma-separated K:W or K:W:T (score-weighted); w = 0, plain "
                  "retrieval, is always scored")
  ap.add_argument("--xquad", help="an XQuAD-R export of the same model: scored once, at --xquad-setting")
  ap.add_argument("--xquad-setting", help="the K:W or K:W:T chosen on the dev split")
  ap.add_argument("--drift", action="store_true", help="also print `drift` on the dev split for every setting")
  a = ap.parse_args(argv)
  settings = [feedback.parse(t) for t in a.settings.split(",") if t]
  if not settings:
    raise JaxirError("--settings names no K:W")
  if (a.xquad is None) != (a.xquad_setting is None):
    raise JaxirError("--xquad and --xquad-setting go together (the setting is the one chosen on the dev split)")
  chosen = feedback.parse(a.xquad_setting) if a.xquad_setting else None
  plain = (1, 0.0)
  settings = [plain] + [s for s in dict.fromkeys(settings) if s[1] != 0]
  xquad = rescoring.load_xquad(a.xquad) if a.xquad else None      # a bad export is refused before any encoding
  dev = rescoring.load_dev(a.model)
  pq_dev, hits_dev = {}, {}
  results = {"dev": rescoring.score(dev.index, dev.emb, feedback_scores, settings, dev.train_langs, pq_dev),
             "xquad": {}}
  for s in settings:
    print(rescoring.line("dev  ", feedback.name(s), results["dev"][s]), flush=True)
    if a.drift and s != plain:
      print_drift(f"dev   {feedback.name(s)}:", s[0], drift(dev.index, dev.emb, s[0], pq_dev[plain]["Mo"], pq_dev[s]["Mo"],
                                                            hits_dev))
  if xquad:
    index_x, emb_x = xquad
    rescoring.check_width(a.xquad, emb_x, dev.emb.shape[1])
    pq = {}
    results["xquad"] = rescoring.score(index_x, emb_x, feedback_scores, list(dict.fromkeys([plain, chosen])),
                                       dev.train_langs, pq)
    for s in dict.fromkeys([plain, chosen]):
      print(rescoring.line("xquad", feedback.name(s), results["xquad"][s]), flush=True)
    if chosen[1] != 0:
      rescoring.paired(results["xquad"], pq, chosen, plain, feedback.name(chosen))
      results["xquad"]["drift"] = drift(index_x, emb_x, chosen[0], pq[plain]["Mo"], pq[chosen]["Mo"])
      print_drift("xquad", chosen[0], results["xquad"]["drift"])
    print(f"xquad {feedback.name(chosen)}: `jaxir eval --embeddings {a.xquad} --feedback {a.xquad_setting} --out DIR` ranks "
          "the same through the production evaluator", flush=True)
  print(json.dumps({part: {feedback.name(s) if isinstance(s, tuple) else s: v for s, v in r.items()}
                    for part, r in results.items()}))


if __name__ == "__main__":
  try:
    main()
  except JaxirError as e:
    sys.exit(f"prf: error: {e}")

"""Hubness-corrected scoring (CSLS: Conneau et al. 2018, "Word Translation Without Parallel Data", arXiv 1710.04087)
measured on the MLQA-R dev split, and optionally applied once to an XQuAD-R export of the same model.

  score(q, c) = q·c - β·r(c),   r(c) = the mean of c's k largest dot products with a fixed reference set of queries

The reference set is the MLQA-R TRAIN split's questions (--max-ref per language, seeded; its 7 languages), never the
evaluated queries. CSLS proper is 2·cos(q, c) - r(c) - r(q); for one query r(q) is a constant and the factor 2
divides out, so it ranks as β = 0.5 does here; β = 0 is plain dot-product retrieval. A candidate that sits close to
many queries (a hub: in LAReQA, often a candidate in the query's own language) is pushed down, one far from all of
them (a language the model knows less well) is pulled up. It is a change of scoring, not of the encoder, and exports
to any inner-product index as one more dimension: q' = [q, β], c' = [c, -r(c)], q'·c' = score(q, c).

  PYTHONPATH=. python tools/csls.py MODEL_DIR [--betas 0,0.25,0.5,0.75,1] [--k 10] [--max-ref 500] \
      [--xquad SWEEP/cells/<cell>/emb/xquad-r --xquad-beta B]

docs/results/best/README.md (section 9) has the rule fixed before the run and what it measured.
"""
import argparse
import json
import sys
import time

import numpy as np

import rescoring                       # tools/rescoring.py, beside this file
from jaxir.errors import JaxirError

CHUNK = 1024


def hubness(candidates, reference, k):
  """[C] r(c): the mean of each candidate's k largest dot products with the reference rows (float64)."""
  c = np.asarray(candidates, np.float64)
  ref = np.asarray(reference, np.float64)
  if not 1 <= k <= len(ref):
    raise JaxirError(f"--k must be in 1..{len(ref)} (the reference queries), got {k}")
  out = np.empty(len(c))
  for s in range(0, len(c), CHUNK):
    sims = c[s:s + CHUNK] @ ref.T
    out[s:s + CHUNK] = np.partition(sims, len(ref) - k, axis=1)[:, len(ref) - k:].mean(1)
  return out


def corrected_scores(q, c, r, beta):
  """[Q, C] q·c - β·r(c) (float64, then float32 for the ranker)."""
  return (np.asarray(q, np.float64) @ np.asarray(c, np.float64).T - beta * np.asarray(r, np.float64)[None]).astype(np.float32)


def score(index, emb, reference, k, betas, train_langs, per_query=None):
  """{β: {Mo, Cr, Mul, RD, RD_no_th, th_worst}, "r_by_lang": {language: mean r(c) of its candidates}} for the
  LAReQA index over `emb`; `per_query` (a dict), when given, gets {β: {"Mul": [Q] AP, "RD": [Q] spread}}."""
  from jaxir.eval import lareqa
  _, crows = lareqa.query_candidate_rows(index)
  r = hubness(np.asarray(emb[crows]), reference, k)
  sizes = np.cumsum([0] + [len(index.candidate_rows[l]) for l in index.langs])
  out = rescoring.score(index, emb, lambda q, c, beta: corrected_scores(q, c, r, beta), betas, train_langs, per_query)
  out["r_by_lang"] = {l: float(r[a:b].mean()) for l, a, b in zip(index.langs, sizes[:-1], sizes[1:])}
  return out


def r_line(result):
  return " ".join(f"{l} {v:.3f}" for l, v in sorted(result["r_by_lang"].items(), key=lambda kv: -kv[1]))


def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("model")
  ap.add_argument("--betas", default="0,0.25,0.5,0.75,1")
  ap.add_argument("--k", type=int, default=10, help="neighbours in r(c) (CSLS's 10)")
  ap.add_argument("--max-ref", type=int, default=500, help="reference questions per MLQA-R train language")
  ap.add_argument("--xquad", help="an XQuAD-R export of the same model: scored once, at --xquad-beta")
  ap.add_argument("--xquad-beta", type=float, help="the β chosen on the dev split")
  a = ap.parse_args(argv)
  try:
    betas = [float(b) for b in a.betas.split(",") if b]
  except ValueError:
    raise JaxirError(f"--betas must be comma-separated numbers, got {a.betas!r}") from None
  if not betas or not all(np.isfinite(b) and b >= 0 for b in betas):
    raise JaxirError(f"--betas must name one or more finite numbers >= 0, got {a.betas!r}")
  if a.max_ref < 1 or a.k < 1:
    raise JaxirError(f"--k and --max-ref must be at least 1, got {a.k} and {a.max_ref}")
  if (a.xquad is None) != (a.xquad_beta is None):
    raise JaxirError("--xquad and --xquad-beta go together (the β is the one chosen on the dev split)")
  from jaxir.encode import benchmark_texts, embed_texts
  xquad = rescoring.load_xquad(a.xquad) if a.xquad else None      # a bad export is refused before any encoding
  dev = rescoring.load_dev(a.model)
  t0 = time.time()
  texts, idx = benchmark_texts(dev.data.corpora["train"], *dev.prompts)
  rng = np.random.default_rng(0)
  rows = sorted(int(r) for l in idx["langs"]
                for r in rng.choice(idx["per_lang"][l]["question_rows"],
                                    min(a.max_ref, len(idx["per_lang"][l]["question_rows"])), replace=False))
  reference = embed_texts(dev.pre, [texts[i] for i in rows], dev.pre.max_length)
  print(f"reference: {len(rows)} MLQA-R train questions of {len(idx['langs'])} languages in {time.time() - t0:.0f}s",
        flush=True)
  results = {"dev": score(dev.index, dev.emb, reference, a.k, betas, dev.train_langs), "xquad": {}}
  for beta in betas:
    print(rescoring.line("dev  ", f"β {beta}", results["dev"][beta]), flush=True)
  print("dev   mean r(c) by candidate language:", r_line(results["dev"]), flush=True)
  if xquad:
    index_x, emb_x = xquad
    rescoring.check_width(a.xquad, emb_x, reference.shape[1])
    betas_x = sorted({0.0, a.xquad_beta})            # the test's own baseline through the same code, paired below
    pq = {}
    results["xquad"] = score(index_x, emb_x, reference, a.k, betas_x, dev.train_langs, pq)
    for beta in betas_x:
      print(rescoring.line("xquad", f"β {beta}", results["xquad"][beta]), flush=True)
    if a.xquad_beta != 0:
      rescoring.paired(results["xquad"], pq, a.xquad_beta, 0.0, f"β {a.xquad_beta}")
    print("xquad mean r(c) by candidate language:", r_line(results["xquad"]), flush=True)
  print(json.dumps(results))


if __name__ == "__main__":
  try:
    main()
  except JaxirError as e:
    sys.exit(f"csls: error: {e}")

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
  qrows, crows = lareqa.query_candidate_rows(index)
  q, c = np.asarray(emb[qrows]), np.asarray(emb[crows])
  r = hubness(c, reference, k)
  sizes = np.cumsum([0] + [len(index.candidate_rows[l]) for l in index.langs])
  out = {"r_by_lang": {l: float(r[a:b].mean()) for l, a, b in zip(index.langs, sizes[:-1], sizes[1:])}}
  for beta in betas:
    ranks = lareqa.rank(index, scores=corrected_scores(q, c, r, beta))
    s, pq = lareqa.metrics(ranks, train_langs)
    out[beta] = {k_: s[k_] for k_ in ("Mo", "Cr", "Mul", "RD")}
    if per_query is not None:
      per_query[beta] = {m: np.concatenate([pq[f"{m.lower()}/{l}"] for l in index.langs]) for m in ("Mul", "RD")}
    out[beta].update(thai_share(ranks))
  return out


def thai_share(ranks):
  """Thai's part in RD (`lareqa.language_part`): the share of queries whose worst-placed answer is Thai, and RD
  without the Thai column."""
  from jaxir.eval import lareqa
  if "th" not in ranks.langs:
    return {}
  part = lareqa.language_part(ranks, "th")
  return {"th_worst": part["worst"], "RD_no_th": part["RD_without"]}


def line(tag, beta, r):
  extra = f" | Thai worst {100 * r['th_worst']:.1f}% RD without Thai {r['RD_no_th'] or 0:.1f}" if "th_worst" in r else ""
  return (f"{tag} β {beta}: Mo {100 * r['Mo']:.2f} Cr {100 * r['Cr']:.2f} Mul {100 * r['Mul']:.2f} RD {r['RD']:.1f} "
          f"mean {100 * (r['Mo'] + r['Cr'] + r['Mul']) / 3:.2f}{extra}")


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
  from jaxir import config as config_lib
  from jaxir.data.pairs import load_pairs
  from jaxir.encode import benchmark_texts, embed_texts, load_embeddings
  from jaxir.eval import evaluate, lareqa
  from jaxir.model.hf_io import effective_prompts, load_pretrained
  export = load_embeddings(a.xquad) if a.xquad else None      # a bad export is refused before any encoding
  pre = load_pretrained(a.model)
  prompts = effective_prompts(pre.meta)
  data = load_pairs(config_lib.build(overrides=["data.hard_negatives=0"]).data)
  train_langs = pre.meta.get("train_langs") or sorted(data.corpora["train"])
  t0 = time.time()
  texts, idx = benchmark_texts(data.corpora["train"], *prompts)
  rng = np.random.default_rng(0)
  rows = sorted(int(r) for l in idx["langs"]
                for r in rng.choice(idx["per_lang"][l]["question_rows"],
                                    min(a.max_ref, len(idx["per_lang"][l]["question_rows"])), replace=False))
  reference = embed_texts(pre, [texts[i] for i in rows], pre.max_length)
  print(f"reference: {len(rows)} MLQA-R train questions of {len(idx['langs'])} languages in {time.time() - t0:.0f}s",
        flush=True)
  texts_d, idx_d = benchmark_texts(data.corpora["dev"], *prompts)
  emb_d = embed_texts(pre, texts_d, pre.max_length)
  results = {"dev": score(lareqa.Index.from_json(idx_d), emb_d, reference, a.k, betas, train_langs), "xquad": {}}
  for beta in betas:
    print(line("dev  ", beta, results["dev"][beta]), flush=True)
  print("dev   mean r(c) by candidate language:", r_line(results["dev"]), flush=True)
  if a.xquad:
    _, ij, emb_x = export
    if emb_x.shape[1] != reference.shape[1]:
      raise JaxirError(f"{a.xquad}: embeddings of width {emb_x.shape[1]}, the model's are {reference.shape[1]}")
    betas_x = sorted({0.0, a.xquad_beta})            # the test's own baseline through the same code, paired below
    pq = {}
    results["xquad"] = score(evaluate._index_from_export(ij), emb_x, reference, a.k, betas_x, train_langs, pq)
    for beta in betas_x:
      print(line("xquad", beta, results["xquad"][beta]), flush=True)
    if a.xquad_beta != 0:
      from jaxir.report.stats import paired_test
      for m, scale in (("Mul", 100), ("RD", 1)):
        diff, p = paired_test(pq[a.xquad_beta][m], pq[0.0][m])
        results["xquad"][f"paired_{m}"] = {"diff": diff, "p": p}
        print(f"xquad β {a.xquad_beta} − β 0 over paired queries: {m} {scale * diff:+.2f} (sign-flip p = {p:.2g})",
              flush=True)
    print("xquad mean r(c) by candidate language:", r_line(results["xquad"]), flush=True)
  print(json.dumps(results))


if __name__ == "__main__":
  try:
    main()
  except JaxirError as e:
    sys.exit(f"csls: error: {e}")

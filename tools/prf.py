"""Vector pseudo-relevance feedback (Rocchio 1971, as dense-retrieval PRF: Li et al. 2021, "Pseudo Relevance Feedback
with Deep Language Models and Dense Retrievers: Successes and Pitfalls", arXiv 2108.11044) measured on the MLQA-R dev
split, and optionally applied once to an XQuAD-R export of the same model.

  q' = (1 - w)·q + w·mean(c_1 .. c_k),   score(q, c) = q'·c

c_1 .. c_k are q's k top-ranked candidates under plain dot products, over the whole multilingual pool. w = 0 is plain
retrieval. In LAReQA a query's top candidates are mostly its answer in several languages, translations of one
another; their mean leans away from the query's language toward what the parallel answers share, which is where an
answer in a language the model places apart (Thai in XQuAD-R) sits. A second retrieval with q' is a change of
scoring, not of the encoder: any inner-product index serves it with two searches.

  PYTHONPATH=. python tools/prf.py MODEL_DIR [--settings 1:0.25,3:0.5,...] \
      [--xquad SWEEP/cells/<cell>/emb/xquad-r --xquad-setting K:W]

docs/results/best/README.md (section 11) has the rule fixed before the run and what it measured.
"""
import argparse
import json
import sys

import numpy as np

import rescoring                       # tools/rescoring.py, beside this file
from jaxir.errors import JaxirError

CHUNK = 1024
GRID = "1:0.25,1:0.5,1:0.75,3:0.25,3:0.5,3:0.75,5:0.25,5:0.5,5:0.75,10:0.25,10:0.5,10:0.75"


def feedback_scores(q, c, setting):
  """[Q, C] q'·c for setting (k, w): q' = (1 - w)·q + w·(mean of q's k top-scoring rows of c) (float64, then float32
  for the ranker); setting (k, 0) is q·c."""
  k, w = setting
  q, c = np.asarray(q, np.float64), np.asarray(c, np.float64)
  if not 1 <= k <= len(c):
    raise JaxirError(f"k must be in 1..{len(c)} (the candidates), got {k}")
  out = np.empty((len(q), len(c)), np.float32)
  for s in range(0, len(q), CHUNK):
    sims = q[s:s + CHUNK] @ c.T
    if w:
      top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
      sims = ((1 - w) * q[s:s + CHUNK] + w * c[top].mean(1)) @ c.T
    out[s:s + CHUNK] = sims
  return out


def parse_setting(text):
  """'K:W' -> (K, W) with K >= 1 and 0 <= W <= 1."""
  try:
    k, w = text.split(":")
    k, w = int(k), float(w)
  except ValueError:
    raise JaxirError(f"a setting is K:W (k an integer, w a number), got {text!r}") from None
  if k < 1 or not 0 <= w <= 1:
    raise JaxirError(f"a setting needs k >= 1 and 0 <= w <= 1, got {text!r}")
  return (k, w)


def name(setting):
  return f"k {setting[0]} w {setting[1]}"


def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("model")
  ap.add_argument("--settings", default=GRID, help="comma-separated K:W (w = 0, plain retrieval, is always scored)")
  ap.add_argument("--xquad", help="an XQuAD-R export of the same model: scored once, at --xquad-setting")
  ap.add_argument("--xquad-setting", help="the K:W chosen on the dev split")
  a = ap.parse_args(argv)
  settings = [parse_setting(t) for t in a.settings.split(",") if t]
  if not settings:
    raise JaxirError("--settings names no K:W")
  if (a.xquad is None) != (a.xquad_setting is None):
    raise JaxirError("--xquad and --xquad-setting go together (the setting is the one chosen on the dev split)")
  chosen = parse_setting(a.xquad_setting) if a.xquad_setting else None
  plain = (1, 0.0)
  settings = [plain] + [s for s in dict.fromkeys(settings) if s[1] != 0]
  xquad = rescoring.load_xquad(a.xquad) if a.xquad else None      # a bad export is refused before any encoding
  dev = rescoring.load_dev(a.model)
  results = {"dev": rescoring.score(dev.index, dev.emb, feedback_scores, settings, dev.train_langs), "xquad": {}}
  for s in settings:
    print(rescoring.line("dev  ", name(s), results["dev"][s]), flush=True)
  if xquad:
    index_x, emb_x = xquad
    rescoring.check_width(a.xquad, emb_x, dev.emb.shape[1])
    pq = {}
    results["xquad"] = rescoring.score(index_x, emb_x, feedback_scores, sorted({plain, chosen}), dev.train_langs, pq)
    for s in sorted({plain, chosen}):
      print(rescoring.line("xquad", name(s), results["xquad"][s]), flush=True)
    if chosen[1] != 0:
      rescoring.paired(results["xquad"], pq, chosen, plain, name(chosen))
  print(json.dumps({part: {name(s) if isinstance(s, tuple) else s: v for s, v in r.items()}
                    for part, r in results.items()}))


if __name__ == "__main__":
  try:
    main()
  except JaxirError as e:
    sys.exit(f"prf: error: {e}")

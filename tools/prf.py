"""Vector pseudo-relevance feedback (Rocchio 1971, as dense-retrieval PRF: Li et al. 2021, "Pseudo Relevance Feedback
with Deep Language Models and Dense Retrievers: Successes and Pitfalls", arXiv 2108.11044) measured on the MLQA-R dev
split, and optionally applied once to an XQuAD-R export of the same model.

  q' = (1 - w)·q + w·mean(c_1 .. c_k),   score(q, c) = q'·c          setting K:W
  q' = (1 - w)·q + w·Σ softmax(q·c_i / t)·c_i                           setting K:W:T (score-weighted, §12)

c_1 .. c_k are q's k top-ranked candidates under plain dot products, over the whole multilingual pool. w = 0 is plain
retrieval. In LAReQA a query's top candidates are mostly its answer in several languages, translations of one
another; their mean leans away from the query's language toward what the parallel answers share, which is where an
answer in a language the model places apart (Thai in XQuAD-R) sits. A second retrieval with q' is a change of
scoring, not of the encoder: any inner-product index serves it with two searches.

  PYTHONPATH=. python tools/prf.py MODEL_DIR [--settings 1:0.25,3:0.5,...] \
      [--drift] [--xquad SWEEP/cells/<cell>/emb/xquad-r --xquad-setting K:W[:T] [--export DIR [--force]]]

docs/results/best/README.md (sections 11, 11b and 12) has the rules fixed before the runs and what they measured;
tools/prf_seeds.py scores a chosen setting over a configuration's seeds.
"""
import argparse
import json
import sys

import numpy as np

import rescoring                       # tools/rescoring.py, beside this file
from jaxir.errors import JaxirError

CHUNK = 1024
GRID = "1:0.25,1:0.5,1:0.75,3:0.25,3:0.5,3:0.75,5:0.25,5:0.5,5:0.75,10:0.25,10:0.5,10:0.75"


def check_k(k, n):
  if not 1 <= k <= n:
    raise JaxirError(f"k must be in 1..{n} (the candidates), got {k}")


def top_candidates(q, c, k):
  """[Q, k] indices of q's k top-scoring rows of c under q·c in float64 (in no particular order)."""
  q, c = np.asarray(q, np.float64), np.asarray(c, np.float64)
  check_k(k, len(c))
  return np.concatenate([np.argpartition(-(q[s:s + CHUNK] @ c.T), k - 1, axis=1)[:, :k]
                         for s in range(0, len(q), CHUNK)] or [np.empty((0, k), int)])


def feedback_queries(q, c, setting):
  """[Q, D] q' for setting (k, w): (1 - w)·q + w·(the mean of q's k top-scoring rows of c), in float64; w = 0 is q.
  A setting (k, w, t) weighs the k rows by softmax(q·c_i / t) instead of equally (score-weighted feedback: a
  candidate far below the first loses its vote; t → ∞ is the plain mean)."""
  k, w = setting[:2]
  q, c = np.asarray(q, np.float64), np.asarray(c, np.float64)
  check_k(k, len(c))
  if not w:
    return q
  top = top_candidates(q, c, k)
  if len(setting) < 3:
    return (1 - w) * q + w * c[top].mean(1)
  s = np.einsum("qd,qkd->qk", q, c[top]) / setting[2]
  weights = np.exp(s - s.max(1, keepdims=True))
  weights /= weights.sum(1, keepdims=True)
  return (1 - w) * q + w * np.einsum("qk,qkd->qd", weights, c[top])


def feedback_scores(q, c, setting):
  """[Q, C] q'·c (`feedback_queries`; float64, then float32 for the ranker); setting (k, 0) is q·c."""
  c = np.asarray(c, np.float64)
  fed = feedback_queries(q, c, setting)
  out = np.empty((len(fed), len(c)), np.float32)
  for s in range(0, len(fed), CHUNK):
    out[s:s + CHUNK] = fed[s:s + CHUNK] @ c.T
  return out


def drift(index, emb, k, mo_before, mo_after):
  """Where feedback gains and loses Mo: {h: (share of queries, mean Mo AP before, after)} by h, how many of a
  query's k feedback candidates are its parallel answers (in any language). mo_before / mo_after are the per-query
  Mo AP (1 / the rank of the answer in the query's own language among that language's candidates) in the index's
  query order: `rescoring.score`'s per_query "Mo" of plain retrieval and of the feedback setting (NaN, skipped as Mo
  skips it, for a query with no answer in its own language)."""
  from jaxir.eval import lareqa
  qrows, crows = lareqa.query_candidate_rows(index)
  answers, _ = lareqa.relevant_matrix(index)                 # [Q, L] global candidate index (-1: none)
  top = top_candidates(emb[qrows], emb[crows], k)
  hits = (top[:, :, None] == answers[:, None, :]).any(2).sum(1)
  return {h: (float((hits == h).mean()), float(np.nanmean(mo_before[hits == h])),
              float(np.nanmean(mo_after[hits == h])))
          for h in range(k + 1) if (hits == h).any()}


def print_drift(tag, k, groups):
  for h, (share, before, after) in groups.items():
    print(f"{tag} {h} of the top {k} are answers: {100 * share:4.1f}% of queries, Mo AP "
          f"{100 * before:.2f} -> {100 * after:.2f} ({100 * (after - before):+.2f})", flush=True)


def check_export_target(src, dst, force=False):
  """Refuses, before any work, an --export that is the --xquad export itself, or (unless `force`) a folder jaxir did
  not write."""
  from pathlib import Path
  from jaxir import storage
  if Path(dst).resolve() == Path(src).resolve():
    raise JaxirError(f"--export {dst} is the --xquad export itself; choose another directory")
  storage.check_replaceable(dst, "manifest.json", force)


def write_export(src, dst, index, emb, setting, force=False):
  """A copy of the export `src` at `dst` whose question rows are the feedback queries: `jaxir eval --embeddings
  dst` then ranks by q'·c through the production ranker (an independent check of this tool's numbers)."""
  import shutil
  from pathlib import Path
  from jaxir import storage
  from jaxir.eval import lareqa
  check_export_target(src, dst, force)
  qrows, crows = lareqa.query_candidate_rows(index)
  fed = np.array(emb)
  fed[qrows] = feedback_queries(fed[qrows], fed[crows], setting).astype(fed.dtype)
  manifest = storage.read_json(Path(src) / "manifest.json", "manifest")
  manifest["scoring"] = {"prf": {"k": setting[0], "w": setting[1], **({"t": setting[2]} if len(setting) > 2 else {}),
                                 "queries_from": str(src)}}
  with storage.atomic_dir(dst, "manifest.json", force) as tmp:
    for f in Path(src).iterdir():
      if f.name not in ("embeddings.npy", "manifest.json") and f.is_file():
        shutil.copy(f, tmp / f.name)
    np.save(tmp / "embeddings.npy", fed)
    storage.write_json(tmp / "manifest.json", manifest)


def parse_setting(text):
  """'K:W' -> (K, W) with K >= 1 and 0 <= W <= 1; 'K:W:T' -> (K, W, T), T > 0 (score-weighted)."""
  try:
    parts = text.split(":")
    if len(parts) not in (2, 3):
      raise ValueError
    k, w, t = int(parts[0]), float(parts[1]), (float(parts[2]) if len(parts) == 3 else None)
  except ValueError:
    raise JaxirError(f"a setting is K:W or K:W:T (k an integer, w and t numbers), got {text!r}") from None
  if k < 1 or not 0 <= w <= 1 or (t is not None and not (np.isfinite(t) and t > 0)):
    raise JaxirError(f"a setting needs k >= 1, 0 <= w <= 1 and t > 0, got {text!r}")
  return (k, w) if t is None else (k, w, t)


def name(setting):
  return f"k {setting[0]} w {setting[1]}" + (f" t {setting[2]}" if len(setting) > 2 else "")


def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("model")
  ap.add_argument("--settings", default=GRID, help="comma-separated K:W or K:W:T (score-weighted); w = 0, plain "
                  "retrieval, is always scored")
  ap.add_argument("--xquad", help="an XQuAD-R export of the same model: scored once, at --xquad-setting")
  ap.add_argument("--xquad-setting", help="the K:W or K:W:T chosen on the dev split")
  ap.add_argument("--export", help="with --xquad: also write a copy of that export whose question rows are the "
                  "feedback queries, for `jaxir eval --embeddings` (the production ranker)")
  ap.add_argument("--force", action="store_true", help="with --export: replace DIR even if jaxir did not write it")
  ap.add_argument("--drift", action="store_true", help="also print `drift` on the dev split for every setting")
  a = ap.parse_args(argv)
  settings = [parse_setting(t) for t in a.settings.split(",") if t]
  if not settings:
    raise JaxirError("--settings names no K:W")
  if (a.xquad is None) != (a.xquad_setting is None):
    raise JaxirError("--xquad and --xquad-setting go together (the setting is the one chosen on the dev split)")
  if a.export and not a.xquad:
    raise JaxirError("--export needs --xquad (the export whose queries it replaces)")
  chosen = parse_setting(a.xquad_setting) if a.xquad_setting else None
  plain = (1, 0.0)
  settings = [plain] + [s for s in dict.fromkeys(settings) if s[1] != 0]
  xquad = rescoring.load_xquad(a.xquad) if a.xquad else None      # a bad export is refused before any encoding
  if a.export:
    check_export_target(a.xquad, a.export, a.force)
  dev = rescoring.load_dev(a.model)
  pq_dev = {}
  results = {"dev": rescoring.score(dev.index, dev.emb, feedback_scores, settings, dev.train_langs, pq_dev),
             "xquad": {}}
  for s in settings:
    print(rescoring.line("dev  ", name(s), results["dev"][s]), flush=True)
    if a.drift and s != plain:
      print_drift(f"dev   {name(s)}:", s[0], drift(dev.index, dev.emb, s[0], pq_dev[plain]["Mo"], pq_dev[s]["Mo"]))
  if xquad:
    index_x, emb_x = xquad
    rescoring.check_width(a.xquad, emb_x, dev.emb.shape[1])
    pq = {}
    results["xquad"] = rescoring.score(index_x, emb_x, feedback_scores, list(dict.fromkeys([plain, chosen])),
                                       dev.train_langs, pq)
    for s in dict.fromkeys([plain, chosen]):
      print(rescoring.line("xquad", name(s), results["xquad"][s]), flush=True)
    if chosen[1] != 0:
      rescoring.paired(results["xquad"], pq, chosen, plain, name(chosen))
      results["xquad"]["drift"] = drift(index_x, emb_x, chosen[0], pq[plain]["Mo"], pq[chosen]["Mo"])
      print_drift("xquad", chosen[0], results["xquad"]["drift"])
    if a.export:
      write_export(a.xquad, a.export, index_x, emb_x, chosen, a.force)
      print(f"xquad {name(chosen)}: its queries written into {a.export}; `jaxir eval --embeddings {a.export}` "
            "ranks them", flush=True)
  print(json.dumps({part: {name(s) if isinstance(s, tuple) else s: v for s, v in r.items()}
                    for part, r in results.items()}))


if __name__ == "__main__":
  try:
    main()
  except JaxirError as e:
    sys.exit(f"prf: error: {e}")

"""Pseudo-relevance feedback (tools/prf.py's settings) on an ad-hoc retrieval export (`jaxir encode --benchmark beir`
or miracl): does the second search help or hurt where a passage has no translations in the pool? Per dataset,
nDCG@10 and Recall@100 with plain dot products and with feedback, each the production evaluation (`jaxir eval
[--feedback K:W[:T]]`: `jaxir.eval.ir`), and the paired sign-flip test over queries.

  PYTHONPATH=. python tools/prf_ir.py EXPORT --settings 5:0.75,5:0.5:0.02

A diagnostic of settings chosen elsewhere (docs/results/best/README.md §12), never a place to choose one.
"""
import argparse
import json
import sys

import numpy as np

from jaxir.errors import JaxirError
from jaxir.eval import feedback

METRICS = ("nDCG@10", "Recall@100")


def per_query(path, name, setting=None):
  """{metric: [Q] per judged query, in qrels order} of the production evaluation of the export's `name` collection
  (`ir.evaluate_collection`, what `jaxir eval` runs), plain or with feedback `setting`."""
  from jaxir.eval import ir
  _, pq, _ = ir.evaluate_collection(path, name, feedback=setting, tag="jaxir-prf")
  return {m: np.array([v[m] for v in pq.values()]) for m in METRICS}


def measure(path, settings):
  """{dataset: {setting name: {metric: mean, paired: {metric: (diff, p)}}}} over the export's datasets."""
  from jaxir.encode_sets import load_export
  from jaxir.report.stats import paired_test
  manifest = load_export(path)
  if manifest["benchmark"] not in ("beir", "miracl"):
    raise JaxirError(f"{path} holds {manifest['benchmark']} embeddings, not beir or miracl")
  out = {}
  for name in manifest["datasets" if manifest["benchmark"] == "beir" else "langs"]:
    plain = per_query(path, name)
    out[name] = {"plain": {m: float(plain[m].mean()) for m in METRICS}, "n_queries": len(plain[METRICS[0]])}
    for s in settings:
      fed = per_query(path, name, s)
      out[name][feedback.name(s)] = {m: float(fed[m].mean()) for m in METRICS}
      out[name][feedback.name(s)]["paired"] = {m: paired_test(fed[m], plain[m]) for m in METRICS}
  return out


def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("export", help="a beir or miracl export (`jaxir encode`)")
  ap.add_argument("--settings", required=True, help="comma-separated K:W or K:W:T (tools/prf.py)")
  a = ap.parse_args(argv)
  settings = [feedback.parse(t) for t in a.settings.split(",") if t]
  if not settings:
    raise JaxirError("--settings names no K:W")
  from jaxir import storage
  result = measure(storage.as_path(a.export), settings)
  for name, r in result.items():
    print(f"{name} ({r['n_queries']} judged queries) plain: " + " ".join(f"{m} {100 * r['plain'][m]:.2f}"
                                                                      for m in METRICS))
    for s in settings:
      f = r[feedback.name(s)]
      print(f"{name} {feedback.name(s)}: " + " ".join(
          f"{m} {100 * f[m]:.2f} ({100 * f['paired'][m][0]:+.2f}, p {f['paired'][m][1]:.2g})" for m in METRICS))
  print(json.dumps(result))


if __name__ == "__main__":
  try:
    main()
  except JaxirError as e:
    sys.exit(f"prf_ir: error: {e}")

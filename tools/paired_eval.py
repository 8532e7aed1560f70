"""Two LAReQA evaluations of the same queries (`jaxir eval --out A`, `--out B`: e.g. one export ranked with dot products
and with `--feedback`) compared query by query: B − A in Mo, Cr, Mul (per-query AP) and RD, with the sign-flip
test of `jaxir.report.stats.paired_test`.

  PYTHONPATH=. python tools/paired_eval.py EVAL_A EVAL_B [--json OUT.json]

Mo pairs each query's AP of its answer in its own language (`pair/X/X`), Cr each query's AP in every other language
that holds its answer (`pair/X/Y`, Y != X, so a query counts once per such language), Mul its AP over the whole pool
(`mul/X`), RD its spread of ranks (`rd/X`); a metric a pool does not define (Cr and RD where no question has an
answer in another language) is left out. A and B are means over the paired queries (a summary's Mo and Mul are
means over languages, so they differ a little where languages have different numbers of queries). The two evaluations must have the same languages and query counts.
"""
import argparse
import sys
import zipfile

import numpy as np

from jaxir import storage
from jaxir.errors import JaxirError
from jaxir.report.stats import paired_test

SCALE = {"Mo": 100, "Cr": 100, "Mul": 100, "RD": 1}


def per_query(eval_dir):
  """{metric: [n] float64 per-query values, NaN where a query has none} of one `jaxir eval` output."""
  summary = storage.read_json(f"{eval_dir}/summary.json", "evaluation summary")
  try:
    with np.load(f"{eval_dir}/per_query.npz") as z:        # read whole: a damaged member fails here, not later
      arrays = {k: z[k] for k in z.files}
  except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
    raise JaxirError(f"{eval_dir}: no readable per_query.npz ({type(e).__name__}: {e}); is it a `jaxir eval --out` "
                     "folder?") from None
  langs = summary.get("langs")
  if not langs or not all(f"pair/{l}/{l}" in arrays and f"mul/{l}" in arrays for l in langs):
    raise JaxirError(f"{eval_dir}: not a LAReQA evaluation (no pair/X/X and mul/X per-query arrays)")
  cat = lambda keys: np.concatenate([np.empty(0)] + [np.asarray(arrays[k], np.float64) for k in keys if k in arrays])
  return langs, {"Mo": cat(f"pair/{l}/{l}" for l in langs),
                 "Cr": cat(f"pair/{a}/{b}" for a in langs for b in langs if a != b),
                 "Mul": cat(f"mul/{l}" for l in langs),
                 "RD": cat(f"rd/{l}" for l in langs)}


def compare(a_dir, b_dir):
  """{metric: {"A", "B", "diff", "p", "n"}} for each metric defined on both (B − A over the paired queries)."""
  langs_a, a = per_query(a_dir)
  langs_b, b = per_query(b_dir)
  if langs_a != langs_b or any(a[m].shape != b[m].shape for m in a):
    raise JaxirError(f"{a_dir} and {b_dir} do not hold the same languages and queries")
  out = {}
  for m in a:
    both = ~np.isnan(a[m]) & ~np.isnan(b[m])
    if both.any():
      diff, p = paired_test(b[m][both], a[m][both])
      out[m] = {"A": float(a[m][both].mean()), "B": float(b[m][both].mean()), "diff": diff, "p": p,
                "n": int(both.sum())}
  return out


def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("a", help="`jaxir eval --out` folder (the reference)")
  ap.add_argument("b", help="`jaxir eval --out` folder of the same queries")
  ap.add_argument("--json", help="also write the comparison here")
  args = ap.parse_args(argv)
  result = compare(args.a, args.b)
  for m, r in result.items():
    s = SCALE[m]
    print(f"{m:4s} A {s * r['A']:7.2f}  B {s * r['B']:7.2f}  B − A {s * r['diff']:+6.2f}  (sign-flip p = {r['p']:.2g}, "
          f"{r['n']} pairs)")
  if args.json:
    storage.write_json(args.json, {"a": str(args.a), "b": str(args.b), "metrics": result})


if __name__ == "__main__":
  try:
    main()
  except JaxirError as e:
    sys.exit(f"paired_eval: {e}")

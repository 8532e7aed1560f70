"""The α axis of a hybrid sweep drawn from its recorded scores (an expected-scores file), beside the paper's rows.

  PYTHONPATH=. python tools/recorded_figures.py experiments/expected/best_hnb3.yaml --out docs/results/best/figures

Like `jaxir report FILE --out DIR` (the report of a record), this draws from `jaxir expected write`'s file, so a
sweep whose cells were run in several directories (or whose directories are gone) can still be drawn whole; it
adds what the report leaves to its tables: the paper's rows and the goal on the α axis. Only summary scores are
recorded there: means over seeds with 95% t-intervals, no query-level statistics. Writes, per benchmark the
file records:
  <bench>_recorded_alpha.png  Mo, Cr, Mul and RD against α: the trained models (λ = 1), each WiSE-FT λ the
                              file has, and the paper's XLM-R rows at its three batchings, dashed (X-Y
                              α = 0, hybrid 0.5, X-X-mono 1; Tables 1 and 2 of arXiv 2408.10536);
                              the untrained model (the zero-shot cell) and `--goal` as lines
  <bench>_recorded_mixing.png the Mo–Mul plane: mixing batches (α) beside mixing weights (λ, from the untrained
                              model at λ = 0)
"""
import argparse
import sys
from pathlib import Path

from jaxir.errors import JaxirError
from jaxir.report import expected, figures, paper, stats
from jaxir.sweep import spec as spec_lib

METRICS = ("Mo", "Cr", "Mul", "RD")
PANELS = {m: (1, figures.PANELS[m][1]) for m in METRICS}     # recorded scores are already x100 / ranks


def _groups(doc, batch_type):
  """{λ (1 for the trained models): {α: [the seeds' recorded cells]}} of the file's cells
  `<batch_type>_a<α>[_w<λ>]_s<seed>` (`jaxir.sweep.spec.parse_cell_name`)."""
  out = {}
  for name, cell in doc["cells"].items():
    parsed = spec_lib.parse_cell_name(name)
    if isinstance(cell, dict) and parsed and parsed[0] is None and parsed[1].get("batch_type") == batch_type:
      fields = parsed[1]
      lam = 1.0 if fields["wise"] is None else fields["wise"]
      out.setdefault(lam, {}).setdefault(fields["alpha"], []).append(cell)
  return out


def series(doc, bench, batch_type="hybrid"):
  """({label: {metric: [(α, mean, low, high)]}}, {λ: {α: {metric: mean}}}, untrained {metric: value}) of the
  expected-scores document `doc`."""
  curves, means = {}, {}
  for lam, groups in sorted(_groups(doc, batch_type).items(), reverse=True):
    label = "trained (λ = 1)" if lam == 1.0 else f"WiSE-FT λ = {lam:g}"
    for alpha, cells in sorted(groups.items()):
      scored = [c[bench] for c in cells if bench in c]
      if not scored:
        continue
      points = {m: (alpha, *stats.t_interval([s[m] for s in scored])) for m in METRICS}
      for m, point in points.items():
        curves.setdefault(label, {}).setdefault(m, []).append(point)
      means.setdefault(lam, {})[alpha] = {m: point[1] for m, point in points.items()}
  zero = doc["cells"].get("zero-shot")
  untrained = zero.get(bench) if isinstance(zero, dict) else None
  return curves, means, untrained


def paper_rows(bench):
  """{'paper XLM-R': {metric: [(α, value, nan, nan)]}} on our scale (mAP x100, RD in ranks). The paper's LaBSE
  rows are left out: another, stronger starting model (its Cr is 5 points above everything else drawn)."""
  theirs, nan = paper.PAPER_BENCHMARK.get(bench), float("nan")
  rows, pts = paper.TABLE1["XLM-R"], {m: [] for m in METRICS}
  for batching, alpha in sorted(paper.BATCHINGS, key=lambda b: b[1]):
    if theirs in rows[batching]:
      for m, v in zip(("Mo", "Cr", "Mul"), rows[batching][theirs]):
        pts[m].append((alpha, 100 * v, nan, nan))
      pts["RD"].append((alpha, float(paper.TABLE2_RD["XLM-R"][batching][theirs]), nan, nan))
  return {"paper XLM-R": pts} if pts["Mo"] else {}


def draw(path, out, goal=None, batch_type="hybrid"):
  doc = expected.read(path)
  benches = sorted({b for c in doc["cells"].values() if isinstance(c, dict) for b, v in c.items()
                    if isinstance(v, dict)})
  written = []
  for bench in benches:
    curves, means, untrained = series(doc, bench, batch_type)
    if not curves:
      continue
    refs = {}
    if untrained:
      refs["untrained"] = {m: untrained.get(m) for m in METRICS}
    if goal and paper.PAPER_BENCHMARK.get(bench) == "xquad-r":      # XQuAD-R, ranked either way
      refs["goal"] = goal
    published = paper_rows(bench)
    written.append(figures.curves(out / f"{bench}_recorded_alpha.png", {**curves, **published}, refs,
                                  title=f"{bench}: recorded scores of {Path(path).name} (means over seeds, 95% t-interval)",
                                  panels=PANELS, dashed=set(published)))
    if 1.0 in means:
      points = [(a, v["Mo"] / 100, v["Mul"] / 100) for a, v in sorted(means[1.0].items())]
      paths = {}
      for alpha in sorted(means[1.0]):
        steps = [(0.0, untrained["Mo"] / 100, untrained["Mul"] / 100)] if untrained else []
        steps += [(lam, v[alpha]["Mo"] / 100, v[alpha]["Mul"] / 100) for lam, v in sorted(means.items()) if alpha in v]
        paths[alpha] = steps
      written.append(figures.mixing(out / f"{bench}_recorded_mixing.png", points, paths,
                                    title=f"{bench}: α (batches) beside λ (weights), recorded"))
  if not written:
    raise JaxirError(f"{path}: no {batch_type}_a<α>[_w<λ>]_s<seed> cells with scores")
  return written


def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("expected", help="an expected-scores file (`jaxir expected write`)")
  ap.add_argument("--out", required=True, help="folder for the figures")
  ap.add_argument("--goal", help="Mo,Cr,Mul,RD drawn as lines on XQuAD-R and xquad-r-feedback (e.g. issue 20's 80,71,60,285)")
  args = ap.parse_args(argv)
  try:
    goal = None
    if args.goal:
      values = [float(v) for v in args.goal.split(",")]
      if len(values) != 4:
        raise ValueError
      goal = dict(zip(METRICS, values))
  except ValueError:
    print(f"recorded_figures: --goal {args.goal!r}: give four numbers Mo,Cr,Mul,RD", file=sys.stderr)
    return 2
  try:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for p in draw(args.expected, out, goal):
      print(p)
  except (JaxirError, OSError) as e:
    print(f"recorded_figures: {e}", file=sys.stderr)
    return 2
  return 0


if __name__ == "__main__":
  sys.exit(main())

"""The report's comparison with another recipe: this sweep's cells against a baseline's, seed by seed.

`jaxir report SWEEP --baseline FILE.yaml:CONFIG` reads the per-seed scores of the baseline's cells
`CONFIG_s<seed>` from an expected-scores file (`jaxir expected write`, e.g. experiments/expected/full.yaml:
hybrid_a0.5, the `full` sweep's α = 0.5 cells), so the baseline sweep's directory need not exist any more.
For every curve point of this sweep (series × alpha) and every LAReQA benchmark both have, seed s is paired
with the baseline's seed s: a paired t-test over the seeds they share (the per-seed differences' 95%
t-interval and two-sided p, Holm-adjusted over the table). Only summary scores are recorded there, so this
is the seed-level test; the query-level one needs both sweeps' per-query files.
"""
import re

import numpy as np

from jaxir.errors import JaxirError, some
from jaxir.report import expected, stats
from jaxir.report.render import Heading, Para, Table

def read(arg):
  """(file, config, {seed: {benchmark: {metric: value as recorded (x100; RD in ranks)}}}) of `FILE:CONFIG`."""
  path, sep, config = str(arg).rpartition(":")
  if not sep or not path or not config:
    raise JaxirError(f"--baseline {arg!r}: give FILE.yaml:CONFIG, e.g. experiments/expected/full.yaml:hybrid_a0.5 "
                     "(the cells CONFIG_s<seed> of an expected-scores file)")
  doc = expected.read(path)
  pattern = re.compile(re.escape(config) + r"_s(\d+)")
  seeds = {int(m.group(1)): {b: v for b, v in cell.items() if isinstance(v, dict)}
           for name, cell in doc["cells"].items() if isinstance(cell, dict) and (m := pattern.fullmatch(name))}
  if not seeds:
    raise JaxirError(f"--baseline: {path} has no cell {config}_s<seed> (it has {some(list(doc['cells']), 6)})")
  return path, config, seeds


def section(report, baseline):
  """Adds, per LAReQA benchmark the baseline records, the seed-paired differences of every curve point."""
  from jaxir.report.values import ALL, by_alpha, metric_scale, score
  path, config, base = baseline
  report.add(Heading(2, f"Against the baseline {config}"))
  report.add(Para(f"Baseline: the cells {config}_s<seed> of {path} (seeds {sorted(base)}). Δ = ours − baseline, "
                  "seed s against the baseline's seed s; mean Δ [95% t-interval] over the shared seeds, two-sided "
                  "paired t-test, Holm-adjusted over each table; * p < 0.05. mAP ×100; RD in ranks (lower is "
                  "better, so a negative Δ RD is an improvement)."))
  for bench in report.res.benchmarks:
    if not any(bench in b for b in base.values()):
      continue
    rows, ps = [], []
    for series, cells in report.series.items():
      for alpha, group in by_alpha(cells).items():
        row = [report.label(series), f"{alpha:g}"]
        for m in ALL:
          ours = {c.seed: score(c.summaries[bench], m) for c in group}
          result = stats.diff_test([metric_scale(m) * ours[s] - base[s][bench][m] for s in sorted(ours)
                                    if ours[s] is not None and m in base.get(s, {}).get(bench, {})])
          ps.append(result[3])
          row.append(result)
        rows.append(row)
    adj = iter(stats.holm_finite(ps))
    table = []
    for row in rows:
      cells = []
      for mean, lo, hi, _, n in row[2:]:
        p = next(adj)
        if n == 0 or not np.isfinite(mean):
          cells.append("–")
          continue
        ci = f" [{lo:+.2f}, {hi:+.2f}]" if np.isfinite(lo) else ""
        pv = f" (p={p:.3g})" + ("*" if np.isfinite(p) and p < 0.05 else "") if np.isfinite(p) else ""
        cells.append(f"{mean:+.2f}{ci}{pv} n={n}")
      table.append(row[:2] + cells)
    report.add(Table(["series", "α", "Δ Mo", "Δ Cr", "Δ Mul", "Δ RD"], table,
                     f"{bench}: ours − {config} ({path}), paired by seed"))

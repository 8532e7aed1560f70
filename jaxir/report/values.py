"""What the report's sections share: a cell's summary scores read, grouped by alpha, averaged over seeds with
t-intervals, and written as text (mAP x100, RD in ranks)."""
import numpy as np

from jaxir.report import stats

ALL = ("Mo", "Cr", "Mul", "RD")


def fmt_num(x, scale=100.0, digits=1):
  return "–" if x is None or not np.isfinite(x) else f"{scale * x:.{digits}f}"


def fmt_ci(mean, lo, hi, scale=100.0, digits=1):
  if mean is None or not np.isfinite(mean):
    return "–"
  if not np.isfinite(lo):
    return fmt_num(mean, scale, digits)
  return f"{fmt_num(mean, scale, digits)} [{fmt_num(lo, scale, digits)}, {fmt_num(hi, scale, digits)}]"


def metric_scale(metric):
  return 1.0 if metric == "RD" else 100.0


def score(summary, metric, group=None):
  s = summary.get(group) if group else summary
  v = (s or {}).get(metric)
  return None if v is None else float(v)


def aggregate(cells, bench, metric, group=None):
  """{alpha: (mean, low, high, n)} of a summary metric over the seeds of each alpha."""
  by = {}
  for c in cells:
    by.setdefault(c.alpha, []).append(score(c.summaries[bench], metric, group))
  out = {}
  for a in sorted(by):
    vals = [v for v in by[a] if v is not None]
    out[a] = (*stats.t_interval(vals), len(vals))
  return out


def by_alpha(cells):
  out = {}
  for c in cells:
    out.setdefault(c.alpha, []).append(c)
  return dict(sorted(out.items()))

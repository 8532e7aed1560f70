"""The report's "Beyond LAReQA" section: every sets benchmark of the sweep (`jaxir.benchmarks`: Tatoeba,
BEIR, MIRACL, XNLI, ...) against α.

Metrics: those each benchmark declares (`Benchmark.metrics`), read from each cell's
`eval/<bench>/summary.json` (x 100 in the report), e.g. Tatoeba mean acc@1, BEIR nDCG@10 per dataset and
their mean, MIRACL mean nDCG@10, XNLI non-English accuracy and the transfer gap (lower is better).

Per series (model, batch type): curves against α, mean over seeds with a 95% Student-t band, the
untrained model dashed; a table of every metric per α beside the untrained model; a computed
sentence per metric: the best α, and whether the spread across α (best minus worst α) exceeds
the seed noise, i.e. the 95% intervals of the best and the worst α do not overlap.
"""
from pathlib import Path

import numpy as np

from jaxir import benchmarks
from jaxir.report import figures, stats
from jaxir.report.render import Heading, Para, Table


def title(bench):
  return benchmarks.get(bench).title


def metrics(bench, summaries):
  """The metrics of a benchmark, given the summaries the cells hold (BEIR: one per dataset found)."""
  return benchmarks.get(bench).metrics(summaries)


def aggregate(cells, bench, metric):
  """{alpha: (mean, low, high, n)} over the seeds of each alpha that hold `bench`."""
  by = {}
  for c in cells:
    if bench in c.summaries:
      v = metric.get(c.summaries[bench])
      if v is not None:
        by.setdefault(c.alpha, []).append(v)
  return {a: (*stats.t_interval(by[a]), len(by[a])) for a in sorted(by)}


def _num(x):
  return "–" if x is None or not np.isfinite(x) else f"{100 * x:.1f}"


def _ci(mean, lo, hi):
  return _num(mean) if not np.isfinite(lo) else f"{_num(mean)} [{_num(lo)}, {_num(hi)}]"


def verdict(metric, agg, reference=None):
  """One sentence: the best alpha, and whether the spread across alpha exceeds the seed intervals."""
  agg = {a: v for a, v in agg.items() if v[3] and np.isfinite(v[0])}
  if not agg:
    return f"{metric.name}: no values."
  best = (max if metric.higher_is_better else min)(agg, key=lambda a: agg[a][0])
  worst = (min if metric.higher_is_better else max)((a for a in agg if a != best), key=lambda a: agg[a][0],
                                                     default=None)
  text = f"{metric.name}: best α = {best:g} with {_ci(*agg[best][:3])}"
  if reference is not None:
    text += f" (untrained {_num(reference)})"
  if worst is None:
    return text + ", the only α."
  spread = f"the spread across α ({100 * abs(agg[best][0] - agg[worst][0]):.1f}, to the worst α = {worst:g})"
  (_, blo, bhi, _), (_, wlo, whi, _) = agg[best], agg[worst]
  if not (np.isfinite(blo) and np.isfinite(wlo)):
    return text + f"; {spread} has no seed interval to compare with (one seed)."
  apart = blo > whi if metric.higher_is_better else bhi < wlo
  return text + f"; {spread} " + ("exceeds the seed intervals (best and worst do not overlap)." if apart
                                   else "is within the seed intervals (best and worst overlap).")


def _notes(res, present):
  """What was evaluated (from the summaries), subsets named, cells still without a benchmark."""
  out = []
  for bench in present:
    what = benchmarks.get(bench).notes(next(c.summaries[bench] for c in res.cells if bench in c.summaries))
    lacking = [c.name for c in res.cells if bench not in c.summaries]
    if lacking:
      what += f"; not evaluated yet in {', '.join(lacking)} (rerun `jaxir sweep` to add it)"
    out.append(what + ".")
  return " ".join(out)


def section(rep):
  """Adds the section to a `jaxir.report.build.Report` when any finished cell holds these benchmarks."""
  res = rep.res
  present = [b for b in res.beyond if any(b in c.summaries for c in res.cells)]
  if not present:
    return
  rep.add(Heading(2, "Beyond LAReQA"))
  rep.add(Para("Other tasks against α: " + _notes(res, present) + " Values ×100, mean over seeds [95% t-interval]; "
               "dashed lines and the 'untrained' column: the zero-shot model."))
  per_bench = {b: metrics(b, [c.summaries[b] for c in res.cells if b in c.summaries]) for b in present}
  zero = {c.model: c for c in res.cells if c.kind == "zero-shot"}
  for bench, ms in per_bench.items():
    series = {rep.label(s): {m.name: [(a, *v[:3]) for a, v in aggregate(cells, bench, m).items()] for m in ms}
              for s, cells in rep.series.items()}
    refs = {(f"untrained {Path(model).name}" if rep.multi_model else "zero-shot (untrained)"):
            {m.name: m.get(c.summaries[bench]) for m in ms} for model, c in zero.items() if bench in c.summaries}
    panels = {m.name: (100, f"{m.unit} ×100") for m in ms}
    rep.figure(f"{bench}_curves.png", f"{title(bench)} against α (bands: 95% t-interval over seeds; dashed: "
               "untrained model, named at the edge where it is far off the scale)", figures.curves, series, refs,
               title=title(bench), metrics=[m.name for m in ms], panels=panels)
  all_metrics = [(b, m) for b, ms in per_bench.items() for m in ms]
  for s, cells in rep.series.items():
    zs = zero.get(s[0])
    aggs = [aggregate(cells, b, m) for b, m in all_metrics]
    alphas = sorted({a for agg in aggs for a in agg})
    refs = [m.get(zs.summaries[b]) if zs is not None and b in zs.summaries else None for b, m in all_metrics]
    rows = [[m.name, _num(ref)] + [_ci(*agg[a][:3]) if a in agg else "–" for a in alphas]
            for (b, m), agg, ref in zip(all_metrics, aggs, refs)]
    rep.add(Table(["metric", "untrained"] + [f"α={a:g}" for a in alphas], rows,
                  f"{rep.label(s)}: beyond LAReQA, mean over seeds [95% t-interval], ×100"))
    rep.add(Para(f"Best α per metric ({rep.label(s)}; the spread across α exceeds seed noise when the 95% intervals "
                 "of the best and the worst α do not overlap): "
                 + " ".join(verdict(m, agg, ref) for (b, m), agg, ref in zip(all_metrics, aggs, refs))))

"""The report's weight-interpolation section: what WiSE-FT (`grid.wise`: (1 − λ)·untrained + λ·trained) does
at each alpha, beside what alpha does, on the Mo–Mul plane.

Mixing batches (alpha) and mixing weights (λ) both trade monolingual retrieval (Mo) for multilingual
retrieval (Mul). The figure draws both paths on that plane: the curve over alpha of the trained models (λ = 1),
and at each alpha with interpolated cells the path over λ from the untrained model (λ = 0) to the trained one.
The text counts which points of one path another point dominates (at least as good on Mo and Mul, better on
one), which answers "does choosing the batch mix dominate choosing the weight mix, or the other way round"
for the measured points. Seed-paired t-tests compare each λ with the trained model of the same alpha.
"""
import numpy as np

from jaxir.report import figures, stats
from jaxir.report.render import Heading, Para, Table


def _lam(c):
  return 1.0 if c.wise is None else c.wise


def _groups(report):
  """{(model, batch type): {alpha: {λ: [cells]}}} for the series that have interpolated cells (λ = 1: the
  trained cells themselves)."""
  out = {}
  for c in report.res.trained:
    out.setdefault((c.model, c.batch_type), {}).setdefault(c.alpha, {}).setdefault(_lam(c), []).append(c)
  return {k: v for k, v in out.items() if any(lam != 1.0 for by in v.values() for lam in by)}


def _mean(cells, bench, metric):
  from jaxir.report.values import score
  vals = [score(c.summaries[bench], metric) for c in cells]
  return stats.t_interval([v for v in vals if v is not None]) + (sum(v is not None for v in vals),)


def _dominated(p, others):
  return any(o[0] >= p[0] and o[1] >= p[1] and (o[0] > p[0] or o[1] > p[1]) for o in others)


def section(report, bench):
  """Adds the section for `bench` when the sweep has weight-interpolated cells."""
  from jaxir.report.values import ALL, fmt_ci, metric_scale, score
  groups = _groups(report)
  if not groups:
    return
  for (model, bt), by_alpha in groups.items():
    name = report.label((model, bt))
    zs = report.res.zero_shot(model)
    report.add(Heading(3, f"Weight interpolation with the untrained model (WiSE-FT): {name}, {bench}"))
    report.add(Para("λ is the trained model's share of the weights, (1 − λ)·untrained + λ·trained (Wortsman et al. "
                    "2022, arXiv 2109.01903; `jaxir merge`): λ = 1 is the trained cell, λ = 0 the untrained model "
                    "(the zero-shot cell). Mean over seeds [95% t-interval]; mAP ×100, RD in ranks."))
    rows, alpha_pts, paths = [], [], {}
    zs_pt = None if zs is None else [score(zs.summaries[bench], m) for m in ("Mo", "Mul")]
    for alpha in sorted(by_alpha):
      by_lam = by_alpha[alpha]
      if zs is not None:
        rows.append([f"{alpha:g}", "0 (untrained)", "–"] + [fmt_ci(score(zs.summaries[bench], m), np.nan, np.nan,
                                                                    scale=metric_scale(m)) for m in ALL])
      path = [] if zs_pt is None or None in zs_pt else [(0.0, *zs_pt)]
      for lam in sorted(by_lam):
        agg = {m: _mean(by_lam[lam], bench, m) for m in ALL}
        rows.append([f"{alpha:g}", f"{lam:g}" + (" (trained)" if lam == 1.0 else ""), agg["Mo"][3]]
                    + [fmt_ci(*agg[m][:3], scale=metric_scale(m)) for m in ALL])
        path.append((lam, agg["Mo"][0], agg["Mul"][0]))
        if lam == 1.0:
          alpha_pts.append((alpha, agg["Mo"][0], agg["Mul"][0]))
      if len(by_lam) > 1 or (1.0 not in by_lam):
        paths[alpha] = path
    report.add(Table(["α", "λ", "seeds", "Mo", "Cr", "Mul", "RD"], rows, f"{bench}, {name}: weight interpolation"))
    vectors = report.seed_vectors([c for by in by_alpha.values() for cs in by.values() for c in cs], bench,
                                    key=lambda c: (c.alpha, _lam(c)))
    pairs = [((a, lam), (a, 1.0)) for a, by in sorted(by_alpha.items()) for lam in sorted(by) if lam != 1.0 and 1.0 in by]
    if vectors is not None and pairs:
      report.seed_table(pairs, vectors, f"{bench}, {name}: each λ against the trained model (λ = 1) of its α",
                        name=lambda k: f"α={k[0]:g} λ={k[1]:g}")
    if paths:
      report.figure(f"{bench}_wise_{bt}.png", f"{bench}, {name}: the Mo–Mul plane — mixing batches (α, the trained "
                    "models, solid) beside mixing weights (λ at each α, dashed, from the untrained model at λ = 0); "
                    "means over seeds", figures.mixing, alpha_pts, paths, title=f"{bench}: α vs λ")
      report.add(Para(_dominance_text(alpha_pts, paths)))


def _dominance_text(alpha_pts, paths):
  """Which measured points of the α curve a λ point dominates on (Mo, Mul), and the other way round."""
  a_pts = [(a, mo, mul) for a, mo, mul in alpha_pts if np.isfinite(mo) and np.isfinite(mul)]
  l_pts = [(a, lam, mo, mul) for a, path in paths.items() for lam, mo, mul in path
           if 0.0 < lam < 1.0 and np.isfinite(mo) and np.isfinite(mul)]
  if not a_pts or not l_pts:
    return "Too few measured points to compare the two paths."
  a_dom = [a for a, mo, mul in a_pts if _dominated((mo, mul), [(m, u) for _, _, m, u in l_pts])]
  l_dom = [(a, lam) for a, lam, mo, mul in l_pts if _dominated((mo, mul), [(m, u) for _, m, u in a_pts])]
  fmt_a = lambda xs: "{" + ", ".join(f"{a:g}" for a in xs) + "}"
  return (f"On the Mo–Mul plane (means over seeds): {len(a_dom)} of the {len(a_pts)} trained models on the α curve "
          f"are dominated by an interpolated model (α ∈ {fmt_a(a_dom)})" if a_dom else
          f"On the Mo–Mul plane (means over seeds): none of the {len(a_pts)} trained models on the α curve is "
          "dominated by an interpolated model") + (
          f"; {len(l_dom)} of the {len(l_pts)} interpolated models are dominated by a trained model on the α curve ("
          + ", ".join(f"α={a:g} λ={lam:g}" for a, lam in l_dom) + ")." if l_dom else
          f"; none of the {len(l_pts)} interpolated models is dominated by a trained model on the α curve.")

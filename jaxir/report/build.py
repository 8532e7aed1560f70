"""The sweep report: per benchmark, curves over alpha with seed intervals, the Mo-Cr Pareto front,
language-pair heatmaps, seen vs zero-shot languages, paired tests over queries (Holm-corrected),
the best alpha, the hybrid vs mixed ablation; then the benchmarks beyond LAReQA against alpha
(`jaxir.report.beyond`, when the sweep has them) and the paper-shaped table beside the paper's numbers.

Writes `OUT/report.md`, `OUT/report.html` (self-contained; written last) and `OUT/figures/*.png`.
"""
import time
from pathlib import Path

import numpy as np

from jaxir import benchmarks, storage
from jaxir.errors import JaxirError
from jaxir.report import baseline as baseline_lib, beyond, expected, figures, paper, stats, wise
from jaxir.report.values import ALL, by_alpha, fmt_ci, fmt_num, metric_scale, score, aggregate
from jaxir.report.load import load_sweep
from jaxir.report.render import Figure, Heading, Para, Table, to_html, to_markdown

HEAT_ALPHAS = (0.0, 0.5, 1.0)


def _bench_title(bench, eval_spec):
  """A LAReQA benchmark's title; squad-r names its folder (the sweep's eval.squad_r.path)."""
  path = (eval_spec.get("squad_r") or {}).get("path") if bench == "squad-r" else None
  return f"your -R folder {path} (squad-r)" if path else benchmarks.get(bench).title


def _grid_text(g):
  """'α ∈ {0, 1} × seeds [0, 1] × batch types hybrid', plus the batch types with their own alphas."""
  own = g.get("alphas_by_type") or {}
  alphas = lambda a: "{" + ", ".join(f"{x:g}" for x in a) + "}"
  shared = [b for b in g["batch_types"] if b not in own]
  parts = [f"α ∈ {alphas(g['alphas'])} × seeds {g['seeds']} × batch types {', '.join(shared)}"] if shared else []
  text = "; ".join(parts + [f"{b} at α ∈ {alphas(a)} × seeds {g['seeds']}" for b, a in own.items()])
  return text + (f"; each trained model also interpolated with the untrained one at λ ∈ {alphas(g['wise'])} (WiSE-FT)"
                 if g.get("wise") else "")


def _alpha_name(a):
  return f"α={a:g}"


def _star(p):
  """The mark of a (Holm-adjusted) p below 0.05."""
  return "*" if np.isfinite(p) and p < 0.05 else ""


def _comparison_table(cells, name, caption):
  """A "comparison | Δ Mo | Δ Cr | Δ Mul" table from cells [(a, b, metric, text)], one row per pair (a, b)."""
  table = {}
  for a, b, m, text in cells:
    table.setdefault((a, b), {})[m] = text
  return Table(["comparison", "Δ Mo", "Δ Cr", "Δ Mul"],
               [[f"{name(a)} − {name(b)}"] + [v[m] for m in stats.METRICS] for (a, b), v in table.items()], caption)


class Report:
  def __init__(self, res, out, resamples, seed=0, baseline=None):
    self.res, self.out, self.resamples, self.seed = res, Path(out), resamples, seed
    self.baseline = baseline          # (file, config, per-seed scores): `jaxir.report.baseline.read`
    self.figdir = self.out / "figures"
    self.blocks = []
    self.series = res.series()
    self.multi_model = len({m for m, _ in self.series}) > 1
    self.primary = self._primary()

  def _primary(self):
    if not self.series:
      return None
    models = [m for m, _ in self.series]
    return next(((m, b) for m, b in self.series if m == models[0] and b == "hybrid"), next(iter(self.series)))

  def label(self, series):
    model, bt = series
    base, _, lam = bt.partition("_wise")
    bt = f"{base} WiSE λ={lam}" if lam else bt
    return f"{Path(model).name} {bt}" if self.multi_model else bt

  def add(self, *blocks):
    self.blocks.extend(blocks)

  def figure(self, name, caption, draw, *args, **kw):
    path = self.figdir / name
    draw(path, *args, **kw)
    self.add(Figure(path, caption))

  # -------------------------------------------------------------------------------------------
  def build(self):
    self.figdir.mkdir(parents=True, exist_ok=True)
    self.intro()
    for bench in self.res.benchmarks:
      self.benchmark(bench)
    beyond.section(self)
    if self.baseline:
      baseline_lib.section(self, self.baseline)
    self.paper_table()
    self.cells_table()
    return self.blocks

  def intro(self):
    res, spec = self.res, self.res.spec
    t, g, e = spec["train"], spec["grid"], spec["eval"]
    total = len(res.cells) + len(res.missing)
    self.add(Heading(1, title(res)))
    source = f"the scores of {res.dir} recorded in {res.recorded}" if res.recorded else str(res.dir)
    self.add(Para(f"Generated {time.strftime('%Y-%m-%d %H:%M')} from {source}. {len(res.cells)} of {total} cells finished"
                  + (f"; unfinished (left out): {', '.join(res.missing)}." if res.missing else ".")))
    if res.recorded:
      self.add(Para("A record (`jaxir expected write`) keeps each cell's headline scores only, so this report has no "
                    "language-pair heatmaps, no seen vs zero-shot curves and no tests over queries (its tests are "
                    "paired over seeds), and it draws the LAReQA benchmarks only"
                    + (f" (left out: {', '.join(e['left_out'])})" if e.get("left_out") else "")
                    + ". `jaxir report` on the sweep directory has them all. Scores are as recorded, to 0.001, so a mean "
                    "or an interval's end (the rounding times t, 12.7 with 2 seeds) can differ from that report's in "
                    f"the last printed digit. The record's note: {self._note()}"))
    models = ", ".join(g["models"] or [t["model"]["name"]])
    self.add(Para(f"Model(s): {models}. Training: {t['steps']} steps, global batch {t['batch']['batch_size']}, "
                  f"learning rate {t['optim']['learning_rate']}, {'frozen' if t['model']['freeze_embeddings'] else 'trained'} "
                  f"embeddings, data {t['data']['source']} (train split; dev fraction {t['data']['dev_fraction']}). "
                  f"Grid: {_grid_text(g)}" + (", plus the untrained model as zero-shot reference." if g["zero_shot"] else ".")))
    if spec.get("models_from"):
      self.add(Para(f"The trained models are those of the sweep {spec['models_from']}: this sweep evaluated them "
                    "(`models_from`) and trained nothing."))
    subset = []
    if e.get("langs"):
      subset.append(f"languages {', '.join(e['langs'])}")
    if e.get("max_articles"):
      subset.append(f"the first {e['max_articles']} articles per language")
    xquad = "xquad-r" in self.res.benchmarks
    self.add(Para("Evaluation: " + ", ".join([_bench_title(b, e) for b in self.res.benchmarks]
                                             + [beyond.title(b) for b in self.res.beyond])
                  + (f"; XQuAD-R restricted to {' and '.join(subset)} (a quick run: absolute numbers are not comparable "
                     "to full-benchmark ones)." if subset and xquad else "; all of XQuAD-R." if xquad else ".")))
    self.add(Para("How to read: mAP × 100; α is the probability that a training batch is monolingual (hybrid: "
                  "α = 1 is X-X-mono, α = 0 is X-Y). Values are means over seeds with 95% Student-t intervals "
                  "[low, high] (none with one seed). RD is the language bias: per query, the pooled rank of its "
                  "worst-placed parallel answer minus that of its best-placed one, averaged (lower is less bias)."))

  # -------------------------------------------------------------------------------------------
  def benchmark(self, bench):
    res = self.res
    first = res.cells[0].summaries[bench]
    self.add(Heading(2, benchmarks.get(bench).title))
    seen, zs = first.get("seen_langs") or [], first.get("zero_shot_langs") or []   # none in a record
    if not res.recorded:
      langs = first["langs"]
      folder = f"Folder {first['folder']}: " if first.get("folder") and bench == "squad-r" else ""
      self.add(Para(f"{folder}{len(langs)} languages ({' '.join(langs)}); seen in training: {' '.join(seen) or '–'}; "
                    f"zero-shot: {' '.join(zs) or '–'}; {sum(first['queries'].values())} queries."))
    self.means_table(bench)
    self.curves(bench)
    if zs and seen and self.primary:
      self.groups(bench)
    for series in self.series:
      self.pareto(bench, series)
    if self.primary and not res.recorded:
      self.heatmaps(bench)
    for series in self.series:
      self.significance(bench, series)
    for series in self.series:
      self.best_alpha(bench, series)
    self.ablation(bench)
    wise.section(self, bench)

  def _note(self):
    note = str(self.res.spec.get("note") or "–").strip()
    return note if note.endswith(".") else note + "."

  def means_table(self, bench):
    rows = []
    for series, cells in self.series.items():
      agg = {m: aggregate(cells, bench, m) for m in ALL}
      for a in agg["Mo"]:
        rows.append([self.label(series), f"{a:g}", agg["Mo"][a][3]]
                    + [fmt_ci(*agg[m][a][:3], scale=metric_scale(m)) for m in ALL])
    for c in self.res.cells:
      if c.kind == "zero-shot":
        s = c.summaries[bench]
        rows.append([f"zero-shot {Path(c.model).name}", "–", "–"] + [fmt_num(score(s, m), metric_scale(m)) for m in ALL])
    self.add(Table(["series", "α", "seeds", "Mo", "Cr", "Mul", "RD"], rows,
                   f"{bench}: mean over seeds [95% t-interval]"))

  def _curve_data(self, cells, bench, metrics, group=None):
    out = {}
    for m in metrics:
      out[m] = [(a, mean, lo, hi) for a, (mean, lo, hi, n) in aggregate(cells, bench, m, group).items() if n]
    return out

  def _references(self, bench, group=None):
    refs = {}
    for c in self.res.cells:
      if c.kind == "zero-shot":
        name = f"zero-shot {Path(c.model).name}" if self.multi_model else "zero-shot (untrained)"
        refs[name] = {m: score(c.summaries[bench], m, group) for m in ALL}
    return refs

  def curves(self, bench):
    series = {self.label(s): self._curve_data(cells, bench, ALL) for s, cells in self.series.items()}
    self.figure(f"{bench}_curves.png", f"{bench}: Mo, Cr, Mul mAP and RD against α (bands: 95% t-interval over seeds; "
                "dashed: untrained model, named at the edge where it is far off the scale)", figures.curves, series,
                self._references(bench), title=bench)

  def groups(self, bench):
    cells = self.series[self.primary]
    series = {"seen languages": self._curve_data(cells, bench, ("Mo", "Cr", "Mul"), "seen"),
              "zero-shot languages": self._curve_data(cells, bench, ("Mo", "Cr", "Mul"), "zero_shot")}
    refs = {}
    zs = next((c for c in self.res.cells if c.kind == "zero-shot" and c.model == self.primary[0]), None)
    if zs is not None:
      for g, name in (("seen", "untrained, seen"), ("zero_shot", "untrained, zero-shot")):
        refs[name] = {m: score(zs.summaries[bench], m, g) for m in ("Mo", "Cr", "Mul")}
    self.figure(f"{bench}_groups.png", f"{bench}: languages seen in training vs zero-shot languages "
                f"({self.label(self.primary)}; Cr of the zero-shot group: pairs with a zero-shot side)",
                figures.curves, series, refs, title=f"{bench}: seen vs zero-shot", metrics=("Mo", "Cr", "Mul"))

  def pareto(self, bench, series):
    cells = self.series[series]
    mo, cr = aggregate(cells, bench, "Mo"), aggregate(cells, bench, "Cr")
    alphas = [a for a in mo if np.isfinite(mo[a][0]) and np.isfinite(cr[a][0])]
    if len(alphas) < 2:                # a front of one point says nothing
      return
    pts = np.asarray([[mo[a][0], cr[a][0]] for a in alphas])
    front = stats.pareto_front(pts)
    zs = next((c for c in self.res.cells if c.kind == "zero-shot" and c.model == series[0]), None)
    ref = None if zs is None else (score(zs.summaries[bench], "Mo"), score(zs.summaries[bench], "Cr"))
    if ref is not None and None in ref:
      ref = None
    tag = f"{bench}_pareto_{series[1]}" + (f"_{Path(series[0]).name}" if self.multi_model else "")
    self.figure(f"{tag}.png", f"{bench}, {self.label(series)}: the Mo–Cr plane, one point per α (mean over seeds); "
                "ringed: Pareto front", figures.pareto, alphas, pts[:, 0], pts[:, 1], front, ref,
                title=f"{bench}: {self.label(series)}")
    self.add(Para(f"Pareto front ({self.label(series)}): α ∈ {{{', '.join(f'{a:g}' for a, f in zip(alphas, front) if f)}}}"
                  " (no other α is at least as good on both Mo and Cr and better on one)."))

  def heatmaps(self, bench):
    cells = by_alpha(self.series[self.primary])
    langs = self.res.cells[0].summaries[bench]["langs"]
    mats = {}
    for a in HEAT_ALPHAS:
      if a in cells:
        stack = [[[np.nan if c.summaries[bench]["pairs_mAP"][x][y] is None else c.summaries[bench]["pairs_mAP"][x][y]
                   for y in langs] for x in langs] for c in cells[a]]
        mats[a] = 100 * np.nanmean(np.asarray(stack, np.float64), axis=0)
    if not mats:
      return
    self.figure(f"{bench}_heatmaps.png", f"{bench}: X_Q × X_C mAP ×100 ({self.label(self.primary)}, mean over seeds)",
                figures.heatmaps, {f"α = {a:g}": m for a, m in mats.items()}, langs, title=f"{bench}: mAP by language pair")
    diffs = {}
    for a, b in ((0.5, 0.0), (0.5, 1.0), (1.0, 0.0)):
      if a in mats and b in mats:
        diffs[f"α={a:g} − α={b:g}"] = mats[a] - mats[b]
    if diffs:
      self.figure(f"{bench}_heatmap_diffs.png", f"{bench}: differences of the X_Q × X_C mAP matrices (×100)",
                  figures.heatmaps, diffs, langs, diverging=True, title=f"{bench}: mAP differences")

  def seed_vectors(self, cells, bench, key=lambda c: c.alpha):
    """What the tests over seeds read: `_query_vectors`, or from a record each cell's recorded score as a
    vector of one (its mean over queries, as summary.json has it)."""
    if not self.res.recorded:
      return self._query_vectors(cells, bench, key)
    out = {}
    for c in cells:
      out.setdefault(key(c), {})[c.seed] = {m: np.asarray([score(c.summaries[bench], m)], np.float64)
                                            for m in stats.METRICS}
    return dict(sorted(out.items()))

  def _query_vectors(self, cells, bench, key=lambda c: c.alpha):
    """{key(cell): {seed: {metric: per-query AP}}} (key: alpha unless given), or None when the cells disagree
    on the queries."""
    langs = self.res.cells[0].summaries[bench]["langs"]
    ids, out = None, {}
    for c in cells:
      pq = c.per_query(bench)
      these = [pq[f"ids/{l}"].tolist() for l in langs]
      if ids is None:
        ids = these
      elif these != ids:
        return None
      out.setdefault(key(c), {})[c.seed] = stats.query_metrics(pq, langs)
    return dict(sorted(out.items()))

  def _tests(self, pairs, vectors):
    """Rows [(a, b, metric, diff, p, (agree, n))] for every pair and metric, and the Holm-adjusted p-values.
    The test runs on the per-query AP averaged over seeds; (agree, n): of the n seeds both sides have, those
    whose own mean difference has the sign of the averaged one (the test itself does not see seed noise)."""
    rows = []
    for a, b in pairs:
      for m in stats.METRICS:
        diff, p = stats.paired_test(stats.seed_mean([v[m] for v in vectors[a].values()]),
                                    stats.seed_mean([v[m] for v in vectors[b].values()]), self.resamples, self.seed)
        rows.append((a, b, m, diff, p, stats.seed_agreement(vectors[a], vectors[b], m, diff)))
    return rows, stats.holm_finite([r[4] for r in rows])

  @staticmethod
  def _seed_tests(pairs, vectors):
    """Rows [(a, b, metric, (diff, low, high, p, n))] of paired t-tests over seeds, and their Holm-adjusted p."""
    rows = [(a, b, m, stats.seed_test(vectors[a], vectors[b], m)) for a, b in pairs for m in stats.METRICS]
    return rows, stats.holm_finite([r[3][3] for r in rows])

  @staticmethod
  def _seed_text(result, p):
    diff, lo, hi, _, n = result
    if n < 2 or not np.isfinite(diff):
      return "–"
    pv = f"p={p:.3g}" if np.isfinite(p) else "p –"
    return f"{100 * diff:+.2f} [{100 * lo:+.2f}, {100 * hi:+.2f}] ({pv}){_star(p)} n={n}"

  def seed_table(self, pairs, vectors, caption, name=_alpha_name):
    """The seed-level tests of `pairs` as a table, or nothing when no pair has two seeds in common."""
    rows, adj = self._seed_tests(pairs, vectors)
    n = max(r[3][4] for r in rows)
    if n < 2:
      return
    self.add(_comparison_table(
        [(a, b, m, self._seed_text(result, p)) for (a, b, m, result), p in zip(rows, adj)], name,
        f"{caption}: paired t-tests over seeds (seed s of one side against seed s of the other; each seed's Δ is "
        + ("the difference of its recorded scores" if self.res.recorded else "its mean over queries")
        + f"), Δ in mAP ×100 with the 95% t-interval of the mean Δ, Holm-adjusted p over the "
        f"{int(np.isfinite(adj).sum())} tests with two or more seeds; * p < 0.05. This is the test about training"
        + ("" if self.res.recorded else ": it sees the seed-to-seed spread that the query-level test holds fixed")
        + (f"; with n = {n} seeds it has little power" if n < 10 else "")))

  @staticmethod
  def _cell_text(diff, p, agreement):
    if not np.isfinite(diff):
      return "–"
    agree, n = agreement
    return f"{100 * diff:+.2f} (p={p:.3g}){_star(p)}" + (f" {agree}/{n}" if n > 1 else "")

  def significance(self, bench, series):
    cells = self.series[series]
    alphas = sorted({c.alpha for c in cells})
    refs = [r for r in (0.0, 1.0) if r in alphas]
    pairs, done = [], set()
    for r in refs:
      for a in alphas:
        if a != r and frozenset((a, r)) not in done:
          done.add(frozenset((a, r)))
          pairs.append((a, r))
    if not pairs:
      self.add(Para(f"No paired tests ({self.label(series)}): they compare against α = 0 and α = 1, and this "
                    "series has neither (or only one α)."))
      return
    if self.res.recorded:
      self.seed_table(pairs, self.seed_vectors(cells, bench), f"{bench}, {self.label(series)}")
      return
    vectors = self._query_vectors(cells, bench)
    if vectors is None:
      self.add(Para(f"Paired tests ({self.label(series)}) skipped: the cells were evaluated on different queries."))
      return
    rows, adj = self._tests(pairs, vectors)
    self.add(_comparison_table([(a, b, m, self._cell_text(diff, p, agreement))
                                for (a, b, m, diff, _, agreement), p in zip(rows, adj)],
                               _alpha_name, f"{bench}, {self.label(series)}: paired sign-flip permutation tests over queries "
                   f"({self.resamples} resamples; per-query AP averaged over seeds), Holm-adjusted p over the "
                   f"{len(rows)} tests; * p < 0.05; Δ in mAP ×100; k/n: the seeds (paired by seed) whose own "
                   "Δ has the same sign — the test treats the seed-averaged model as fixed, this shows whether "
                   "the seeds agree"))
    self.seed_table(pairs, vectors, f"{bench}, {self.label(series)}")
    self.add(Para("Per query, Mo is its X→X AP, Cr the mean of its X→Y APs over the other languages, Mul its "
                  "AP against the pool; the tests compare means over queries, which equal the macro means "
                  "when every language has the same queries (XQuAD-R)."))

  def best_alpha(self, bench, series):
    cells = self.series[series]
    scores = {}
    for a, group in by_alpha(cells).items():
      vals = [np.mean([score(c.summaries[bench], m) for m in stats.METRICS]) for c in group
              if all(score(c.summaries[bench], m) is not None for m in stats.METRICS)]
      if vals:
        scores[a] = (*stats.t_interval(vals), len(vals))
    if len(scores) < 2:                # nothing to choose from
      return
    best = max(scores, key=lambda a: scores[a][0])
    mean, lo, hi, n = scores[best]
    overlap = [a for a, (m2, lo2, hi2, _) in scores.items()
               if a != best and np.isfinite(lo) and np.isfinite(hi2) and hi2 >= lo]
    tail = (f"; the intervals of α ∈ {{{', '.join(f'{a:g}' for a in overlap)}}} overlap it, so the seeds do not "
            "separate those" if overlap else ("; no other α's interval reaches it" if np.isfinite(lo) else
                                              "; one seed: no interval"))
    self.add(Para(f"Best α on the mean of Mo, Cr and Mul ({bench}, {self.label(series)}): α = {best:g} with "
                  f"{fmt_ci(mean, lo, hi)} over {n} seed(s){tail}."))

  def ablation(self, bench):
    models = {}
    for (model, bt), cells in self.series.items():
      models.setdefault(model, {})[bt] = cells
    for model, by_type in models.items():
      if not {"hybrid", "mixed"} <= set(by_type):
        continue
      h, x = by_alpha(by_type["hybrid"]), by_alpha(by_type["mixed"])
      common = [a for a in h if a in x]
      if not common:
        continue
      vh, vx = self.seed_vectors(by_type["hybrid"], bench), self.seed_vectors(by_type["mixed"], bench)
      tests, vectors = None, None
      if vh is not None and vx is not None:
        vectors = {("hybrid", a): vh[a] for a in common} | {("mixed", a): vx[a] for a in common}
        if not self.res.recorded:
          tests = self._tests([(("hybrid", a), ("mixed", a)) for a in common], vectors)
      rows = []
      for i, a in enumerate(common):
        agg_h = {m: aggregate(h[a], bench, m)[a] for m in stats.METRICS}
        agg_x = {m: aggregate(x[a], bench, m)[a] for m in stats.METRICS}
        row = [f"{a:g}"] + [fmt_ci(*agg_h[m][:3]) for m in stats.METRICS] + [fmt_ci(*agg_x[m][:3]) for m in stats.METRICS]
        if tests:
          (rows_t, adj) = tests
          row += [self._cell_text(rows_t[3 * i + k][3], adj[3 * i + k], rows_t[3 * i + k][5]) for k in range(3)]
        rows.append(row)
      header = ["α", "hybrid Mo", "hybrid Cr", "hybrid Mul", "mixed Mo", "mixed Cr", "mixed Mul"]
      if tests:
        header += ["Δ Mo", "Δ Cr", "Δ Mul"]
      self.add(Heading(3, f"Batch type ablation: hybrid vs mixed ({Path(model).name}, {bench})"))
      self.add(Table(header, rows, "hybrid: each batch is all-monolingual with probability α; mixed: each example is "
                     "monolingual with probability α" + (". Δ = hybrid − mixed, paired permutation tests over queries, "
                     "Holm-adjusted; * p < 0.05; k/n: seeds whose own Δ has the same sign" if tests else "")))
      if vectors is not None:
        self.seed_table([(("hybrid", a), ("mixed", a)) for a in common], vectors,
                        f"hybrid − mixed ({Path(model).name}, {bench})", name=lambda x: f"{x[0]} α={x[1]:g}")

  # -------------------------------------------------------------------------------------------
  def paper_table(self):
    benches = [b for b in self.res.benchmarks if b in paper.PAPER_BENCHMARK]   # not squad-r: no published numbers
    if not benches:
      return
    self.add(Heading(2, "In the shape of the paper's Table 1"))
    self.add(Para(f"Ours: {self.label(self.primary) if self.primary else '–'} cells at α = 1 (X-X-mono), α = 0 (X-Y) "
                  f"and α = 0.5 (hybrid), mean over seeds [95% t-interval]. Beside them, for orientation only, the "
                  f"published XLM-R and LaBSE numbers ({paper.SOURCE}): a different base model, training data "
                  "(machine-translated QA, not MLQA-R) and evaluation scope (all of MLQA-R rather than our held-out "
                  "dev split), so differences between the columns are not effects of batching. mAP ×100; RD in ranks."))
    if self.primary is None:
      return
    # the primary series and its weight interpolations (`grid.wise`), a block of rows each
    shown = [s for s in self.series if s[0] == self.primary[0] and s[1].partition("_wise")[0] == self.primary[1]]
    for bench in benches:
      pb = paper.PAPER_BENCHMARK[bench]
      rows = []
      for series in shown:
        cells = by_alpha(self.series[series])
        tag = f"{self.label(series)}: " if len(shown) > 1 else ""
        for name, alpha in paper.BATCHINGS:
          ours = ([fmt_ci(*aggregate(cells[alpha], bench, m)[alpha][:3], scale=metric_scale(m)) for m in ALL]
                  if alpha in cells else ["–"] * 4)
          theirs = []
          for model in ("XLM-R", "LaBSE"):
            theirs += [fmt_num(v) for v in paper.TABLE1[model][name][pb]] + [str(paper.TABLE2_RD[model][name][pb])]
          rows.append([f"{tag}{name} (α={alpha:g})"] + ours + theirs)
      header = (["batching", "ours Mo", "ours Cr", "ours Mul", "ours RD"]
                + [f"{m} {k}" for m in ("XLM-R", "LaBSE") for k in ("Mo", "Cr", "Mul", "RD")])
      self.add(Table(header, rows, f"{benchmarks.get(bench).title} — paper: {pb.upper()} (Table 1 mAP, Table 2 RD)"))

  def cells_table(self):
    self.add(Heading(2, "Cells"))
    others = [(b, m) for b in self.res.beyond
              for m in beyond.metrics(b, [c.summaries[b] for c in self.res.cells if b in c.summaries])]
    rows = []
    for c in self.res.cells:
      row = [c.name, "–" if c.alpha is None else f"{c.alpha:g}", "–" if c.seed is None else c.seed]
      for bench in self.res.benchmarks:
        row += [fmt_num(score(c.summaries[bench], m), metric_scale(m)) for m in ALL]
      row += [fmt_num(m.get(c.summaries[b])) if b in c.summaries else "–" for b, m in others]
      rows.append(row)
    header = (["cell", "α", "seed"] + [f"{b} {m}" for b in self.res.benchmarks for m in ALL]
              + [m.name for _, m in others])
    self.add(Table(header, rows, "every finished cell (mAP ×100, RD in ranks; beyond LAReQA ×100)"))


FIGURES_MANIFEST = "report-figures.json"   # beside report.md: the figures it drew, the only ones a later report removes
_REPORT_STARTS = {"report.md": "# α sweep: ", "report.html": "<title>α sweep: "}   # how a report's files begin


def _check_replaceable(out):
  """One JaxirError, before anything is written, if `out` holds a report.md or report.html that is not a
  report's: a report replaces only its own files."""
  for name, start in _REPORT_STARTS.items():
    path = out / name
    if path.is_file() and start not in path.read_text(encoding="utf-8", errors="replace")[:1000]:
      raise JaxirError(f"{path} exists and was not written by jaxir report: not replaced; choose another --out")


def _previous_figures(out):
  """The names of the figures the last report in `out` drew ([] without its list: none is known to be ours)."""
  path = out / FIGURES_MANIFEST
  if not path.is_file():
    return []
  names = storage.read_json(path, "report figure list")
  return [n for n in names if isinstance(n, str) and "/" not in n] if isinstance(names, list) else []


def title(res):
  return f"α sweep: {res.dir.name}" + (" (recorded scores)" if res.recorded else "")


def make_report(sweep_dir, out=None, resamples=9999, seed=0, baseline=None):
  """Writes the report of a sweep directory, or of an expected-scores file (`jaxir expected write`: the recorded
  scores only, `expected.as_results`), with `baseline`, FILE.yaml:CONFIG, a comparison with those cells
  (`jaxir.report.baseline`); returns the output directory."""
  base = baseline_lib.read(baseline) if baseline else None    # before anything is written
  if "://" not in str(sweep_dir) and not Path(sweep_dir).exists():
    raise JaxirError(f"{sweep_dir}: no such sweep directory or expected-scores file")
  if Path(sweep_dir).is_file():
    if not out:
      raise JaxirError(f"{sweep_dir} is a file (a record of scores): give --out DIR for its report")
    res = expected.as_results(sweep_dir)
  else:
    res = load_sweep(sweep_dir)
  out = Path(out) if out else Path(sweep_dir) / "report"
  _check_replaceable(out)
  report = Report(res, out, resamples, seed, base)
  previous = _previous_figures(out)
  blocks = report.build()
  storage.write_text(out / "report.md", to_markdown(blocks, out))
  storage.write_text(out / "report.html", to_html(blocks, title(res)))
  drawn = sorted({Path(b.path).name for b in blocks if isinstance(b, Figure)})
  storage.write_json(out / FIGURES_MANIFEST, drawn)
  for name in set(previous) - set(drawn):      # an earlier report's figure this one no longer has; nobody else's
    (report.figdir / name).unlink(missing_ok=True)
  return out

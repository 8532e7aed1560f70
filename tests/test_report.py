"""`jaxir report`: statistics against hand-computed values, the report of a synthetic sweep (real
formats, no training) in Markdown, HTML and PNG, and that HTML in a real headless browser."""
import html as html_lib
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from jaxir import cli, storage
from jaxir.benchmarks import pipeline
from jaxir.benchmarks.registry import Metric
from jaxir.eval import lareqa
from jaxir.eval.evaluate import write_outputs
from jaxir.report import beyond, paper, stats
from jaxir.report.build import make_report
from jaxir.sweep import spec as spec_lib
from conftest import DATA

LANGS = ["en", "de", "el"]
Q = 12
EXTRAS = ("tatoeba", "beir", "xnli")


# ---------------------------------------------------------------------------------------------
# Statistics

def test_t_interval_by_hand():
  # [1, 2, 3]: mean 2, s = 1, sem = 1/sqrt(3), t(0.975, df=2) = 4.302653
  mean, lo, hi = stats.t_interval([1.0, 2.0, 3.0])
  half = 4.302652729749464 / np.sqrt(3)
  assert mean == 2.0 and lo == pytest.approx(2 - half, rel=1e-9) and hi == pytest.approx(2 + half, rel=1e-9)
  # [0.5, 0.7]: sem = 0.1, t(0.975, df=1) = 12.706205
  mean, lo, hi = stats.t_interval([0.5, 0.7])
  assert mean == pytest.approx(0.6) and hi - mean == pytest.approx(1.2706204736174698, rel=1e-9)
  assert np.isnan(stats.t_interval([0.4])[1]) and stats.t_interval([0.4])[0] == 0.4
  assert stats.t_interval([0.3, 0.3]) == (0.3, 0.3, 0.3)
  assert stats.t_interval([None, 0.5, 0.7])[0] == pytest.approx(0.6)


def test_holm_by_hand():
  # sorted 0.005 (x4 = 0.02), 0.01 (x3 = 0.03), 0.03 (x2 = 0.06), 0.04 (x1 = 0.04 -> running max 0.06)
  np.testing.assert_allclose(stats.holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
  np.testing.assert_allclose(stats.holm([0.5, 0.6]), [1.0, 1.0])          # capped at 1
  np.testing.assert_allclose(stats.holm([0.02]), [0.02])
  # A test that could not run (NaN) is no part of the family: 0.01 x 2, 0.04 x 1 -> running max 0.04.
  np.testing.assert_allclose(stats.holm_finite([0.04, np.nan, 0.01]), [0.04, np.nan, 0.02])
  assert np.isnan(stats.holm_finite([np.nan])).all()


def test_pareto_front_of_a_known_set():
  pts = [(1, 5), (2, 4), (3, 3), (2, 2), (1, 1), (3, 3), (0, 5)]
  # (2, 2) and (1, 1) are beaten by (2, 4); (0, 5) by (1, 5); the equal (3, 3) pair beats neither.
  assert stats.pareto_front(pts).tolist() == [True, True, True, False, False, True, False]


def test_curves_name_a_far_reference_instead_of_squashing(tmp_path, monkeypatch):
  """The untrained model's RD (1214) beside trained RDs of 328-380 would flatten the curve to a
  line: it is named at the panel's edge instead; a reference near the data stays a dashed line."""
  from jaxir.report import figures
  assert figures.on_scale(80.0, 75.4, 78.9) and not figures.on_scale(1214.3, 307.0, 380.0)
  assert not figures.on_scale(29.8, 52.0, 58.2) and figures.on_scale(5.0, 5.0, 5.0)
  saved = {}
  monkeypatch.setattr(figures, "_save", lambda fig, path: saved.setdefault("fig", fig))
  series = {"hybrid": {"Mo": [(0, .767, .763, .771), (1, .774, .762, .787)],
                       "RD": [(0, 328, 325, 331), (1, 362, 345, 380)]}}
  figures.curves(tmp_path / "c.png", series, {"untrained": {"Mo": .80, "RD": 1214.3}}, metrics=("Mo", "RD"))
  mo, rd = saved["fig"].axes
  assert 80.0 in [ln.get_ydata()[0] for ln in mo.lines if ln.get_linestyle() == "--"]
  assert mo.get_ylim()[1] >= 80.0
  assert not [ln for ln in rd.lines if ln.get_linestyle() == "--"] and rd.get_ylim()[1] < 500
  assert [tx.get_text() for tx in rd.texts] == ["untrained: 1214.3 ↑"]


def test_curves_of_one_alpha_draw_the_seed_interval(tmp_path, monkeypatch):
  """A band needs two alphas: a series with one (the hybrid vs mixed ablation at alpha = 0.5)
  gets an interval bar per series, side by side, on the whole alpha axis."""
  from jaxir.report import figures
  saved = {}
  monkeypatch.setattr(figures, "_save", lambda fig, path: saved.setdefault("fig", fig))
  series = {"hybrid": {"Mul": [(0.5, .619, .595, .643)]}, "mixed": {"Mul": [(0.5, .588, .575, .602)]}}
  figures.curves(tmp_path / "c.png", series, metrics=("Mul",))
  (ax,) = saved["fig"].axes
  assert ax.get_xlim() == (-0.05, 1.05)
  bars = [c.get_segments()[0] for c in ax.collections]
  assert len(bars) == 2
  (x0, y0), (x1, y1) = bars[0]
  assert x0 == x1 < 0.5 and (y0, y1) == pytest.approx((59.5, 64.3))
  (x0, y0), (x1, y1) = bars[1]
  assert x0 == x1 > 0.5 and (y0, y1) == pytest.approx((57.5, 60.2))


def test_paired_test_exact_sign_flips():
  # 3 pairs: 8 sign patterns, |mean| >= 2 only for all + or all -: p = 2/8.
  assert stats.paired_test([1, 2, 3], [0, 0, 0]) == (2.0, 0.25)
  assert stats.paired_test([1, 2, 3, 4, 5], [0, 0, 0, 0, 0])[1] == pytest.approx(2 / 32)
  assert stats.paired_test([1, np.nan, 3], [1, 0, 3]) == (0.0, 1.0)         # NaN pairs dropped


@pytest.mark.parametrize("shift", [0.0, 0.02, 0.05])
def test_paired_test_at_scale_matches_scipys_permutation_test(shift):
  """Past exact enumeration the test draws random sign flips through scipy.stats.monte_carlo_test; its
  p-value agrees with permutation_test's own sign-flip null within Monte Carlo error, and a real
  effect is found."""
  from scipy import stats as sp
  rng = np.random.default_rng(3)
  a = rng.random(1000)
  b = a - shift + 0.3 * rng.standard_normal(1000)
  diff, p = stats.paired_test(a, b, 4999, 0)
  ref = sp.permutation_test(((a - b),), lambda x, axis: np.mean(x, axis=axis), permutation_type="samples",
                            vectorized=True, n_resamples=4999, random_state=0).pvalue
  assert diff == pytest.approx(np.mean(a - b))
  q = max(ref / 2, 1e-3)                 # two-sided p = 2 x a tail share: both estimates carry its error
  assert abs(p - ref) < 4 * np.sqrt(2) * 2 * np.sqrt(q * (1 - q) / 4999) + 2e-3, (p, ref)
  if shift == 0.05:
    assert p < 0.01


def test_query_metrics_by_hand():
  pq = {"pair/en/en": np.array([1.0, 0.5]), "pair/en/de": np.array([0.5, np.nan]),
        "pair/de/de": np.array([1.0]), "pair/de/en": np.array([0.25]),
        "mul/en": np.array([0.9, 0.8]), "mul/de": np.array([0.7])}
  m = stats.query_metrics(pq, ["en", "de"])
  np.testing.assert_allclose(m["Mo"], [1.0, 0.5, 1.0])
  np.testing.assert_allclose(m["Cr"], [0.5, np.nan, 0.25])
  np.testing.assert_allclose(m["Mul"], [0.9, 0.8, 0.7])


# ---------------------------------------------------------------------------------------------
# A synthetic sweep: real summary / per_query formats from lareqa.metrics on made-up ranks.

def _ranks(alpha, seed, batch_type):
  """Mo rises with alpha, Cr falls; `mixed` is a little worse; the seed adds noise."""
  rng = np.random.default_rng([int(100 * alpha), seed, batch_type == "mixed"])
  L = len(LANGS)
  query_lang = np.repeat(np.arange(L), Q)
  own = np.arange(L)[None, :] == query_lang[:, None]
  p_top = np.where(own, 0.3 + 0.6 * alpha, 0.9 - 0.6 * alpha) - (0.1 if batch_type == "mixed" else 0.0)
  in_lang = np.where(rng.random((L * Q, L)) < p_top, 1, rng.integers(2, 6, (L * Q, L)))
  pooled = (in_lang - 1) * L + 1 + np.argsort(rng.random((L * Q, L)), 1)
  return lareqa.Ranks(LANGS, query_lang, in_lang, pooled, np.ones((L * Q, L), bool))


def _extra_summary(bench, alpha, seed, batch_type):
  """Summaries in the formats of jaxir.eval.{bitext,ir,xnli_probe}: Tatoeba rises with alpha far beyond
  its seed noise (+-0.002); the XNLI gap falls with alpha by less than its noise (+-0.01)."""
  e = 0.0 if alpha is None else (0.002 if seed % 2 else -0.002) - (0.01 if batch_type == "mixed" else 0.0)
  a = 0.5 if alpha is None else alpha
  if bench == "tatoeba":
    acc = 0.78 if alpha is None else 0.80 + 0.10 * a + e
    per = {l: {"xx2en": acc, "en2xx": acc, "acc": acc, "n": 50} for l in ("de", "el")}
    return {"benchmark": "tatoeba", "langs": ["de", "el"], "per": per, "acc@1": acc, "xx2en": acc, "en2xx": acc,
            "max_pairs": 50, "headline": {"mean_acc@1": acc}}
  if bench == "beir":
    per = {d: {"nDCG@10": 0.5 + 0.1 * k - 0.05 * a + e, "Recall@100": 0.9 + e, "n_queries": 40, "n_docs": 5000}
           for k, d in enumerate(("dbpedia-5k", "msmarco-5k"))}
    ndcg = float(np.mean([p["nDCG@10"] for p in per.values()]))
    return {"benchmark": "beir", "datasets": list(per), "per": per, "nDCG@10": ndcg, "Recall@100": 0.9 + e,
            "headline": {"mean_nDCG@10": ndcg}}
  others = 0.56 + 0.02 * a + 5 * e
  acc = {"en": 0.66, "de": others, "ar": others}
  return {"benchmark": "xnli", "langs": list(acc), "accuracy": acc, "n_train": 2490, "en": 0.66, "mean_others": others,
          "transfer_gap": 0.66 - others, "mean_accuracy": float(np.mean(list(acc.values()))),
          "headline": {"transfer_gap": 0.66 - others, "mean_accuracy": float(np.mean(list(acc.values())))}}


def make_sweep(root, alphas=(0.0, 0.5, 1.0), seeds=2, batch_types=("hybrid", "mixed"), unfinished=(), extra=(),
               lacking=()):
  """A sweep directory; `extra` benchmarks get synthetic summaries, except in the cells named in `lacking`."""
  spec = spec_lib.build(None, [f"grid.alphas={list(alphas)}", f"grid.seeds={seeds}",
                               f"grid.batch_types=[{', '.join(batch_types)}]", "eval.langs=[en, de, el]",
                               f"eval.benchmarks=[xquad-r, mlqa-r-dev{''.join(', ' + b for b in extra)}]",
                               f"eval.data_dir={DATA}", "train.model.name=runs/tiny", "train.steps=7"], out_dir=root)
  cells = spec.cells()
  storage.write_json(root / "sweep.json", {"format": spec_lib.FORMAT, "spec": spec.to_json(),
                                      "cells": [c.to_json() for c in cells]})
  for c in cells:
    cdir = root / "cells" / c.name
    for bench in extra:
      if c.name not in lacking:
        summary = _extra_summary(bench, c.alpha, c.seed, c.batch_type)
        pipeline.write_outputs(summary, "", cdir / "eval" / bench)
    for b, bench in enumerate(spec_lib.LAREQA):
      if c.kind == "zero-shot":
        ranks = _ranks(0.5, 99, "hybrid")
        ranks.in_lang[:] = ranks.in_lang + 1
      else:
        ranks = _ranks(c.alpha, c.seed + 10 * b, c.batch_type)
      summary, per_query = lareqa.metrics(ranks, ["en", "de"])
      per_query["question_ids"] = {l: [f"q{i}" for i in range(Q)] for l in LANGS}
      summary["benchmark"] = bench
      write_outputs(summary, per_query, cdir / "eval" / bench)
    if c.name not in unfinished:
      storage.write_json(cdir / "cell.json", {"cell": c.to_json(), "train_langs": ["en", "de"], "seconds": 1.0})
  return spec, cells


@pytest.fixture(scope="module")
def report(tmp_path_factory):
  root = tmp_path_factory.mktemp("synthetic") / "sw"
  spec, cells = make_sweep(root, unfinished=("mixed_a1_s1",), extra=EXTRAS, lacking=("mixed_a0.5_s0",))
  out = make_report(root, resamples=199)
  return root, out


def _summary(root, name, bench="xquad-r"):
  return json.loads((root / "cells" / name / "eval" / bench / "summary.json").read_text())


def test_report_files_and_numbers(report):
  root, out = report
  md = (out / "report.md").read_text()
  html = (out / "report.html").read_text()
  names = {p.name for p in (out / "figures").iterdir()}
  assert {"xquad-r_curves.png", "xquad-r_groups.png", "xquad-r_pareto_hybrid.png", "xquad-r_pareto_mixed.png",
          "xquad-r_heatmaps.png", "xquad-r_heatmap_diffs.png", "mlqa-r-dev_curves.png"} <= names
  for name in names:
    assert (out / "figures" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"figures/{name}" in md
  assert html.count('<img src="data:image/png;base64,') == len(names)
  assert "unfinished (left out): mixed_a1_s1" in md
  # The hybrid alpha = 0.5 row: the mean over its two seeds and their t-interval, by hand.
  mo = [_summary(root, f"hybrid_a0.5_s{s}")["Mo"] for s in (0, 1)]
  mean, half = np.mean(mo), 12.706204736174698 * np.std(mo, ddof=1) / np.sqrt(2)
  row = next(l for l in md.splitlines() if l.startswith("| hybrid | 0.5 | 2 |"))
  assert f"{100 * mean:.1f} [{100 * (mean - half):.1f}, {100 * (mean + half):.1f}]" in row
  # The paper's Table 1 numbers stand beside ours (XLM-R hybrid on XQuAD-R: .798 .705 .593).
  hybrid_row = next(l for l in md.splitlines() if l.startswith("| hybrid (α=0.5) |"))
  assert "| 79.8 | 70.5 | 59.3 | 287 |" in hybrid_row
  assert paper.TABLE1["LaBSE"]["X-Y"]["mlqa-r"] == (0.671, 0.677, 0.576)
  # Tests against alpha = 0 and alpha = 1, Holm over 3 pairs x 3 metrics; the ablation with its own tests.
  assert "α=0.5 − α=0" in md and "α=0.5 − α=1" in md and "α=1 − α=0" in md and "Holm-adjusted p over the 9 tests" in md
  assert "Batch type ablation: hybrid vs mixed" in md
  assert "Best α on the mean of Mo, Cr and Mul (xquad-r, hybrid)" in md
  assert "Pareto front (hybrid): α ∈ {" in md


def test_beyond_lareqa_section(report):
  root, out = report
  md = (out / "report.md").read_text()
  section = md.split("## Beyond LAReQA")[1].split("\n## ")[0]
  for bench in EXTRAS:
    assert f"figures/{bench}_curves.png" in section
  assert "a subset: the first 50 pairs of each language" in section
  assert "not evaluated yet in mixed_a0.5_s0" in section
  # The hybrid table: Tatoeba per alpha by hand (mean over the two seeds and its t-interval), untrained beside it.
  table = section.split("*hybrid: beyond LAReQA")[1].split("*mixed: beyond LAReQA")[0]
  row = next(l for l in table.splitlines() if l.startswith("| Tatoeba mean acc@1 |"))
  acc = [_summary(root, f"hybrid_a0.5_s{s}", "tatoeba")["acc@1"] for s in (0, 1)]
  mean, half = np.mean(acc), 12.706204736174698 * np.std(acc, ddof=1) / np.sqrt(2)
  assert row.split("|")[2].strip() == "78.0"
  assert f"| {100 * mean:.1f} [{100 * (mean - half):.1f}, {100 * (mean + half):.1f}] |" in row
  assert {"| BEIR nDCG@10 dbpedia-5k |", "| BEIR nDCG@10 msmarco-5k |", "| BEIR mean nDCG@10 |",
          "| BEIR mean Recall@100 |", "| XNLI mean non-English accuracy |"} <= {l.split(" |")[0] + " |" for l in table.splitlines()}
  # The computed sentence: Tatoeba's alpha effect (0.1) is far beyond its seed noise, the XNLI gap's (0.02) is not;
  # the gap is lower-is-better, so its best alpha is the highest one.
  sentence = next(l for l in table.splitlines() if l.startswith("Best α per metric (hybrid"))
  assert "Tatoeba mean acc@1: best α = 1 with " in sentence
  assert "(10.0, to the worst α = 0) exceeds the seed intervals" in sentence
  gap = sentence.split("XNLI transfer gap (lower: better): ")[1]
  assert gap.startswith("best α = 1 with ") and "(2.0, to the worst α = 0) is within the seed intervals" in gap
  assert "BEIR mean nDCG@10: best α = 0 with " in sentence
  # The cells table carries every cell's own scores beyond LAReQA ("–" where a benchmark is not evaluated yet).
  cells = md.split("## Cells")[1]
  header = next(l for l in cells.splitlines() if l.startswith("| cell |")).split(" | ")
  col = header.index("Tatoeba mean acc@1")
  row = next(l for l in cells.splitlines() if l.startswith("| hybrid_a0.5_s1 |")).split(" | ")
  assert row[col] == f"{100 * acc[1]:.1f}"
  mixed = next(l for l in cells.splitlines() if l.startswith("| mixed_a0.5_s0 |")).split(" | ")
  assert "–" in mixed[header.index("XNLI mean non-English accuracy")]


def test_verdict_by_hand():
  up = Metric("m", None)
  down = Metric("gap", None, higher_is_better=False)
  agg = {0.0: (0.50, 0.48, 0.52, 3), 1.0: (0.60, 0.55, 0.65, 3), 0.5: (0.51, 0.40, 0.62, 3)}
  assert beyond.verdict(up, agg, 0.3) == ("m: best α = 1 with 60.0 [55.0, 65.0] (untrained 30.0); the spread across α "
                                          "(10.0, to the worst α = 0) exceeds the seed intervals (best and worst do not overlap).")
  assert beyond.verdict(down, agg).startswith("gap: best α = 0 with 50.0 [48.0, 52.0]; the spread across α (10.0, "
                                              "to the worst α = 1) exceeds")
  agg[1.0] = (0.60, 0.51, 0.69, 3)                # now reaches down into alpha = 0's interval
  assert beyond.verdict(up, agg).endswith("is within the seed intervals (best and worst overlap).")
  assert beyond.verdict(up, {0.0: (0.5, np.nan, np.nan, 1), 1.0: (0.6, np.nan, np.nan, 1)}).endswith("(one seed).")


def test_significance_matches_a_direct_computation(report):
  root, out = report
  md = (out / "report.md").read_text()
  # alpha = 1 vs alpha = 0 on Mo for hybrid: the seed-averaged per-query AP, the same permutation test.
  def mo(alpha, seeds=(0, 1)):
    vecs = []
    for s in seeds:
      with np.load(root / "cells" / f"hybrid_a{alpha:g}_s{s}" / "eval" / "xquad-r" / "per_query.npz") as z:
        vecs.append(stats.query_metrics({k: z[k] for k in z.files}, LANGS)["Mo"])
    return np.mean(vecs, 0)
  diff, p = stats.paired_test(mo(1.0), mo(0.0), 199, 0)
  assert diff > 0.2 and p <= 0.01
  # How many seeds agree in sign with the averaged difference, counted here from each seed's own cells.
  agree = sum(np.sign(np.mean(mo(1.0, [s]) - mo(0.0, [s]))) == np.sign(diff) for s in (0, 1))
  section = md.split("## MLQA-R")[0]
  row = next(l for l in section.splitlines() if l.startswith("| α=1 − α=0 |"))
  text = row.split("|")[2].strip()
  assert text.startswith(f"{100 * diff:+.2f} (p=") and text.endswith(f" {agree}/2"), text
  # The seed-level table's row: each seed's own mean difference, their t-interval (df = 1), p from the t-test.
  d = [float(np.mean(mo(1.0, [s]) - mo(0.0, [s]))) for s in (0, 1)]
  half = 12.706204736174698 * np.std(d, ddof=1) / np.sqrt(2)
  rows = [l for l in section.splitlines() if l.startswith("| α=1 − α=0 |")]   # hybrid: query, seed; mixed: …
  text = rows[1].split("|")[2].strip()
  lead = f"{100 * np.mean(d):+.2f} [{100 * (np.mean(d) - half):+.2f}, {100 * (np.mean(d) + half):+.2f}] (p="
  assert text.startswith(lead) and text.endswith(" n=2"), (text, lead)


def test_seed_test_by_hand():
  """Per-seed differences 1, 2, 3 (x100 AP): mean 2, sem 1/sqrt(3), t = sqrt(12) on 2 df; the two-sided p
  in closed form for 2 df is 1 - t / sqrt(t^2 + 2) = 1 - sqrt(12/14)."""
  a = {s: {"Mo": [0.5 + d, 0.5 + d]} for s, d in enumerate((0.01, 0.02, 0.03))}
  b = {s: {"Mo": [0.5, 0.5]} for s in range(4)}
  diff, lo, hi, p, n = stats.seed_test(a, b, "Mo")
  assert n == 3 and diff == pytest.approx(0.02)
  assert p == pytest.approx(1 - np.sqrt(12 / 14))
  half = 4.302652729911275 * 0.01 / np.sqrt(3)                 # t_{0.975, 2} * sem
  assert (lo, hi) == (pytest.approx(0.02 - half), pytest.approx(0.02 + half))
  assert np.isnan(stats.seed_test({0: a[0]}, b, "Mo")[3])      # one seed: no test
  same = {s: {"Mo": [0.6, 0.6]} for s in range(3)}
  assert np.isnan(stats.seed_test(same, b, "Mo")[3])          # no spread: no test


def test_seed_agreement_by_hand():
  a = {0: {"Mo": [0.5, 0.7]}, 1: {"Mo": [0.4, 0.4]}, 2: {"Mo": [0.9, 0.1]}}
  b = {0: {"Mo": [0.4, 0.6]}, 1: {"Mo": [0.5, 0.5]}, 2: {"Mo": [0.5, 0.5]}, 3: {"Mo": [0.0, 0.0]}}
  assert stats.seed_agreement(a, b, "Mo", +0.1) == (1, 3)       # seed 0 up, seed 1 down, seed 2 tied
  assert stats.seed_agreement(a, b, "Mo", -0.1) == (1, 3)


def _chromium():
  return shutil.which("chromium") or shutil.which("chromium-browser")


PROBE = """<script>
window.__errs = [];
window.addEventListener('error', function (e) { window.__errs.push(String(e.message || (e.target && e.target.tagName))); }, true);
var _ce = console.error;
console.error = function () { window.__errs.push(Array.from(arguments).join(' ')); _ce.apply(console, arguments); };
window.addEventListener('load', function () {
  var imgs = Array.from(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0 && i.naturalHeight > 0; });
  document.documentElement.setAttribute('data-probe',
      JSON.stringify({images: imgs.length, decoded: ok.length, errors: window.__errs}));
});
</script>"""


def _browse(html_path, tmp):
  """(probe dict, console lines) of a page opened in headless chromium with the probe script injected."""
  Path(tmp).mkdir(parents=True, exist_ok=True)
  page = Path(tmp) / "page.html"
  page.write_text(Path(html_path).read_text().replace("<head>", "<head>" + PROBE, 1))
  cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp}/profile", "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000",
         "--dump-dom", page.as_uri()]
  r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
  assert r.returncode == 0, r.stderr[-2000:]
  m = re.search(r'data-probe="([^"]*)"', r.stdout)
  assert m, "the probe did not run: " + r.stdout[:500]
  console = [l for l in r.stderr.splitlines() if ":CONSOLE" in l]
  return json.loads(html_lib.unescape(m.group(1))), console


@pytest.mark.skipif(not _chromium(), reason="chromium is not installed (.ci/run installs it)")
def test_report_html_in_a_headless_browser(report, tmp_path):
  root, out = report
  n = len(list((out / "figures").glob("*.png")))
  probe, console = _browse(out / "report.html", tmp_path)
  assert probe == {"images": n, "decoded": n, "errors": []} and console == [], (probe, console)
  # The check sees a broken figure and a script error (it is not vacuous).
  bad = tmp_path / "bad.html"
  bad.write_text((out / "report.html").read_text().replace(
      "</body>", '<img src="data:image/png;base64,AAAA"><script>undefinedFn();</script></body>'))
  probe, console = _browse(bad, tmp_path / "b")
  assert probe["decoded"] == n and probe["images"] == n + 1 and any("undefinedFn" in e for e in probe["errors"])
  assert any("undefinedFn" in l for l in console)


def test_report_without_finished_cells_is_one_line(tmp_path, capsys):
  make_sweep(tmp_path / "sw", alphas=(0.0,), seeds=1, batch_types=("hybrid",),
             unfinished=("zero-shot", "hybrid_a0_s0"))
  assert cli.main(["report", str(tmp_path / "sw")]) == 2
  err = capsys.readouterr().err.strip()
  assert "has no finished cell yet" in err and len(err.splitlines()) == 1, err
  assert not (tmp_path / "sw" / "report").exists()
  assert cli.main(["report", str(tmp_path)]) == 2
  assert "not a sweep directory" in capsys.readouterr().err


def test_report_of_an_ablation_at_one_alpha(tmp_path):
  """hybrid vs mixed at alpha = 0.5 only: the ablation table with its tests; no Pareto front or
  'best alpha' (one point says nothing), no tests against alpha = 0 / 1 (absent); the figure an
  earlier report of the directory drew (its figure list says so) and this one does not is removed, and a
  figure nobody listed (a user's, or another tool's) is kept."""
  make_sweep(tmp_path / "sw", alphas=(0.5,), seeds=2)
  figdir = tmp_path / "sw" / "report" / "figures"
  figdir.mkdir(parents=True)
  stale = figdir / "xquad-r_pareto_hybrid.png"   # an earlier report's
  stale.write_bytes(b"\x89PNG old")
  theirs = figdir / "xquad-r_pareto_mine.png"     # not in the earlier report's list: not ours to delete
  theirs.write_bytes(b"\x89PNG user")
  (figdir.parent / "report-figures.json").write_text(json.dumps(["xquad-r_pareto_hybrid.png", "xquad-r_curves.png"]))
  out = make_report(tmp_path / "sw", resamples=99)
  assert theirs.read_bytes() == b"\x89PNG user"
  listed = json.loads((figdir.parent / "report-figures.json").read_text())
  assert "xquad-r_curves.png" in listed and "xquad-r_pareto_hybrid.png" not in listed
  assert set(listed) == {p.name for p in figdir.glob("*.png")} - {theirs.name}
  md = (out / "report.md").read_text()
  assert "Batch type ablation: hybrid vs mixed" in md and "| 0.5 | " in md
  assert "Pareto" not in md and "Best α on the mean" not in md
  assert [p.name for p in (out / "figures").glob("*pareto*")] == [theirs.name]
  assert "No paired tests (hybrid)" in md
  assert "| hybrid α=0.5 − mixed α=0.5 |" in md and "paired t-tests over seeds" in md


def _recorded_figures():
  import importlib.util
  spec = importlib.util.spec_from_file_location("recorded_figures", Path(__file__).parents[1] / "tools" / "recorded_figures.py")
  mod = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(mod)
  return mod


def test_recorded_figures_draw_the_alpha_axis_from_an_expected_file(tmp_path, capsys):
  """tools/recorded_figures.py: means and t-intervals over the recorded seeds of each (λ, α), the paper's XLM-R
  rows at α = 0, 0.5, 1, the untrained model as λ = 0; bad input is one line and exit 2."""
  import yaml
  tool = _recorded_figures()

  def scores(mo, mul, rd):
    return {"xquad-r": {"Mo": mo, "Cr": 70.0, "Mul": mul, "RD": rd}}
  cells = {"zero-shot": {"kind": "zero-shot", **scores(80.0, 29.8, 1214.0)},
           "hybrid_a0_s0": {"kind": "train", **scores(78.0, 59.0, 310.0)},
           "hybrid_a0_s1": {"kind": "train", **scores(79.0, 60.0, 320.0)},
           "hybrid_a0_w0.75_s0": {"kind": "wise", **scores(80.0, 60.0, 290.0)},
           "hybrid_a1_s0": {"kind": "train", **scores(80.5, 57.0, 360.0)}}
  path = tmp_path / "e.yaml"
  path.write_text(yaml.safe_dump({"sweep": "runs/x", "cells": cells}))
  curves, means, untrained = tool.series(yaml.safe_load(path.read_text()), "xquad-r")
  (a0, mo, lo, hi), (a1, mo1, lo1, hi1) = curves["trained (λ = 1)"]["Mo"]
  half = 12.706204736174707 * 0.5                      # t(0.975, 1 dof) · sem of (78, 79), 0.5
  assert (a0, mo, a1, mo1) == (0.0, 78.5, 1.0, 80.5)
  assert lo == pytest.approx(78.5 - half) and hi == pytest.approx(78.5 + half)
  assert np.isnan(lo1) and np.isnan(hi1)                # one seed: no interval
  assert curves["WiSE-FT λ = 0.75"]["RD"] == [(0.0, 290.0, pytest.approx(np.nan, nan_ok=True),
                                                pytest.approx(np.nan, nan_ok=True))]
  assert means[0.75] == {0.0: {"Mo": 80.0, "Cr": 70.0, "Mul": 60.0, "RD": 290.0}} and untrained["RD"] == 1214.0
  rows = tool.paper_rows("xquad-r")["paper XLM-R"]
  assert [(a, v) for a, v, *_ in rows["Mul"]] == [(0.0, pytest.approx(59.3)), (0.5, pytest.approx(59.3)),
                                                  (1.0, pytest.approx(54.7))]
  assert [(a, v) for a, v, *_ in rows["RD"]] == [(0.0, 295.0), (0.5, 287.0), (1.0, 410.0)]

  assert tool.main([str(path), "--out", str(tmp_path / "fig"), "--goal", "80,71,60,285"]) == 0
  assert sorted(p.name for p in (tmp_path / "fig").iterdir()) == ["xquad-r_recorded_alpha.png",
                                                                   "xquad-r_recorded_mixing.png"]
  capsys.readouterr()
  assert tool.main([str(path), "--out", str(tmp_path / "fig"), "--goal", "80,71"]) == 2
  assert capsys.readouterr().err.count("\n") == 1
  other = tmp_path / "other.yaml"
  other.write_text(yaml.safe_dump({"sweep": "runs/y", "cells": {"zero-shot": cells["zero-shot"]}}))
  assert tool.main([str(other), "--out", str(tmp_path / "fig2")]) == 2
  err = capsys.readouterr().err
  assert err.startswith("recorded_figures: ") and "no hybrid_a<α>" in err and err.count("\n") == 1


def test_report_never_replaces_a_file_it_did_not_write(tmp_path, capsys):
  """--out a folder holding someone's report.md: one line, exit 2, their file and folder untouched; a report's own
  files are replaced on the next run."""
  make_sweep(tmp_path / "sw", alphas=(0.5,), seeds=2)
  out = tmp_path / "docs"
  out.mkdir()
  (out / "report.md").write_text("# my notes\n")
  assert cli.main(["report", str(tmp_path / "sw"), "--out", str(out), "--resamples", "99"]) == 2
  err = capsys.readouterr().err
  assert "was not written by jaxir report" in err and len(err.strip().splitlines()) == 1
  assert (out / "report.md").read_text() == "# my notes\n" and [p.name for p in out.iterdir()] == ["report.md"]
  (out / "report.md").unlink()
  for _ in range(2):
    assert cli.main(["report", str(tmp_path / "sw"), "--out", str(out), "--resamples", "99"]) == 0
  assert (out / "report.md").read_text().startswith("# α sweep: sw")


def _record(tmp_path):
  """A record written by `jaxir expected write` from a synthetic sweep (hybrid, α 0 and 1, seeds 0 and 1), its
  scores then set by hand to round numbers, with λ = 0.75 cells added, as a sweep run in pieces would record."""
  import yaml
  from jaxir.report import expected
  make_sweep(tmp_path / "sw", alphas=(0.0, 1.0), seeds=2, batch_types=("hybrid",), extra=("tatoeba",))
  path = tmp_path / "rec.yaml"
  expected.write(tmp_path / "sw", path, "by hand")
  doc = yaml.safe_load(path.read_text())

  def cell(kind, mo, cr, mul, rd, dev=True):
    s = {"Mo": mo, "Cr": cr, "Mul": mul, "RD": rd}
    return {"kind": kind, "xquad-r": s, **({"mlqa-r-dev": s} if dev else {})}
  doc["cells"] = {"zero-shot": cell("zero-shot", 80.0, 64.0, 30.0, 1200.0, dev=False),
                  "hybrid_a0_s0": cell("train", 78.0, 70.0, 60.0, 320.0),
                  "hybrid_a0_w0.75_s0": cell("wise", 80.0, 71.5, 61.5, 290.0),
                  "hybrid_a1_s0": cell("train", 81.0, 69.0, 56.0, 370.0),
                  "hybrid_a1_w0.75_s0": cell("wise", 82.0, 70.0, 55.0, 375.0),
                  "hybrid_a0_s1": cell("train", 79.0, 70.5, 61.0, 310.0),
                  "hybrid_a0_w0.75_s1": cell("wise", 81.5, 72.0, 62.0, 288.0),
                  "hybrid_a1_s1": cell("train", 83.0, 69.5, 57.0, 380.0),
                  "hybrid_a1_w0.75_s1": cell("wise", 83.0, 70.5, 56.5, 384.0)}
  path.write_text(yaml.safe_dump(doc, sort_keys=False))
  return path, doc


def test_report_of_a_record(tmp_path):
  """`jaxir report FILE --out DIR` on an expected-scores file: the sections recorded scores allow (means with
  t-intervals, curves, Pareto fronts, tests over seeds, WiSE-FT), each number as computed by hand from the record;
  none of those needing per-query files or language pairs; the record's note in the text."""
  path, _ = _record(tmp_path)
  assert cli.main(["report", str(path), "--out", str(tmp_path / "r")]) == 0
  md = (tmp_path / "r" / "report.md").read_text()
  assert md.startswith("# α sweep: sw (recorded scores)\n") and f"recorded in {path}" in md and "by hand." in md
  assert "the LAReQA benchmarks only (left out: tatoeba)" in md and "Tatoeba" not in md
  half = 12.706204736174707 * 0.5                    # t(0.975, 1 dof) · the sem of two values 1 apart, 0.5
  assert f"| hybrid | 0 | 2 | 78.5 [{78.5 - half:.1f}, {78.5 + half:.1f}] |" in md           # Mo of α = 0: 78, 79
  assert f"| hybrid WiSE λ=0.75 | 1 | 2 | 82.5 [{82.5 - half:.1f}, {82.5 + half:.1f}] |" in md
  assert "| zero-shot tiny | – | – | 80.0 | 64.0 | 30.0 | 1200.0 |" in md
  assert "| zero-shot tiny | – | – | – | – | – | – |" in md      # recorded without mlqa-r-dev
  # Tests over seeds: α = 1 − α = 0 on Mo is 3 (seed 0) and 4 (seed 1); λ = 0.75 − λ = 1 at α = 0: 2 and 2.5.
  row = next(l for l in md.splitlines() if l.startswith("| α=1 − α=0 |"))
  assert row.split(" | ")[1].startswith(f"+3.50 [{3.5 - half:+.2f}, {3.5 + half:+.2f}] (p=")
  row = next(l for l in md.splitlines() if l.startswith("| α=0 λ=0.75 − α=0 λ=1 |"))
  assert row.split(" | ")[1].startswith(f"+2.25 [{2.25 - half / 2:+.2f}, {2.25 + half / 2:+.2f}] (p=")
  assert "the difference of its recorded scores" in md and "permutation" not in md
  figs = sorted(p.name for p in (tmp_path / "r" / "figures").iterdir())
  assert "xquad-r_curves.png" in figs and "xquad-r_wise_hybrid.png" in figs
  assert not [f for f in figs if "heatmap" in f or "groups" in f]
  assert "| hybrid WiSE λ=0.75: X-Y (α=0) |" in md          # the paper-shaped table


def test_bad_records_are_one_line(tmp_path, capsys):
  """A record without --out, with a cell that is not a sweep's or whose kind is not its name's, without options,
  with a score that is no number, and a YAML that is no record: one line each, exit 2, nothing written."""
  import yaml
  path, doc = _record(tmp_path)
  assert cli.main(["report", str(path)]) == 2
  assert "give --out DIR" in capsys.readouterr().err
  assert cli.main(["report", str(tmp_path / "none.yaml"), "--out", str(tmp_path / "none")]) == 2
  assert "no such sweep directory or expected-scores file" in capsys.readouterr().err
  cases = {"cell": ({**doc, "cells": {**doc["cells"], "my_cell": {"kind": "train"}}}, "are not a sweep's"),
           "kind": ({**doc, "cells": {**doc["cells"], "hybrid_a0_s0": {**doc["cells"]["hybrid_a0_s0"], "kind": "wise"}}},
                    "recorded as kind 'wise', but its name is a train cell's"),
           "options": ({k: v for k, v in doc.items() if k != "options"}, "records no options"),
           "steps": ({**doc, "options": {**doc["options"], "train": {k: v for k, v in doc["options"]["train"].items()
                                                                      if k != "steps"}}}, "record no train.steps"),
           "number": ({**doc, "cells": {**doc["cells"], "hybrid_a0_s0": {"kind": "train", "xquad-r": {"Mo": "x"}}}},
                      "cell hybrid_a0_s0 xquad-r Mo must be a number or null, got str 'x'"),
           "nan": ({**doc, "cells": {**doc["cells"], "hybrid_a0_s0": {"kind": "train", "xquad-r": {"Mo": float("nan")}}}},
                   "cell hybrid_a0_s0 xquad-r Mo: nan is not finite"),
           "other": ({"a": 1}, "is not an expected-scores file")}
  for name, (bad, message) in cases.items():
    f = tmp_path / f"{name}.yaml"
    f.write_text(yaml.safe_dump(bad))
    assert cli.main(["report", str(f), "--out", str(tmp_path / name)]) == 2, name
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, (name, err)
    assert not (tmp_path / name).exists()

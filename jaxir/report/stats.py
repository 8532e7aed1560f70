"""Statistics of a sweep: intervals over seeds, paired tests over queries, Holm, the Pareto front.

  t_interval        mean and 95% Student-t interval of a metric over seeds (scipy.stats.t)
  query_metrics     per-query Mo / Cr / Mul AP from a per_query.npz (Cr: the mean over the other
                    candidate languages of the query's X->Y AP)
  paired_test       two-sided sign-flip randomisation test of mean(a - b) = 0 over paired queries:
                    exact (scipy.stats.permutation_test) when the 2^n sign patterns fit in the
                    resamples, else random sign flips through scipy.stats.monte_carlo_test
  seed_diffs        each shared seed's mean difference over queries (for the two below)
  seed_agreement    how many seeds' own differences have the sign of the seed-averaged one
  seed_test         paired t-test over seeds of the per-seed mean differences (scipy.stats.ttest_1samp),
                    with the 95% t-interval of the mean difference: the test about training, where
                    paired_test is about the seed-averaged models
  holm              Holm's step-down adjusted p-values (family-wise error control)
  holm_finite       holm over the tests that ran, NaN for those that could not
  pareto_front      points no other point beats on every coordinate (all maximised)
"""
import warnings

import numpy as np
from scipy import stats

METRICS = ("Mo", "Cr", "Mul")


def t_interval(values, confidence=0.95):
  """(mean, low, high) over the non-missing values; low = high = NaN with fewer than two."""
  x = np.asarray([v for v in values if v is not None and not np.isnan(v)], np.float64)
  if x.size == 0:
    return (np.nan, np.nan, np.nan)
  mean = float(x.mean())
  if x.size < 2:
    return (mean, np.nan, np.nan)
  sem = float(stats.sem(x))
  if sem == 0.0:
    return (mean, mean, mean)
  lo, hi = stats.t.interval(confidence, x.size - 1, loc=mean, scale=sem)
  return (mean, float(lo), float(hi))


def holm(pvalues):
  """Holm-adjusted p-values, in the input order: p_(i) * (m - i) for the i-th smallest (0-based),
  made monotone by a running maximum and capped at 1."""
  p = np.asarray(pvalues, np.float64)
  adjusted = np.empty_like(p)
  running = 0.0
  for rank, i in enumerate(np.argsort(p, kind="stable")):
    running = max(running, min(1.0, (p.size - rank) * p[i]))
    adjusted[i] = running
  return adjusted


def holm_finite(pvalues):
  """holm() over the finite p-values alone (a test that could not run is no part of the family); NaN stays NaN."""
  p = np.asarray(pvalues, np.float64)
  adjusted = np.full_like(p, np.nan)
  ok = np.isfinite(p)
  if ok.any():
    adjusted[ok] = holm(p[ok])
  return adjusted


def pareto_front(points):
  """Boolean mask: True where no other point is >= on every coordinate and > on at least one."""
  P = np.asarray(points, np.float64)
  if P.size == 0:
    return np.zeros(0, bool)
  ge = (P[None, :, :] >= P[:, None, :]).all(-1)     # ge[i, j]: point j is at least point i everywhere
  gt = (P[None, :, :] > P[:, None, :]).any(-1)
  return ~(ge & gt).any(1)


def _nanmean(x, axis):
  with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)
    return np.nanmean(x, axis=axis)


def query_metrics(per_query, langs):
  """{Mo, Cr, Mul: [Q] float} per query, the queries of `langs` in order."""
  mo = np.concatenate([per_query[f"pair/{x}/{x}"] for x in langs])
  cr = np.concatenate([
      _nanmean(np.stack([per_query[f"pair/{x}/{y}"] for y in langs if y != x]), 0) if len(langs) > 1
      else np.full(len(per_query[f"pair/{x}/{x}"]), np.nan) for x in langs])
  mul = np.concatenate([per_query[f"mul/{x}"] for x in langs])
  return {"Mo": mo, "Cr": cr, "Mul": mul}


def seed_mean(vectors):
  """The per-query mean over seeds of equally ordered per-query vectors."""
  return _nanmean(np.stack(vectors), 0)


def seed_diffs(a, b, metric):
  """[n] each seed's mean over queries of a - b, for the n seeds in both {seed: {metric: per-query AP}} maps."""
  return np.asarray([np.nanmean(np.asarray(a[s][metric], np.float64) - np.asarray(b[s][metric], np.float64))
                     for s in sorted(set(a) & set(b))], np.float64)


def seed_agreement(a, b, metric, diff):
  """(k, n): of the n seeds in both {seed: {metric: per-query AP}} maps, the k whose mean over queries of
  a - b has the sign of `diff` (a difference of exactly 0 agrees with nothing)."""
  signs = np.sign(seed_diffs(a, b, metric))
  return (int(sum(1 for x in signs if x != 0 and x == np.sign(diff))), len(signs))


def seed_test(a, b, metric):
  """(mean difference, low, high, p, n) over the n seeds in both {seed: {metric: per-query AP}} maps: each
  seed's difference is its mean over queries of a - b; the interval is the 95% t-interval of their mean
  and p the two-sided one-sample t-test of mean 0 (NaN with fewer than two seeds or no spread)."""
  return diff_test(seed_diffs(a, b, metric))


def diff_test(d):
  """(mean, low, high, p, n) of paired differences `d`: the 95% t-interval of their mean and the two-sided
  one-sample t-test of mean 0 (NaN with fewer than two or no spread)."""
  d = np.asarray(d, np.float64)
  mean, lo, hi = t_interval(d)
  p = np.nan
  if d.size >= 2 and np.ptp(d) > 0:
    p = float(stats.ttest_1samp(d, 0.0).pvalue)
  return (mean, lo, hi, p, int(d.size))


def _mean(x, axis):
  return np.mean(x, axis=axis)


def paired_test(a, b, n_resamples=9999, seed=0):
  """(mean difference, two-sided p) of a - b over the pairs where both are defined.

  The null flips the sign of each difference independently. permutation_test(permutation_type=
  "samples") draws that null too, but spends ~6 s per test on 13,090 queries in per-observation
  overhead (the whole of a report's time); monte_carlo_test with sign-flipped resamples is the same
  randomisation test (same p-value convention, (1 + #as extreme) / (1 + n), two-sided doubled) at
  ~0.5 s with 9,999 resamples. Small n keeps the exact enumeration."""
  d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
  d = d[~np.isnan(d)]
  if d.size == 0:
    return (np.nan, np.nan)
  if np.all(d == 0):
    return (0.0, 1.0)
  batch = max(1, min(n_resamples, 2_000_000 // d.size))
  if d.size < 30 and 2 ** d.size <= n_resamples:
    res = stats.permutation_test((d,), _mean, permutation_type="samples", vectorized=True, n_resamples=n_resamples,
                                 batch=batch, alternative="two-sided", random_state=seed)
    return (float(d.mean()), float(res.pvalue))
  rng = np.random.default_rng(seed)

  def sign_flipped(size):
    return d * (2.0 * rng.integers(0, 2, size=size, dtype=np.int8) - 1.0)

  res = stats.monte_carlo_test(d, sign_flipped, _mean, vectorized=True, n_resamples=n_resamples, batch=batch,
                               alternative="two-sided", axis=-1)
  return (float(d.mean()), float(res.pvalue))

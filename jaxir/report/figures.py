"""The report's figures (matplotlib, Agg backend), each one PNG.

  curves    metrics against alpha: mean over seeds with a 95% t-band, reference lines dashed (or
            named at the panel's edge when drawing them would squash the curves)
  pareto    the Mo-Cr plane, one point per alpha, the Pareto front joined and ringed
  heatmaps  X_Q x X_C mAP matrices side by side (absolute, or differences on a diverging scale)
"""
import numpy as np

ALPHA_LABEL = "α (probability of a monolingual batch)"
PANELS = {"Mo": (100, "Mo mAP ×100"), "Cr": (100, "Cr mAP ×100"), "Mul": (100, "Mul mAP ×100"),
          "RD": (1, "RD in ranks (lower: less bias)")}


def _plt():
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  return plt


def _save(fig, path):
  plt = _plt()
  fig.savefig(path, dpi=100, bbox_inches="tight")
  plt.close(fig)
  return path


def on_scale(value, low, high, room=1.5):
  """Whether a reference line at `value` fits a panel whose data span [low, high]: within `room`
  spans of it (a far-off one, like the untrained model's RD, would squash the curves to a line)."""
  span = max(high - low, 1e-9 * max(abs(high), 1.0))
  return low - room * span <= value <= high + room * span


def curves(path, series, references=None, title="", metrics=("Mo", "Cr", "Mul", "RD"), panels=None, dashed=()):
  """series: {label: {metric: [(alpha, mean, low, high)]}}; references: {label: {metric: value}};
  panels: {metric: (scale, y label)} (default: the LAReQA metrics' PANELS); one panel per metric;
  dashed: labels of series drawn dashed with open markers (published numbers beside ours)."""
  plt = _plt()
  panels = panels or PANELS
  fig, axes = plt.subplots(1, len(metrics), figsize=(4 * len(metrics), 3.4), squeeze=False)
  for ax, m in zip(axes[0], metrics):
    scale, ylabel = panels[m]
    shown = [np.zeros(0)]              # every value the curves and bands plot
    for i, (label, data) in enumerate(series.items()):
      pts = np.asarray(data.get(m) or [], np.float64).reshape(-1, 4)
      if not len(pts):
        continue
      a, mean, lo, hi = pts.T
      ok = ~np.isnan(lo)
      if len(a) == 1:                  # one alpha (an ablation at one alpha): an interval bar, dodged per series
        a = a + 0.02 * (i - (len(series) - 1) / 2)
        ax.errorbar(a[ok], mean[ok] * scale, yerr=[(mean - lo)[ok] * scale, (hi - mean)[ok] * scale],
                    fmt="none", ecolor=f"C{i}", capsize=4)
      elif ok.any():
        ax.fill_between(a[ok], lo[ok] * scale, hi[ok] * scale, color=f"C{i}", alpha=0.2, linewidth=0)
      style = dict(linestyle="--", markerfacecolor="none") if label in dashed else {}
      ax.plot(a, mean * scale, marker="o", color=f"C{i}", label=label, **style)
      shown += [mean * scale, lo[ok] * scale, hi[ok] * scale]
    shown = np.concatenate(shown)
    shown = shown[np.isfinite(shown)]
    named = {True: 0, False: 0}        # references named at the top / bottom edge so far
    for j, (label, ref) in enumerate((references or {}).items()):
      if ref.get(m) is None:
        continue
      value, color = ref[m] * scale, f"C{7 + j}"
      if not len(shown) or on_scale(value, shown.min(), shown.max()):
        ax.axhline(value, linestyle="--", color=color, linewidth=1, label=label)
        continue
      above = bool(value > shown.max())  # drawn, it would flatten the curves: named at that edge instead
      offset = 0.08 * named[above]
      named[above] += 1
      ax.annotate(f"{label}: {value:.1f} {'↑' if above else '↓'}",
                  (0.02, 0.97 - offset if above else 0.03 + offset), xycoords="axes fraction",
                  va="top" if above else "bottom", fontsize=8, color=color)
    ax.set_xlim(-0.05, 1.05)           # always all of alpha's range, so figures of different sweeps align
    ax.set_xlabel(ALPHA_LABEL)
    ax.set_ylabel(ylabel)
    ax.set_title(m)
    ax.grid(alpha=0.3)
  axes[0][0].legend(fontsize=8)
  if title:
    fig.suptitle(title)
  fig.tight_layout()
  return _save(fig, path)


def _plane(fig, ax, path, y, title):
  """Finishes a figure of the Mo–`y` plane (mAP x100) and saves it."""
  ax.set_xlabel("Mo mAP ×100")
  ax.set_ylabel(f"{y} mAP ×100")
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8)
  if title:
    ax.set_title(title)
  fig.tight_layout()
  return _save(fig, path)


def pareto(path, alphas, mo, cr, front, reference=None, title=""):
  """One point per alpha on the Mo-Cr plane (x100); `front` marks the Pareto-optimal ones."""
  plt = _plt()
  mo, cr, front = np.asarray(mo) * 100, np.asarray(cr) * 100, np.asarray(front, bool)
  fig, ax = plt.subplots(figsize=(5.2, 4.2))
  ax.scatter(mo, cr, color="C0", zorder=3, label="α (mean over seeds)")
  order = np.argsort(mo[front])
  ax.plot(mo[front][order], cr[front][order], color="C3", linewidth=1.5, zorder=2, label="Pareto front")
  ax.scatter(mo[front], cr[front], s=140, facecolors="none", edgecolors="C3", zorder=4)
  for a, x, y in zip(alphas, mo, cr):
    ax.annotate(f"{a:g}", (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
  if reference is not None:
    ax.scatter([reference[0] * 100], [reference[1] * 100], marker="x", color="gray", zorder=3, label="zero-shot")
  return _plane(fig, ax, path, "Cr", title)


def heatmaps(path, matrices, langs, diverging=False, title=""):
  """matrices: {panel title: [L, L] values x100}; query language rows, candidate language columns."""
  plt = _plt()
  n = len(matrices)
  fig, axes = plt.subplots(1, n, figsize=(4.3 * n + 0.6, 4.0), squeeze=False)
  mats = [np.asarray(m, np.float64) for m in matrices.values()]
  if diverging:
    lim = max([np.nanmax(np.abs(m)) for m in mats if np.isfinite(m).any()] or [1.0]) or 1.0
    kw = {"cmap": "RdBu", "vmin": -lim, "vmax": lim}
  else:
    kw = {"cmap": "viridis", "vmin": 0.0, "vmax": 100.0}
  im = None
  for ax, (name, m) in zip(axes[0], zip(matrices, mats)):
    im = ax.imshow(m, **kw)
    ax.set_xticks(range(len(langs)), langs, fontsize=7)
    ax.set_yticks(range(len(langs)), langs, fontsize=7)
    ax.set_xlabel("candidate language X_C")
    ax.set_ylabel("query language X_Q")
    ax.set_title(name, fontsize=10)
    if len(langs) <= 11:
      for i in range(len(langs)):
        for j in range(len(langs)):
          if np.isfinite(m[i, j]):
            ax.text(j, i, f"{m[i, j]:.0f}" if not diverging else f"{m[i, j]:+.1f}", ha="center", va="center",
                    fontsize=5.5 if len(langs) > 7 else 7, color="black" if diverging else "white")
  fig.colorbar(im, ax=axes[0].tolist(), shrink=0.85, label="Δ mAP ×100" if diverging else "mAP ×100")
  if title:
    fig.suptitle(title)
  return _save(fig, path)


def mixing(path, alpha_points, lambda_paths, title=""):
  """The Mo–Mul plane (x100): alpha_points [(alpha, mo, mul)] of the trained models as one solid curve, and
  lambda_paths {alpha: [(λ, mo, mul)]} as one dashed path per alpha, each point labelled."""
  plt = _plt()
  fig, ax = plt.subplots(figsize=(5.6, 4.4))
  pts = np.asarray([p[1:] for p in alpha_points], np.float64).reshape(-1, 2) * 100
  if len(pts):
    ax.plot(pts[:, 0], pts[:, 1], marker="o", color="C0", label="α (trained, λ = 1)")
    for (a, *_), (x, y) in zip(alpha_points, pts):
      ax.annotate(f"α={a:g}", (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8, color="C0")
  for i, (alpha, steps) in enumerate(sorted(lambda_paths.items())):
    p = np.asarray([q[1:] for q in steps], np.float64).reshape(-1, 2) * 100
    ax.plot(p[:, 0], p[:, 1], marker="s", linestyle="--", color=f"C{i + 1}", label=f"λ at α={alpha:g}")
    for (lam, *_), (x, y) in zip(steps, p):
      ax.annotate(f"λ={lam:g}", (x, y), textcoords="offset points", xytext=(5, -10), fontsize=7, color=f"C{i + 1}")
  return _plane(fig, ax, path, "Mul", title)

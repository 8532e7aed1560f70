"""The seed-level claim of a feedback setting (docs/results/best/README.md, §11b's rule): every seed's cell of one
configuration scored on all of XQuAD-R, with plain dot products and with feedback at the setting chosen on dev
(tools/prf.py); the 3-seed mean with its 95% t-interval against the goal; seed-paired differences (feedback − the
same seed's plain cell, and feedback − a baseline's same seed read from an expected-scores file), each family of
four Holm-adjusted (`jaxir.report.stats`).

  PYTHONPATH=. python tools/prf_seeds.py runs/sweep-best --config hybrid_a0.5_w0.75 --setting 5:0.75 \
      --baseline experiments/expected/full.yaml:hybrid_a0.5 --goal 80,71,60,285 [--out FILE.json]

A number counts as met if its mean clears the bound, and as met beyond seed noise only if its whole interval does.
The plain scores must reproduce the cell's own recorded XQuAD-R summary (else the export is not the cell's model's,
and the tool stops). Seeds whose cell is unfinished are listed and left out. About a minute a seed.
"""
import argparse
import json
import re
import sys

import numpy as np

import prf                             # tools/prf.py and tools/rescoring.py, beside this file
import rescoring
from jaxir.errors import JaxirError
from jaxir.eval import feedback

METRICS = ("Mo", "Cr", "Mul", "RD")
SCALE = {"Mo": 100, "Cr": 100, "Mul": 100, "RD": 1}     # as recorded: mAP x100, RD in ranks
LOWER_IS_BETTER = {"RD"}


def parse_goal(text):
  """'Mo,Cr,Mul,RD' bounds -> {metric: bound}: Mo, Cr, Mul at least theirs, RD at most its."""
  try:
    values = [float(v) for v in text.split(",")]
  except ValueError:
    raise JaxirError(f"--goal is four numbers Mo,Cr,Mul,RD, got {text!r}") from None
  if len(values) != 4:
    raise JaxirError(f"--goal is four numbers Mo,Cr,Mul,RD, got {text!r}")
  return dict(zip(METRICS, values))


def seed_cells(sweep, config):
  """({seed: cell dir} of the finished cells `config`_s<seed> (cell.json and an XQuAD-R export), [unfinished names])."""
  from pathlib import Path
  pattern = re.compile(re.escape(config) + r"_s(\d+)")
  finished, unfinished = {}, []
  cells = Path(sweep) / "cells"
  if not cells.is_dir():
    raise JaxirError(f"{sweep}: not a sweep directory (no cells/)")
  for d in sorted(cells.iterdir()):
    m = pattern.fullmatch(d.name)
    if m:
      done = (d / "cell.json").is_file() and (d / "eval" / "xquad-r" / "summary.json").is_file() \
          and (d / "emb" / "xquad-r" / "embeddings.npy").is_file()
      if done:
        finished[int(m.group(1))] = d
      else:
        unfinished.append(d.name)
  if not finished:
    raise JaxirError(f"{sweep}: no finished cell {config}_s<seed>" + (f" ({', '.join(unfinished)} unfinished)"
                                                                      if unfinished else ""))
  return finished, unfinished


def score_seed(cell_dir, setting):
  """{'plain': {metric: recorded scale}, 'feedback': {...}} of one cell's XQuAD-R export; the plain scores checked
  against the cell's recorded summary."""
  from jaxir import storage
  index, emb = rescoring.load_xquad(cell_dir / "emb" / "xquad-r")
  plain = (setting[0], 0.0)
  r = rescoring.score(index, emb, prf.feedback_scores, [plain, setting], None)
  recorded = storage.read_json(cell_dir / "eval" / "xquad-r" / "summary.json", "summary")
  for m in METRICS:
    if not np.isclose(r[plain][m], recorded[m], rtol=1e-6, atol=1e-6):
      raise JaxirError(f"{cell_dir}: plain {m} {r[plain][m]:.6f} is not the cell's recorded {recorded[m]:.6f}; "
                       "is emb/xquad-r this cell's model's export?")
  return {name: {m: SCALE[m] * r[s][m] for m in METRICS} for name, s in (("plain", plain), ("feedback", setting))}


def verdict(metric, mean, lo, hi, bound):
  """'met beyond seed noise' (the interval clears the bound), 'met on the mean, not beyond seed noise', 'missed', or
  with one seed (no interval) 'met, no interval (one seed)'."""
  better = (lambda x: x <= bound) if metric in LOWER_IS_BETTER else (lambda x: x >= bound)
  if not better(mean):
    return "missed"
  if not np.isfinite(lo):
    return "met, no interval (one seed)"
  return "met beyond seed noise" if better(lo) and better(hi) else "met on the mean, not beyond seed noise"


def summarize(per_seed, goal, baseline=None):
  """The claim of {seed: score_seed(...)}: mean and interval per metric with its verdict, and the two families of
  seed-paired differences (`jaxir.report.stats.diff_test`, Holm over the four numbers)."""
  from jaxir.report import stats
  seeds = sorted(per_seed)
  out = {"seeds": seeds, "feedback": {}, "plain": {}, "feedback - plain": {}}
  for part in ("feedback", "plain"):
    for m in METRICS:
      mean, lo, hi = stats.t_interval([per_seed[s][part][m] for s in seeds])
      out[part][m] = {"mean": mean, "low": lo, "high": hi}
      if part == "feedback":
        out[part][m]["verdict"] = verdict(m, mean, lo, hi, goal[m])

  def family(diffs):
    tests = {m: stats.diff_test(d) for m, d in diffs.items()}
    adj = stats.holm_finite([tests[m][3] for m in METRICS])
    return {m: {"diff": t[0], "low": t[1], "high": t[2], "p_holm": float(a), "n": t[4]}
            for (m, t), a in zip(tests.items(), adj)}

  out["feedback - plain"] = family({m: [per_seed[s]["feedback"][m] - per_seed[s]["plain"][m] for s in seeds]
                                    for m in METRICS})
  if baseline is not None:
    path, config, base = baseline
    shared = [s for s in seeds if s in base and "xquad-r" in base[s]]
    out["baseline"] = {"file": str(path), "config": config, "seeds": shared}
    out["feedback - baseline"] = family({m: [per_seed[s]["feedback"][m] - base[s]["xquad-r"][m] for s in shared]
                                         for m in METRICS})
  return out


def table(per_seed, result, goal, name):
  """The markdown rows of the result (docs/results/best's shape)."""
  fmt = lambda m, v: "—" if not np.isfinite(v) else f"{v:.1f}" if m == "RD" else f"{v:.2f}"
  half = lambda r: (r["high"] - r["mean"]) if np.isfinite(r["high"]) else float("nan")
  rows = ["| seed | " + " | ".join(f"{m} plain → {name}" for m in METRICS) + " |", "|---" * 5 + "|"]
  for s in result["seeds"]:
    rows.append(f"| {s} | " + " | ".join(f"{fmt(m, per_seed[s]['plain'][m])} → {fmt(m, per_seed[s]['feedback'][m])}"
                                         for m in METRICS) + " |")
  rows.append("| **mean, feedback** | " + " | ".join(
      f"**{fmt(m, result['feedback'][m]['mean'])} ± {fmt(m, half(result['feedback'][m]))}**" for m in METRICS) + " |")
  rows.append("| verdict (goal " + ", ".join(f"{m} {'≤' if m in LOWER_IS_BETTER else '≥'} {goal[m]:g}" for m in METRICS)
              + ") | " + " | ".join(result["feedback"][m]["verdict"] for m in METRICS) + " |")
  for fam in ("feedback - plain", "feedback - baseline"):
    if fam in result:
      label = fam if fam == "feedback - plain" else f"feedback − {result['baseline']['config']}, same seed"
      rows.append(f"| {label.replace(' - ', ' − ')} | " + " | ".join(
          f"{d['diff']:+.2f} [{d['low']:+.2f}, {d['high']:+.2f}], p {d['p_holm']:.3g} (n {d['n']})"
          if np.isfinite(d["high"]) else f"{d['diff']:+.2f} (n {d['n']}: no interval)"
          for d in (result[fam][m] for m in METRICS)) + " |")
  return rows


def check_out(path, force=False):
  """Refuses, before any work, an --out that exists and is not this tool's earlier output (unless `force`)."""
  from pathlib import Path
  path = Path(path)
  if force or not (path.exists() or path.is_symlink()):
    return
  try:
    mine = path.is_file() and {"per_seed", "setting", "config"} <= set(json.loads(path.read_text()))
  except (ValueError, TypeError, UnicodeDecodeError):
    mine = False
  if not mine:
    raise JaxirError(f"--out {path} exists and is not an earlier prf_seeds result; refusing to replace it: "
                     "choose another file, or pass --force")


def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("sweep", help="the sweep directory (runs/sweep-best)")
  ap.add_argument("--config", required=True, help="the cells CONFIG_s<seed>, e.g. hybrid_a0.5_w0.75")
  ap.add_argument("--setting", required=True, help="the K:W chosen on the dev split (tools/prf.py)")
  ap.add_argument("--goal", default="80,71,60,285", help="bounds Mo,Cr,Mul,RD (default: the issue's)")
  ap.add_argument("--baseline", help="FILE.yaml:CONFIG, another recipe's recorded cells, seed-paired")
  ap.add_argument("--out", help="also write the result as JSON here (atomically)")
  ap.add_argument("--force", action="store_true", help="with --out: replace the file even if this tool did not write it")
  a = ap.parse_args(argv)
  setting = feedback.parse(a.setting)
  if setting[1] == 0:
    raise JaxirError(f"--setting {a.setting}: w = 0 is plain retrieval, not feedback")
  goal = parse_goal(a.goal)
  if a.out:
    check_out(a.out, a.force)
  baseline = None
  if a.baseline:
    from jaxir.report import baseline as baseline_lib
    baseline = baseline_lib.read(a.baseline)
  cells, unfinished = seed_cells(a.sweep, a.config)
  if unfinished:
    print(f"left out, unfinished: {', '.join(unfinished)}", flush=True)
  per_seed = {}
  for s, d in cells.items():
    per_seed[s] = score_seed(d, setting)
    print(f"seed {s}: " + "  ".join(f"{m} {per_seed[s]['plain'][m]:.2f} -> {per_seed[s]['feedback'][m]:.2f}"
                                     for m in METRICS), flush=True)
  result = summarize(per_seed, goal, baseline)
  result.update({"config": a.config, "setting": list(setting), "goal": goal,
                 "per_seed": {str(s): v for s, v in per_seed.items()}})
  print("\n".join(table(per_seed, result, goal, feedback.name(setting))))
  if len(per_seed) < 3:
    print(f"{len(per_seed)} seed(s): the rule counts the goal on 3 seeds; this is not yet the claim", flush=True)
  if a.out:
    from jaxir import storage
    storage.write_json(a.out, storage.json_safe(result))    # one seed: no interval, null
  print(json.dumps(result))


if __name__ == "__main__":
  try:
    main()
  except JaxirError as e:
    sys.exit(f"prf_seeds: error: {e}")

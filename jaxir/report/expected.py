"""Expected scores of a sweep, kept beside its preset like pyserini's two-click-reproduction YAML.

  jaxir expected write SWEEP_DIR FILE   records every finished cell's headline scores
  jaxir expected check SWEEP_DIR FILE   compares a sweep (a rerun, another machine) against them

`write` over an expected-scores file recorded with the same options keeps the cells it records that the sweep
has not finished (a sweep run in pieces, on machines that do not keep each other's runs, adds up in one file);
the sweep's finished cells replace their records. A file recorded with other options is refused (`--force`
replaces it), so a record is never lost without being asked for.

Scores (x 100 where a fraction; RD in ranks): per LAReQA benchmark Mo, Cr, Mul and RD; per benchmark
beyond LAReQA the report's headline metrics (`jaxir.report.beyond.metrics`). A score is within
tolerance when |ours - expected| <= abs + rel * |expected|, with `abs` / `rel` per cell kind from the
file's `tolerance` section: the untrained model only sees floating-point reordering, a trained cell
carries it through every step. `check` prints every score out of tolerance and every expected cell
or score the sweep does not have, and returns 1 when there is any; 0 when all agree. The file also
records the options the scores depend on (the train config but paths, logging and device layout;
each benchmark's result options): a sweep run with others is refused with one line, not compared.
"""
import math
import time
from pathlib import Path

import yaml

from jaxir import config as config_lib, schema, storage
from jaxir.errors import JaxirError, some
from jaxir.report import beyond
from jaxir.report.load import CellResult, SweepResults, load_sweep
from jaxir.sweep import spec as spec_lib

LAREQA_SCORES = (("Mo", 100.0), ("Cr", 100.0), ("Mul", 100.0), ("RD", 1.0))
# Defaults written into a new file; measured only as exact reruns on one 2-core CPU (see a file's note).
TOLERANCE = {"zero-shot": {"abs": 0.05, "rel": 0.001}, "train": {"abs": 0.5, "rel": 0.01}}
# Train options that say where things live, how often to log or how to lay out devices, not what is learned.
NOT_RESULTS = ("data_dir", "log_every", "checkpoint_every", "keep_checkpoints", "eval_every", "prefetch", "mesh")


def tolerance(doc):
  """The tolerances of an expected-scores document: the defaults, overridden per cell kind by its `tolerance`."""
  return {**TOLERANCE, **((doc or {}).get("tolerance") or {})}


def _strip(d):
  return {k: _strip(v) if isinstance(v, dict) else v for k, v in d.items() if k not in NOT_RESULTS}


def options(spec):
  """The options a sweep's scores depend on: its train config and each benchmark's result options."""
  train = _strip(spec["train"])
  ev = spec["eval"]
  return {"train": train, "eval": {b: spec_lib.result_options(ev, b) for b in ev["benchmarks"]}}


def differing_options(recorded, mine):
  """The option keys whose recorded value `mine` does not have: the train config, and the result options
  of each benchmark the file records (the sweep may evaluate more benchmarks than it)."""
  changed = spec_lib.differing(recorded["train"], mine["train"])
  return changed + [k for b, opts in recorded["eval"].items() for k in opts if opts[k] != mine["eval"].get(b, {}).get(k)]


def cell_scores(cell):
  """{benchmark: {score name: value}} of a finished cell (values rounded as recorded)."""
  out = {}
  for bench, summary in cell.summaries.items():
    if bench in spec_lib.LAREQA:
      scores = {k: summary.get(k) * scale for k, scale in LAREQA_SCORES if summary.get(k) is not None}
    else:
      scores = {m.name: m.get(summary) * 100.0 for m in beyond.metrics(bench, [summary]) if m.get(summary) is not None}
    out[bench] = {k: round(float(v), 3) for k, v in scores.items() if math.isfinite(v)}
  return out


def is_expected_file(path):
  """Whether the file `path` is an expected-scores file (a YAML mapping with `sweep` and a `cells` mapping)."""
  try:
    doc = storage.read_yaml(path, "expected-scores file")
  except JaxirError:
    return False
  return isinstance(doc, dict) and "sweep" in doc and isinstance(doc.get("cells"), dict)


def write(sweep_dir, path, note=None, force=False):
  """Writes the finished cells' scores of `sweep_dir` to `path`; returns (cells written from the sweep, recorded
  cells kept). An existing `path` is replaced only when it is empty or an expected-scores file, or with `force`;
  an expected-scores file keeps its cells the sweep has not finished, and must record the sweep's options."""
  path = Path(path)
  if path.is_dir():
    raise JaxirError(f"{path} is a directory, not an expected-scores file")
  old = None
  if not force and path.exists() and path.stat().st_size:
    if not is_expected_file(path):
      raise JaxirError(f"{path} exists and is not an expected-scores file (no `sweep` / `cells` keys); refusing to"
                       " overwrite it: choose another FILE, or pass --force to replace it")
    old = read(path)
  res = load_sweep(sweep_dir)
  opts = options(res.spec)
  cells = {c.name: {"kind": c.kind, **cell_scores(c)} for c in res.cells}
  kept = {}
  if old is not None:
    changed = differing_options(old["options"], opts) if old.get("options") else []
    if changed:
      raise JaxirError(f"{path} records cells run with other options than {res.dir} (differs in {some(changed, 4)});"
                       " refusing to mix them: choose another FILE, or pass --force to replace it")
    kept = {k: v for k, v in old["cells"].items() if k not in cells}
  rank = {name: i for i, name in enumerate(res.order)}     # grid order; recorded cells the grid lacks go last
  merged = dict(sorted({**kept, **cells}.items(), key=lambda kv: rank.get(kv[0], len(rank))))
  doc = {
      "sweep": str(res.dir),
      "written": time.strftime("%Y-%m-%d"),
      "note": note or (old or {}).get("note") or "measured on this machine; rerun `jaxir expected check` on yours",
      "unfinished": [name for name in res.missing if name not in kept],
      "tolerance": tolerance(old),
      "options": opts,
      "cells": merged,
  }
  header = (f"# Expected scores of the sweep {res.dir} ({len(merged)} finished cells), written by\n"
            f"# `jaxir expected write`. Check a rerun: jaxir expected check SWEEP_DIR {path}\n")
  storage.write_text(path, header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
  return len(cells), len(kept)


def read(path):
  doc = storage.read_yaml(path, "expected-scores file")
  if not isinstance(doc, dict) or not isinstance(doc.get("cells"), dict) or not doc["cells"]:
    raise JaxirError(f"{path} is not an expected-scores file (no `cells` mapping); write one with `jaxir expected write`")
  return doc


_TRAIN_SHOWN = ("model.name", "steps", "batch.batch_size", "optim.learning_rate", "model.freeze_embeddings",
                "data.source", "data.dev_fraction")


def as_results(path):
  """The record `path` read as the report reads a sweep (`jaxir report FILE`): a `SweepResults` whose cells carry
  their recorded LAReQA scores (fractions again, as summary.json has them) and nothing else, grid and options
  rebuilt from the record, `recorded` set to `path`. Cells are placed by their names (`parse_cell_name`); the
  benchmarks beyond LAReQA are left out (their records hold the headline metrics only)."""
  doc = read(path)
  opts = doc.get("options")
  if not isinstance(opts, dict) or not isinstance(opts.get("train"), dict) or not isinstance(opts.get("eval"), dict):
    raise JaxirError(f"{path} records no options (an older record): rewrite it with `jaxir expected write`")
  train = opts["train"]
  recorded = config_lib.flat(train)
  lacking = [f"train.{k}" for k in _TRAIN_SHOWN if recorded.get(k) is None]    # what the introduction states
  if lacking:
    raise JaxirError(f"{path}: its options record no {some(lacking, 4)}; rewrite it with `jaxir expected write`")
  benches = [b for b in opts["eval"] if b in spec_lib.LAREQA]
  if not benches:
    raise JaxirError(f"{path} records no LAReQA benchmark ({', '.join(spec_lib.LAREQA)}): nothing to report")
  model = str(train["model"]["name"])
  cells, unknown = [], []
  for name, rec in doc["cells"].items():
    parsed = spec_lib.parse_cell_name(name)
    if parsed is None or not isinstance(rec, dict):
      unknown.append(name)
      continue
    tag, fields = parsed
    if rec.get("kind", fields["kind"]) != fields["kind"]:
      raise JaxirError(f"{path}: cell {name} is recorded as kind {rec.get('kind')!r}, but its name is a "
                       f"{fields['kind']} cell's")
    if tag is not None:
      raise JaxirError(f"{path}: cell {name} belongs to one of several grid models; a record keeps one model's "
                       "options, so report the sweep directory instead")
    summaries = {}                       # a benchmark or score the cell was not evaluated on: None, drawn as "–"
    for b in benches:
      scores = rec.get(b) or {}
      schema.check(scores, dict, f"{path}: cell {name} {b}")
      summaries[b] = {k: _recorded_number(scores.get(k), f"{path}: cell {name} {b} {k}", scale)
                      for k, scale in LAREQA_SCORES}
    cells.append(CellResult(name, fields["kind"], model, fields.get("batch_type"), fields.get("alpha"),
                            fields.get("seed"), None, [], summaries, fields.get("wise")))
  if unknown:
    raise JaxirError(f"{path}: cell names {some(unknown, 4)} are not a sweep's (zero-shot or "
                     "<batch type>_a<α>[_w<λ>]_s<seed>)")
  trained = [c for c in cells if c.kind != "zero-shot"]
  if not trained:
    raise JaxirError(f"{path} records no trained cell: nothing to draw against α")
  types = list(dict.fromkeys(c.batch_type for c in trained))
  alphas = {bt: sorted({c.alpha for c in trained if c.batch_type == bt}) for bt in types}
  union = sorted({a for a_s in alphas.values() for a in a_s})
  grid = {"models": [model], "batch_types": types, "alphas": union, "seeds": sorted({c.seed for c in trained}),
          "alphas_by_type": {bt: a for bt, a in alphas.items() if a != union},
          "wise": sorted({c.wise for c in trained if c.wise is not None}),
          "zero_shot": any(c.kind == "zero-shot" for c in cells)}
  first = opts["eval"][benches[0]]
  spec = {"train": train, "grid": grid, "eval": {"benchmarks": benches, "langs": first.get("eval.langs"),
                                                 "max_articles": first.get("eval.max_articles"),
                                                 "left_out": [b for b in opts["eval"] if b not in benches]},
          "note": doc.get("note")}
  return SweepResults(Path(str(doc.get("sweep") or Path(path).stem)), spec, cells, list(doc.get("unfinished") or []),
                      benches, [], list(doc["cells"]), recorded=str(path))


def _recorded_number(value, where, scale):
  """A recorded score as summary.json has it (divided by `scale`), None where none was recorded; a value that
  is not a number, or not finite, is one line."""
  if schema.check(value, (float, None), where) is None:
    return None
  if not math.isfinite(value):
    raise JaxirError(f"{where}: {value} is not finite")
  return value / scale


def check(sweep_dir, path, stream):
  """(number of scores compared, list of problems); prints one line per problem and a summary to `stream`."""
  doc = read(path)
  tol = tolerance(doc)
  res = load_sweep(sweep_dir)
  if doc.get("options"):
    changed = differing_options(doc["options"], options(res.spec))
    if changed:
      raise JaxirError(f"{res.dir} was run with other options than {path} records (differs in "
                       f"{some(changed, 4)}); its scores are not comparable")
  ours = {c.name: c for c in res.cells}
  problems, compared = [], 0
  for name, expected in doc["cells"].items():
    if name not in ours:
      problems.append(f"{name}: not finished in {res.dir}")
      continue
    t = tol.get(expected.get("kind", ours[name].kind)) or TOLERANCE["train"]
    got = cell_scores(ours[name])
    for bench, scores in expected.items():
      if bench == "kind":
        continue
      for score, want in scores.items():
        have = got.get(bench, {}).get(score)
        if have is None:
          problems.append(f"{name} {bench} {score}: expected {want}, the sweep has none")
          continue
        compared += 1
        if abs(have - want) > t["abs"] + t["rel"] * abs(want):
          problems.append(f"{name} {bench} {score}: {have:.3f}, expected {want:.3f} "
                          f"(Δ {have - want:+.3f}; tolerance {t['abs']} + {t['rel']}×|expected|)")
  for line in problems:
    print(line, file=stream)
  verdict = "all within tolerance" if not problems else f"{len(problems)} out of tolerance or missing"
  print(f"expected: {compared} scores of {len(doc['cells'])} cells compared with {path}: {verdict}", file=stream)
  return compared, problems

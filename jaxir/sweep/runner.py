"""The sweep directory and its run: `sweep.json` first, then every unfinished cell in grid order.

  SWEEP/sweep.json      format version, the resolved spec (train / grid / eval) and the cell list,
                        written at the start; a rerun must bring the same spec, except that it may
                        add benchmarks (then sweep.json takes the new list, under `benchmarks_added`)
                        and grow the grid (more alphas, seeds, batch types: `cells_added`)
  SWEEP/cells/<name>/   one directory per cell (see `jaxir.sweep.cell`)

A rerun skips finished cells (`cell.json` and every summary present) and resumes the others; a
rerun that adds a benchmark evaluates just that one in every cell (trained models are kept); a
rerun with a grown grid (`grid.seeds=5`, `grid.batch_types=[hybrid,mixed]`) runs just the new
cells, since a cell's results depend on the train config, its own alpha / seed / batch type and
the eval options, never on the rest of the grid. A directory of another format version, another
training, a grid that would drop a cell, fewer benchmarks, or other options for a benchmark it
has already run is refused before anything is written.
Each cell is run under its lock (`jaxir.sweep.lock`): processes that share the directory split the
grid, each skipping the cells another holds; `--cells` (`select`) picks cells and their order.
Cells share a persistent XLA compilation cache (`SWEEP/.jax_cache`, unless one is configured; for a gs://
sweep, one in this host's temporary directory; at most 8 GiB, file-locked):
every training cell compiles the same step, so only the first pays for it.
"""
import fnmatch
import json
import sys
import time
from pathlib import Path

from jaxir import backends, storage
from jaxir.errors import JaxirError, some
from jaxir.sweep import cell as cell_lib
from jaxir.sweep import lock
from jaxir.sweep import reuse
from jaxir.sweep import spec as spec_lib
from jaxir.sweep.progress import Progress

def open_sweep_dir(out, spec, cells):
  """Creates `out/sweep.json`, or checks that the one there describes this sweep."""
  out = storage.as_path(out)
  record = {"format": spec_lib.FORMAT, "spec": spec.to_json(), "cells": [c.to_json() for c in cells]}
  record = json.loads(json.dumps(record))
  path = out / "sweep.json"
  if path.exists():
    old = storage.read_json(path, "sweep record")
    if old.get("format") != spec_lib.FORMAT:
      raise JaxirError(f"{out} was written by an incompatible jaxir sweep (format {old.get('format')!r}, "
                       f"this version reads {spec_lib.FORMAT!r}); use another out_dir")
    if old.get("spec") != record["spec"] or old.get("cells") != record["cells"]:
      return _extend(path, old, record)
    return old
  if out.exists() and any(out.iterdir()):
    raise JaxirError(f"{out} exists and is not a jaxir sweep directory (no sweep.json); choose another out_dir")
  record["created"] = time.strftime("%Y-%m-%dT%H:%M:%S")
  storage.write_json(path, record)
  return record


def _refuse(out, what, detail, advice="use another out_dir, or the same config to resume it"):
  return JaxirError(f"{out} holds a sweep with a different {what} ({detail}); {advice}")


def _extend(path, old, record):
  """The sweep of `old` with the benchmarks and cells `record` adds (sweep.json rewritten); JaxirError for
  any other change."""
  out = path.parent
  old_spec, new_spec = old.get("spec") or {}, record["spec"]
  changed = spec_lib.differing({k: v for k, v in old_spec.items() if k != "eval"},
                               {k: v for k, v in new_spec.items() if k != "eval"})
  other = [k for k in changed if not k.startswith("grid.")]
  if other:
    raise _refuse(out, "config", f"differs in {', '.join(other[:5])}")
  new_cells = {c["name"]: c for c in record["cells"]}
  dropped = [c["name"] for c in old.get("cells") or [] if new_cells.get(c["name"]) != c]
  if dropped:
    raise _refuse(out, "grid", f"differs in {', '.join(changed[:5]) or 'cells'}; it would drop "
                  f"{some(dropped)}",
                  "a grid can grow (more alphas, seeds, batch types); use another out_dir for a smaller one")
  old_eval, new_eval = old_spec.get("eval") or {}, new_spec["eval"]
  dropped = [bench for bench in old_eval.get("benchmarks", []) if bench not in new_eval["benchmarks"]]
  if dropped:
    raise _refuse(out, "config", f"eval.benchmarks drops {', '.join(dropped)}: benchmarks can be added to a sweep, "
                  "not removed", "use another out_dir, or keep them in eval.benchmarks")
  changed = [] if old_eval.get("tokens_per_batch") == new_eval["tokens_per_batch"] else ["eval.tokens_per_batch"]
  for bench in old_eval.get("benchmarks", []):
    x, y = spec_lib.result_options(old_eval, bench), spec_lib.result_options(new_eval, bench)
    changed += [k for k in x if x[k] != y.get(k) and k not in changed]
  if changed:
    raise _refuse(out, "config", f"differs in {', '.join(changed[:5])}, which results it holds depend on")
  added = [bench for bench in new_eval["benchmarks"] if bench not in old_eval.get("benchmarks", [])]
  held = {c["name"] for c in old.get("cells") or []}
  grown = [c["name"] for c in record["cells"] if c["name"] not in held]
  new = {**old, "spec": new_spec, "cells": record["cells"]}
  now = time.strftime("%Y-%m-%dT%H:%M:%S")
  if added:
    new["benchmarks_added"] = old.get("benchmarks_added", []) + [{"benchmarks": added, "at": now}]
  if grown:
    new["cells_added"] = old.get("cells_added", []) + [{"cells": grown, "at": now}]
  storage.write_json(path, new)
  return new


def select(cells, patterns):
  """The cells whose names match `patterns` (fnmatch globs), in the patterns' order and each pattern's
  matches in grid order; JaxirError for a pattern that matches no cell."""
  chosen = []
  for pattern in patterns:
    hits = [c for c in cells if fnmatch.fnmatchcase(c.name, pattern)]
    if not hits:
      raise JaxirError(f"--cells {pattern!r} matches no cell of this grid ({some([c.name for c in cells], 6)}); `jaxir sweep --list` prints them")
    chosen += [c for c in hits if c not in chosen]
  return chosen


def preflight(spec, out, cells, ctx):
  """What each training cell still to train would check before its run directory exists (the data,
  its batches, the devices, the model's positions), checked before sweep.json: a setting that fails
  there must not leave a sweep that refuses the corrected config."""
  from jaxir.model.config import EncoderConfig
  from jaxir.train import trainer
  if spec.models_from:
    return
  for cell in cells:
    run_dir = out / "cells" / cell.name / "train"
    if cell.kind != "train" or (run_dir / "run.json").exists():
      continue
    cfg = spec.train_config(cell, storage.absolute(run_dir))
    try:
      trainer.load_checked(cfg, ctx.pairs)
      model_json = Path(cfg.model.name) / "config.json"
      if model_json.is_file():
        trainer.check_model(cfg, EncoderConfig.from_hf(storage.read_json(model_json, "model config")))
    except JaxirError as e:
      raise JaxirError(f"cell {cell.name}: {e}") from None


def run_sweep(spec, progress=True, verbose=False, stream=None, only=None):
  """Runs every unfinished cell of `spec` (or of those `only` selects, see `select`) that no other
  process holds; returns (sweep directory, {cell: 'skipped' | 'ran' | 'busy'})."""
  out = storage.as_path(spec.out_dir)
  lock.check(out)                       # gs://: google-cloud-storage is there for the cell locks
  cells = spec.cells()
  todo = select(cells, only) if only else cells
  ctx = cell_lib.Context(spec)
  preflight(spec, out, todo, ctx)
  open_sweep_dir(out, spec, cells)
  display = Progress(todo, stream=stream or sys.stderr, enabled=progress)
  status = {}
  for cell in todo:           # finished cells first, so that the progress line counts them from the start
    cdir = out / "cells" / cell.name
    if (not spec.models_from and cell_lib.is_finished(cdir, spec.eval.benchmarks)
        and not (cell.kind == "wise" and cell_lib.wise_is_stale(cell, cdir, spec))):
      status[cell.name] = _skip(cell, cdir, display)       # no lock needed to read a finished cell
  with backends.compilation_cache(_cache_dir(out)):
    for cell in [c for c in todo if c.name not in status]:
      cdir = out / "cells" / cell.name
      holder = lock.acquire(cdir)
      if holder is not None:
        display.busy(cell, lock.describe(holder, cdir / lock.NAME))
        status[cell.name] = "busy"
        continue
      try:
        status[cell.name] = _run_cell(cell, cdir, spec, ctx, display, verbose)
      finally:
        lock.release(cdir)
  display.finish()
  return out, status


def _cache_dir(out):
  """The compilation cache of a sweep in `out`: SWEEP/.jax_cache; for a gs:// sweep a local one (the cache
  is an optimisation of this host, and XLA's cache writes files in place)."""
  if storage.is_cloud(out):
    import tempfile
    return Path(tempfile.gettempdir()) / "jaxir-jax-cache"
  return out.absolute() / ".jax_cache"


def _run_cell(cell, cdir, spec, ctx, display, verbose):
  if spec.models_from and cell.kind == "train" and reuse.retrained(spec, cell, cdir):
    print(f"sweep: {cell.name}: {spec.models_from} retrained this model since it was evaluated; "
          "evaluating it again", file=sys.stderr)
    cell_lib.forget_evaluations(cdir)
  if cell.kind == "wise" and cell_lib.wise_is_stale(cell, cdir, spec):
    print(f"sweep: {cell.name}: {cell.trained} was retrained since this cell interpolated its model; "
          "making and evaluating it again", file=sys.stderr)
    cell_lib.forget_evaluations(cdir)
  if cell_lib.is_finished(cdir, spec.eval.benchmarks):     # perhaps by another process meanwhile
    return _skip(cell, cdir, display)
  display.start(cell)
  t0 = time.monotonic()
  try:
    cell_lib.run_cell(cell, cdir, ctx, verbose=verbose)
  except JaxirError:                   # e.g. its training diverged: no cell.json, the sweep stops here
    display.fail(cell, time.monotonic() - t0)
    raise
  display.done(cell, time.monotonic() - t0)
  return "ran"


def _skip(cell, cdir, display):
  display.skip(cell, storage.read_json(cdir / "cell.json", "cell record").get("seconds"))
  return "skipped"

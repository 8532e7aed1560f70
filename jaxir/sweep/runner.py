"""The sweep directory and its run: `sweep.json` first, then every unfinished cell in grid order.

  SWEEP/sweep.json      format version, the resolved spec (train / grid / eval) and the cell list,
                        written once at the start; a rerun must bring the same spec
  SWEEP/cells/<name>/   one directory per cell (see `jaxir.sweep.cell`)

A rerun skips finished cells (`cell.json` and every summary present) and resumes the others.
A directory of another format version or another grid is refused before anything is written.
Cells share a persistent XLA compilation cache (`SWEEP/.jax_cache`, unless one is configured):
every training cell compiles the same step, so only the first pays for it.
"""
import contextlib
import json
import sys
import time
from pathlib import Path

from jaxir import io
from jaxir.errors import JaxirError
from jaxir.sweep import cell as cell_lib
from jaxir.sweep import spec as spec_lib
from jaxir.sweep.progress import Progress


def _flat(d, prefix=""):
  out = {}
  for k, v in d.items():
    if isinstance(v, dict) and v:
      out.update(_flat(v, f"{prefix}{k}."))
    else:
      out[f"{prefix}{k}"] = v
  return out


def open_sweep_dir(out, spec, cells):
  """Creates `out/sweep.json`, or checks that the one there describes this sweep."""
  out = Path(out)
  record = {"format": spec_lib.FORMAT, "spec": spec.to_json(), "cells": [c.to_json() for c in cells]}
  record = json.loads(json.dumps(record))
  path = out / "sweep.json"
  if path.exists():
    old = io.read_json(path, "sweep record")
    if old.get("format") != spec_lib.FORMAT:
      raise JaxirError(f"{out} was written by an incompatible jaxir sweep (format {old.get('format')!r}, "
                       f"this version reads {spec_lib.FORMAT!r}); use another out_dir")
    if old.get("spec") != record["spec"] or old.get("cells") != record["cells"]:
      a, b = _flat(old.get("spec") or {}), _flat(record["spec"])
      changed = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k)) or ["cells"]
      what = "grid" if any(k.startswith("grid.") for k in changed) else "config"
      raise JaxirError(f"{out} holds a sweep with a different {what} (differs in {', '.join(changed[:5])}); "
                       "use another out_dir, or the same config to resume it")
    return old
  if out.exists() and any(out.iterdir()):
    raise JaxirError(f"{out} exists and is not a jaxir sweep directory (no sweep.json); choose another out_dir")
  record["created"] = time.strftime("%Y-%m-%dT%H:%M:%S")
  io.write_json(path, record)
  return record


@contextlib.contextmanager
def compilation_cache(path):
  """Points JAX's persistent compilation cache at `path` for the block (unless the user set one)."""
  import jax
  from jax.experimental.compilation_cache import compilation_cache as cc
  if jax.config.jax_compilation_cache_dir:
    yield
    return
  min_time = jax.config.jax_persistent_cache_min_compile_time_secs
  cc.set_cache_dir(str(path))
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)   # the encoder's many small shapes too
  cc.reset_cache()
  try:
    yield
  finally:
    cc.set_cache_dir(None)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", min_time)
    cc.reset_cache()


def run_sweep(spec, progress=True, verbose=False, stream=None):
  """Runs every unfinished cell of `spec`; returns (sweep directory, {cell: 'skipped' | 'ran'})."""
  out = Path(spec.out_dir)
  cells = spec.cells()
  open_sweep_dir(out, spec, cells)
  display = Progress(cells, stream=stream or sys.stderr, enabled=progress)
  ctx = cell_lib.Context(spec)
  status = {}
  with compilation_cache(out.absolute() / ".jax_cache"):
    _run_cells(cells, out, spec, ctx, display, status, verbose)
  display.finish()
  return out, status


def _run_cells(cells, out, spec, ctx, display, status, verbose):
  for cell in cells:
    cdir = out / "cells" / cell.name
    if cell_lib.is_finished(cdir, spec.eval.benchmarks):
      display.skip(cell, io.read_json(cdir / "cell.json", "cell record").get("seconds"))
      status[cell.name] = "skipped"
      continue
    display.start(cell)
    t0 = time.monotonic()
    cell_lib.run_cell(cell, cdir, ctx, verbose=verbose)
    display.done(cell, time.monotonic() - t0)
    status[cell.name] = "ran"

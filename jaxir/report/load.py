"""A sweep directory as the report reads it: its spec, its finished cells, their evaluations.

Only finished cells count (`cell.json` and every LAReQA benchmark's `summary.json`, each written
last); a cell still running or killed is listed as missing, never half-read. The benchmarks beyond
LAReQA (tatoeba, beir, miracl, xnli) are read where their summary.json exists: a sweep they were
added to may hold cells that do not have them yet.
"""
import dataclasses
from pathlib import Path

import numpy as np

from jaxir import io
from jaxir.errors import JaxirError
from jaxir.sweep import spec as spec_lib
from jaxir.sweep.cell import is_finished


@dataclasses.dataclass
class CellResult:
  name: str
  kind: str                 # "train" | "zero-shot"
  model: str
  batch_type: str | None
  alpha: float | None
  seed: int | None
  dir: Path
  train_langs: list
  summaries: dict           # benchmark -> summary.json

  @property
  def series(self):
    """(model, batch_type): the cells that form one curve over alpha."""
    return (self.model, self.batch_type)

  def per_query(self, bench):
    with np.load(self.dir / "eval" / bench / "per_query.npz") as z:
      return {k: z[k] for k in z.files}


@dataclasses.dataclass
class SweepResults:
  dir: Path
  spec: dict
  cells: list               # finished CellResults, in grid order
  missing: list             # names of unfinished cells
  benchmarks: list          # the LAReQA benchmarks (xquad-r, mlqa-r-dev) every listed cell has
  extras: list = dataclasses.field(default_factory=list)   # tatoeba / beir / miracl / xnli, where present

  @property
  def trained(self):
    return [c for c in self.cells if c.kind == "train"]

  def series(self):
    """Ordered series (model, batch_type) with their trained cells."""
    out = {}
    for c in self.trained:
      out.setdefault(c.series, []).append(c)
    return out

  def zero_shot(self, model):
    return next((c for c in self.cells if c.kind == "zero-shot" and c.model == model), None)


def load_sweep(sweep_dir):
  sweep_dir = Path(sweep_dir)
  if not (sweep_dir / "sweep.json").is_file():
    raise JaxirError(f"{sweep_dir} is not a sweep directory (no sweep.json); run `jaxir sweep` first")
  record = io.read_json(sweep_dir / "sweep.json", "sweep record")
  if record.get("format") != spec_lib.FORMAT:
    raise JaxirError(f"{sweep_dir} was written by an incompatible jaxir sweep (format {record.get('format')!r}, "
                     f"this version reads {spec_lib.FORMAT!r})")
  requested = list(record["spec"]["eval"]["benchmarks"])
  benchmarks = [b for b in requested if b in spec_lib.LAREQA]
  extras = [b for b in requested if b not in spec_lib.LAREQA]
  cells, missing = [], []
  for c in record["cells"]:
    cdir = sweep_dir / "cells" / c["name"]
    if not is_finished(cdir, benchmarks):
      missing.append(c["name"])
      continue
    info = io.read_json(cdir / "cell.json", "cell record")
    present = benchmarks + [b for b in extras if (cdir / "eval" / b / "summary.json").is_file()]
    summaries = {b: io.read_json(cdir / "eval" / b / "summary.json", "summary") for b in present}
    cells.append(CellResult(c["name"], c["kind"], c["model"], c.get("batch_type"), c.get("alpha"), c.get("seed"),
                            cdir, list(info.get("train_langs") or []), summaries))
  if not cells:
    raise JaxirError(f"{sweep_dir} has no finished cell yet ({len(missing)} unfinished); run or resume "
                     "`jaxir sweep` first")
  return SweepResults(sweep_dir, record["spec"], cells, missing, benchmarks, extras)

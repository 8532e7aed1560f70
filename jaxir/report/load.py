"""A sweep directory as the report reads it: its spec, its finished cells, their evaluations.

Only finished cells count (`cell.json` and every LAReQA benchmark's `summary.json`, each written
last); a cell still running or killed is listed as missing, never half-read. The benchmarks beyond
LAReQA (the sets benchmarks of `jaxir.benchmarks`: tatoeba, beir, ...) are read where their summary.json exists: a sweep they were
added to may hold cells that do not have them yet.
"""
import dataclasses
from pathlib import Path

import numpy as np

from jaxir import benchmarks, schema, storage
from jaxir.errors import JaxirError
from jaxir.sweep import spec as spec_lib
from jaxir.sweep.cell import damaged, is_finished


@dataclasses.dataclass
class CellResult:
  name: str
  kind: str                 # "train" | "zero-shot" | "wise"
  model: str
  batch_type: str | None
  alpha: float | None
  seed: int | None
  dir: Path
  train_langs: list
  summaries: dict           # benchmark -> summary.json
  wise: float | None = None # a "wise" cell's λ: (1 − λ)·untrained + λ·trained

  @property
  def series(self):
    """(model, batch_type): the cells that form one curve over alpha; a weight-interpolated cell's batch type
    carries its λ (`hybrid_wise0.75`), so each λ is a curve of its own."""
    return (self.model, self.batch_type if self.wise is None else f"{self.batch_type}_wise{self.wise:g}")

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
  beyond: list = dataclasses.field(default_factory=list)   # the sets benchmarks (tatoeba, beir, ...), where present
  order: list = dataclasses.field(default_factory=list)    # every cell name of the grid, finished or not, in grid order
  recorded: str | None = None # an expected-scores file when read from one (`expected.as_results`): scores only

  @property
  def trained(self):
    """The cells of a curve over alpha: trained models and their weight interpolations."""
    return [c for c in self.cells if c.kind in ("train", "wise")]

  def series(self):
    """Ordered series (model, batch_type) with their cells (`CellResult.series`)."""
    out = {}
    for c in self.trained:
      out.setdefault(c.series, []).append(c)
    return out

  def zero_shot(self, model):
    return next((c for c in self.cells if c.kind == "zero-shot" and c.model == model), None)


REPORT_CLOUD = ("it reads a sweep's files in place; copy the sweep first, e.g. `gcloud storage cp -r URI .`, and "
                "report the copy")


def load_sweep(sweep_dir):
  sweep_dir = storage.local_only(sweep_dir, "jaxir report", REPORT_CLOUD)
  if not (sweep_dir / "sweep.json").is_file():
    raise JaxirError(f"{sweep_dir} is not a sweep directory (no sweep.json); run `jaxir sweep` first")
  record = storage.read_json(sweep_dir / "sweep.json", "sweep record")
  schema.check(record, dict, str(sweep_dir / "sweep.json"))
  if record.get("format") != spec_lib.FORMAT:
    raise JaxirError(f"{sweep_dir} was written by an incompatible jaxir sweep (format {record.get('format')!r}, "
                     f"this version reads {spec_lib.FORMAT!r})")
  requested = list(record["spec"]["eval"]["benchmarks"])
  lareqa = [b for b in requested if b in spec_lib.LAREQA]
  beyond = [b for b in requested if b not in spec_lib.LAREQA]
  cells, missing = [], []
  for c in record["cells"]:
    cdir = sweep_dir / "cells" / c["name"]
    broken = damaged(cdir, lareqa)
    if broken:
      path, why = next(iter(broken.items()))
      raise JaxirError(f"{path} is unreadable ({why}); rerun `jaxir sweep` on {sweep_dir} to redo it")
    if not is_finished(cdir, lareqa):
      missing.append(c["name"])
      continue
    info = storage.read_json(cdir / "cell.json", "cell record")
    _check_cell(info, cdir / "cell.json")
    present = lareqa + [b for b in beyond if (cdir / "eval" / b / "summary.json").is_file()]
    summaries = {b: _read_summary(cdir / "eval" / b / "summary.json", b) for b in present}
    cells.append(CellResult(c["name"], c["kind"], c["model"], c.get("batch_type"), c.get("alpha"), c.get("seed"),
                            cdir, list(info.get("train_langs") or []), summaries, c.get("wise")))
  if not cells:
    raise JaxirError(f"{sweep_dir} has no finished cell yet ({len(missing)} unfinished); run or resume "
                     "`jaxir sweep` first")
  return SweepResults(sweep_dir, record["spec"], cells, missing, lareqa, beyond, [c["name"] for c in record["cells"]])


# The metrics the report reads from each benchmark's summary.json: numbers, or null where none was measured.
_SCORES = ("Mo", "Cr", "Mul", "RD")
_NUMBER = (float, None)


def _check_cell(info, where):
  schema.check(info, dict, str(where))
  if schema.expect(info, "train_langs", (list, None), where, default=None) is not None:
    schema.items(info["train_langs"], str, f"{where}: field 'train_langs'")


def _read_summary(path, bench):
  """A cell's summary.json, its scores type-checked: one line naming the file and the field otherwise."""
  s = storage.read_json(path, "summary")
  schema.check(s, dict, str(path))
  if bench in spec_lib.LAREQA:
    langs = schema.items(schema.expect(s, "langs", list, path), str, f"{path}: field 'langs'")
    for l, n in schema.expect(s, "queries", dict, path).items():
      schema.check(n, int, f"{path}: field 'queries.{l}'")
    for key in _SCORES:
      schema.expect(s, key, _NUMBER, path)
    for key in ("seen_langs", "zero_shot_langs"):
      schema.items(schema.expect(s, key, list, path, default=[]), str, f"{path}: field '{key}'")
    for group in ("seen", "zero_shot"):
      for key in _SCORES:
        schema.expect(schema.expect(s, group, dict, path, default={}), key, _NUMBER, f"{path}: field '{group}'", default=None)
    pairs = schema.expect(s, "pairs_mAP", dict, path)
    for x in langs:
      for y in langs:
        schema.expect(schema.expect(pairs, x, dict, f"{path}: field 'pairs_mAP'"), y, _NUMBER, f"{path}: field 'pairs_mAP.{x}'")
  else:
    for key in benchmarks.get(bench).scores:
      schema.expect(s, key, _NUMBER, path, default=None)
    if bench == "beir":
      schema.items(schema.expect(s, "datasets", list, path, default=[]), str, f"{path}: field 'datasets'")
      for d, v in schema.expect(s, "per", dict, path, default={}).items():
        schema.expect(v, "nDCG@10", _NUMBER, f"{path}: field 'per.{d}'", default=None)
  return s

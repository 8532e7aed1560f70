"""`models_from`: evaluate the models another sweep trained, with other evaluation options, without training.

A sweep with `models_from: SOURCE` (a sweep directory) trains nothing: each training cell evaluates
`SOURCE/cells/<name>/train/export`. Use it to evaluate a finished sweep at another scale (all of
XQuAD-R instead of a slice, other languages), which the source sweep itself refuses because its
results depend on those options. The source must have been built from the same training config
and hold every training cell of this grid; that is checked before anything is written (when the
sweep spec is built: `jaxir.sweep.spec`). A cell the
source has not finished training yet stops the sweep with one line when its turn comes (the
cells before it are kept: rerun once the source has trained it). Each cell records the fingerprint
of the model it evaluated; if the source retrains a cell later, a rerun evaluates it again.
"""
from jaxir import storage
from jaxir.errors import JaxirError


def trained_model(spec, cell):
  """(export directory, run record) of `cell` in the source sweep; JaxirError while it is not trained there."""
  run_dir = _run_dir(spec, cell)
  if not (run_dir / "run.json").is_file() or not (run_dir / "export").is_dir():
    raise JaxirError(f"models_from: {spec.models_from} has not finished training {cell.name} yet; finish that "
                     "sweep (rerun its command), then rerun this one")
  return storage.absolute(run_dir / "export"), storage.read_json(run_dir / "run.json", "run record")


def retrained(spec, cell, cell_dir):
  """Whether the source's model of `cell` is no longer the one `cell_dir` recorded evaluating (the
  source retrained it since); False where nothing was recorded (before fingerprints were) or the
  source has no export now (it is retraining: `trained_model` stops there)."""
  try:
    made_from = storage.read_json(storage.as_path(cell_dir) / "config.json", "cell config").get("model_fingerprint")
  except (JaxirError, OSError, ValueError):
    return False
  export = _run_dir(spec, cell) / "export"
  if made_from is None or not (export / "config.json").is_file():
    return False
  from jaxir.model.hf_io import fingerprint
  return fingerprint(export) != made_from


def _run_dir(spec, cell):
  return storage.as_path(spec.models_from) / "cells" / cell.name / "train"

"""`jaxir sweep`: a grid of training runs over alpha, seeds, models and batch types, each evaluated.

  spec.py      the sweep config (train / grid / eval sections) and its cells
  cell.py      one cell: train (or not, for the zero-shot reference), export, encode, evaluate (every benchmark
               of eval.benchmarks; the sets benchmarks through the registry, `jaxir.benchmarks`)
  reuse.py     `models_from`: evaluate another sweep's trained models (e.g. on all of XQuAD-R), no training
  progress.py  the progress line on stderr (cells done, current cell, elapsed, time left)
  runner.py    the sweep directory (`sweep.json`), skipping finished cells, resuming the rest
  cli.py       `jaxir sweep --config experiments/X.py|yaml [key=value ...]`

Calling the package, `jaxir.sweep(config, ...)`, runs `jaxir.api.sweep`.
"""
from jaxir.api import callable_package

callable_package(__name__, "sweep")

"""jaxir: multilingual dense retrievers in JAX/Flax, trained with hybrid batch sampling.

Data flow: data (``jaxir.data``) -> pairs -> hybrid batches -> sharded train step ->
export embeddings (``jaxir.encode``) -> evaluation (``jaxir.eval``) -> report.

The Python API (docs/api.md; the `jaxir` command calls the same functions):

  model = jaxir.load("runs/my-model")                 # an Encoder
  q = model.encode(["a question"], kind="query")      # L2-normalised float32 [n, dim]
  run_dir = jaxir.train("experiments/quick.py", {"batch.alpha": 0.25}, steps=10)
  summary = jaxir.evaluate(model="runs/my-model", benchmark="xquad-r")
  sweep_dir = jaxir.sweep("experiments/quick.py");  report_md = jaxir.report(sweep_dir)

Importing jaxir loads neither JAX nor TensorFlow; the functions import what they need.
"""
__version__ = "0.1.0"

from jaxir import backends as _backends  # noqa: E402

_backends.settle()         # before JAX starts: a CPU host with libtpu installed runs on the CPU, quietly

from jaxir.api import Encoder, evaluate, load  # noqa: E402
from jaxir import report, sweep, train  # noqa: E402  (callable packages: jaxir.train(...) is jaxir.api.train)

__all__ = ["Encoder", "load", "train", "evaluate", "sweep", "report", "version", "__version__"]


def version():
  """The installed distribution's version (importlib.metadata), else `__version__` (a source checkout)."""
  from importlib import metadata
  try:
    return metadata.version("jaxir")
  except metadata.PackageNotFoundError:
    return __version__

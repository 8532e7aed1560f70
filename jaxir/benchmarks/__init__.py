"""Benchmarks: one module each, registered in `jaxir.benchmarks.registry` (see there for what a module declares).

To add a benchmark: write `jaxir/benchmarks/<name>.py` ending with `register(Benchmark(...))` and add its
import below; `jaxir encode`, `jaxir eval`, the sweep, the report and the model card then know it.
"""
from jaxir.benchmarks import lareqa, tatoeba, beir, miracl, xnli   # noqa: F401  the registry lines, in this order
from jaxir.benchmarks.registry import REGISTRY, Benchmark, Card, Metric, get, names, register

__all__ = ["REGISTRY", "Benchmark", "Card", "Metric", "get", "names", "register"]

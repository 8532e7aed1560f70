"""The `cpu` sweep's 16 models evaluated on all of XQuAD-R (48 articles × 11 languages), training nothing.

  jaxir sweep --config experiments/cpu.py           # first: trains and evaluates runs/sweep-cpu
  jaxir sweep --config experiments/cpu_xquad.py     # -> runs/sweep-cpu-xquad (resumable)
  jaxir report runs/sweep-cpu-xquad

The `cpu` preset evaluates on the first 8 XQuAD-R articles to fit a 2-core CPU; this one reads its
trained models (`models_from`, `jaxir.sweep.reuse`) and evaluates them on the whole test set, the
one the paper and LAReQA report. Same training config and grid as `cpu`, so it is checked against
runs/sweep-cpu before anything runs. A model runs/sweep-cpu has not trained yet stops this sweep
with one line when its turn comes; rerun once it has.
"""
from pathlib import Path

from jaxir.config import load_file


def get_config():
  cfg = load_file(Path(__file__).with_name("cpu.py"))
  cfg["models_from"] = cfg["out_dir"]
  cfg["out_dir"] = "runs/sweep-cpu-xquad"
  cfg["eval"] = {"benchmarks": ["xquad-r"]}
  return cfg

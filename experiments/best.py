"""The recipe of issue 20: the `full` sweep's training (experiments/full.py: multilingual-e5-small, frozen embeddings,
300 steps of batch 32 on the MLQA-R train split) plus one hard negative per pair (`data.hard_negatives=1`, another
sentence of the positive's paragraph: exactly LAReQA's confusable candidates), and each trained model interpolated
with the untrained one (WiSE-FT, `grid.wise`: (1 − λ)·untrained + λ·trained) at λ = 0.75. Both were chosen on the
MLQA-R dev split only (`experiments/recipe_search.py`, one seed per candidate; docs/results/best/README.md has the
search); XQuAD-R, the test set, is evaluated here once per cell.

  jaxir sweep --config experiments/best.py --cells 'hybrid_a0.5_*,*'      # -> runs/sweep-best (resumable)
  jaxir report runs/sweep-best --baseline experiments/expected/full.yaml:hybrid_a0.5
  jaxir expected check runs/sweep-best experiments/expected/best.yaml

α stays a reported axis: the recipe at α = 0 (X-Y), 0.5 and 1 (X-X-mono), 3 seeds each; `--cells` runs the α = 0.5
cells first. `--baseline` adds seed-paired t-tests of every curve point against the `full` sweep's α = 0.5 cells,
read from their recorded scores. On the quiet 2-core CPU a training cell takes ~17 minutes (the hard negative
doubles the passages of a batch), and each of its two models (trained, interpolated) ~7 minutes on all of
XQuAD-R and ~1.5 on the MLQA-R dev split: ~35 minutes per (α, seed), ~5.5 hours for the 9 plus the untrained
reference.
"""
import copy
import importlib.util
from pathlib import Path


def get_config():
  """experiments/full.py's train settings (read from that file: one source) with the recipe's changes."""
  spec = importlib.util.spec_from_file_location("_full_preset", Path(__file__).with_name("full.py"))
  full = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(full)
  train = copy.deepcopy(full.get_config()["train"])
  train["data"]["hard_negatives"] = 1
  return {
      "out_dir": "runs/sweep-best",
      "prune_checkpoints": True,
      "train": train,
      "grid": {"alphas": [0.0, 0.5, 1.0], "seeds": 3, "batch_types": ["hybrid"], "zero_shot": True, "wise": [0.75]},
      "eval": {"benchmarks": ["xquad-r", "mlqa-r-dev"]},
  }

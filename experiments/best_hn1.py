"""The one-negative recipe of issue 20, kept as a control of experiments/best.py: the three-negative recipe's (experiments/best_hnb3.py) training and grid
with one hard negative per pair (`data.hard_negatives=1`, another sentence of the positive's paragraph) instead
of three. It was experiments/best.py until the three-negative recipe led the MLQA-R dev split
(docs/results/best/README.md §4); its recorded scores (experiments/expected/best_hn1.yaml, all 19 cells) are the
reference for seed-paired tests of the adopted recipe against it:

  jaxir sweep --config experiments/best_hn1.py --cells 'hybrid_a0.5_*,*'   # -> runs/sweep-best-hn1 (resumable)
  jaxir expected check runs/sweep-best-hn1 experiments/expected/best_hn1.yaml
  jaxir report runs/sweep-best --baseline experiments/expected/best_hn1.yaml:hybrid_a0.5_w0.75

On the quiet 2-core CPU a training cell takes ~17 minutes and each of its two models ~7 minutes on all of
XQuAD-R and ~1.5 on the MLQA-R dev split: ~5.5 hours for the 19 cells.
"""
from pathlib import Path

from jaxir.config import load_file


def get_config():
  cfg = load_file(Path(__file__).with_name("best_hnb3.py"))
  cfg["out_dir"] = "runs/sweep-best-hn1"
  cfg["train"]["data"]["hard_negatives"] = 1
  cfg["train"]["data"]["hard_negative_lang"] = "positive"
  return cfg

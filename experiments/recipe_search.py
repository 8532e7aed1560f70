"""Recipe search for issue 20: one candidate per sweep directory, one seed, alpha = 0.5, scored on the MLQA-R
dev split only (selection never touches XQuAD-R, the test set). The training settings are the `full` sweep's
(experiments/full.py), so a candidate is compared with that sweep's alpha = 0.5 cells; a candidate is
one or more overrides:

  nice -n 10 jaxir sweep --config experiments/recipe_search.py --out runs/search/hn1 train.data.hard_negatives=1
  nice -n 10 jaxir sweep --config experiments/recipe_search.py --out runs/search/sym train.loss.symmetric=true

(resumable: rerun the same line). Weight interpolation with the untrained model (WiSE-FT) of a finished
candidate, scored on the same dev split: rerun its line with `grid.wise=[0.25,0.5,0.75]` (only the interpolated
cells run). About 15 minutes of training and 1.5 minutes of dev scoring per candidate on the quiet 2-core CPU
(~17 with a hard negative), and 1.5 minutes per λ.
"""


import copy
import importlib.util
from pathlib import Path


def get_config():
  """experiments/full.py's train settings, read from that file (one source), on a one-cell grid."""
  spec = importlib.util.spec_from_file_location("_full_preset", Path(__file__).with_name("full.py"))
  full = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(full)
  return {
      "out_dir": "runs/search/base",
      "prune_checkpoints": True,
      "train": copy.deepcopy(full.get_config()["train"]),
      "grid": {"alphas": [0.5], "seeds": [0], "batch_types": ["hybrid"], "zero_shot": False},
      "eval": {"benchmarks": ["mlqa-r-dev"]},
  }

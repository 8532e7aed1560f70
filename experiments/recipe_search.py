"""Recipe search for issue 20: one candidate per sweep directory, one seed, alpha = 0.5, scored on the MLQA-R
dev split only (selection never touches XQuAD-R, the test set). The training settings are the `full` sweep's
(experiments/full.py), so a candidate is compared with that sweep's alpha = 0.5 cells; a candidate is
one or more overrides:

  nice -n 10 jaxir sweep --config experiments/recipe_search.py --out runs/search/hn1 train.data.hard_negatives=1
  nice -n 10 jaxir sweep --config experiments/recipe_search.py --out runs/search/sym train.loss.symmetric=true

(resumable: rerun the same line). Weight interpolation with the untrained model (WiSE-FT) of a finished
candidate: `jaxir merge runs/e5-small runs/search/hn1/cells/hybrid_a0.5_s0/train/export --weight 0.75 --out
DIR`. No command scores such a DIR on this dev split yet (a sweep's `grid.wise` is the missing piece,
issue 20); the numbers in the issue's note came from a script around `jaxir.sweep.cell.run_cell`. About 15
minutes of training and 1.5 minutes of dev scoring per candidate on the quiet 2-core CPU.
"""


def get_config():
  return {
      "out_dir": "runs/search/base",
      "prune_checkpoints": True,
      "train": {
          "steps": 300,
          "log_every": 10,
          "eval_every": 0,              # the sweep evaluates each finished cell itself
          "checkpoint_every": 50,
          "keep_checkpoints": 1,
          "model": {"name": "runs/e5-small", "freeze_embeddings": True},
          "data": {"source": "mlqa-r", "positive": "sentence", "max_query_length": 64, "max_passage_length": 128},
          "batch": {"batch_size": 32},
          "optim": {"learning_rate": 2e-5, "warmup_steps": 30, "schedule": "linear"},
          "loss": {"temperature": 0.05},
      },
      "grid": {"alphas": [0.5], "seeds": [0], "batch_types": ["hybrid"], "zero_shot": False},
      "eval": {"benchmarks": ["mlqa-r-dev"]},
  }

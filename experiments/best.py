"""The recipe of issue 20: the `full` sweep's training (experiments/full.py: multilingual-e5-small, frozen
embeddings, 300 steps of batch 32 on the MLQA-R train split, learning rate 2e-5) with
- three hard negatives per pair (`data.hard_negatives=3 data.hard_negative_lang=both`): two other sentences of
  the positive's paragraph, exactly LAReQA's confusable candidates, and one of the query's paragraph in the
  query's language;
- a learnt temperature with its own Adam (`loss.learn_temperature=true loss.temperature_learning_rate=5e-3`,
  from 0.05; it ends near 0.040);
- each trained model interpolated with the untrained one (WiSE-FT, `grid.wise`: (1 − λ)·untrained + λ·trained)
  at λ = 0.75;
- at query time, query feedback (`eval.feedback`, k 5, w 0.5, t 0.02: a second search with each query moved
  toward the softmax(q·c / 0.02)-weighted mean of its 5 first results; `jaxir.eval.feedback`). Every cell reports
  XQuAD-R both ways: `xquad-r` (dot products) and `xquad-r-feedback` (the same export ranked with feedback).
All were chosen on the MLQA-R dev split only (`experiments/recipe_search.py`, one seed per candidate, then 3 seeds
for the leaders; docs/results/best/README.md has the search); XQuAD-R, the test set, is evaluated here once per
cell. The recipes it replaced are kept as its controls: experiments/best_hnb3.py (temperature 0.05 fixed) and
experiments/best_hn1.py (one hard negative).

  jaxir sweep --config experiments/best.py --cells 'hybrid_a0_*,*'      # -> runs/sweep-best (resumable)
  jaxir report runs/sweep-best --baseline experiments/expected/full.yaml:hybrid_a0.5
  jaxir expected check runs/sweep-best experiments/expected/best.yaml

α stays a reported axis: the recipe at α = 0 (X-Y, its closest point to the goal), 0.5 and 1 (X-X-mono), 3 seeds
each; `--cells` runs the α = 0 cells first. `--baseline` adds seed-paired t-tests of every curve point against the
`full` sweep's α = 0.5 cells, read from their recorded scores. On the 2-core CPU a training cell with its
evaluation takes ~55 minutes, and each interpolated model ~9 minutes: ~10 hours for the 18 cells plus the
untrained reference (~13 minutes). A slower 2-core CPU (AMD EPYC, AVX2) takes 2.6 times as long: ~23 s a
training step, ~2 hours a training cell.
"""
from pathlib import Path

from jaxir.config import load_file


def get_config():
  """experiments/best_hnb3.py (read from that file: one source) with the learnt temperature."""
  cfg = load_file(Path(__file__).with_name("best_hnb3.py"))
  cfg["out_dir"] = "runs/sweep-best"
  cfg["train"]["loss"]["learn_temperature"] = True
  cfg["train"]["loss"]["temperature_learning_rate"] = 5e-3
  cfg["eval"]["benchmarks"] = ["xquad-r", "mlqa-r-dev", "xquad-r-feedback"]
  cfg["eval"]["feedback"] = "5:0.5:0.02"
  return cfg

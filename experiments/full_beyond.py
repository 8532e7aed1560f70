"""The `full` sweep's models beyond LAReQA, training nothing: what α costs in cross-lingual alignment
(Tatoeba) and zero-shot transfer (XNLI), at α = 0, 0.5 and 1 and the untrained model.

  jaxir sweep --config experiments/full.py "eval.benchmarks=[xquad-r,mlqa-r-dev]"   # first
  jaxir sweep --config experiments/full_beyond.py    # -> runs/sweep-full-beyond (resumable)
  jaxir report runs/sweep-full-beyond

`models_from` reads the models runs/sweep-full trained (`jaxir.sweep.reuse`; same training config,
checked before anything runs) and evaluates them on Tatoeba (the 10 XQuAD-R / MLQA-R languages but
English, 1000 pairs each, both directions) and XNLI transfer from English to two languages MLQA-R
trains on (de, zh) and two it never sees (tr, sw). Three alphas instead of seven, and four XNLI test
languages instead of 11, to fit a 2-core CPU: measured ~9 min per cell there (Tatoeba ~2.5 min, XNLI
~38,000 texts and the probe's cross-validated C ~6 min), run seed by seed (the untrained model, then
α = 0, 0.5, 1 of seed 0, then seed 1, ...), so the first four cells are already a curve. BEIR is left
to the `full` preset's complete benchmark list (~26 min more per cell on this CPU).
"""
from pathlib import Path

from jaxir.config import load_file


def get_config():
  cfg = load_file(Path(__file__).with_name("full.py"))
  cfg["models_from"] = cfg["out_dir"]
  cfg["out_dir"] = "runs/sweep-full-beyond"
  cfg["grid"] = {"alphas": [0.0, 0.5, 1.0], "seeds": 3, "batch_types": ["hybrid"], "zero_shot": True}
  cfg["eval"] = {"benchmarks": ["tatoeba", "xnli"], "xnli": {"langs": ["de", "zh", "tr", "sw"]}}
  return cfg

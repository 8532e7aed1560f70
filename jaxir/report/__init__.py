"""`jaxir report`: what a sweep found, with its uncertainty.

  load.py     finished cells of a sweep directory and their summaries / per-query AP
  stats.py    t-intervals over seeds, paired permutation tests over queries, Holm, Pareto front
  paper.py    the paper's Table 1 / Table 2 numbers (arXiv 2408.10536), for orientation only
  figures.py  matplotlib PNGs
  render.py   Markdown and self-contained HTML from one list of blocks
  build.py    the report: computes, draws, renders
  beyond.py   its "Beyond LAReQA" section: the sets benchmarks (Tatoeba, BEIR, MIRACL, XNLI, ...) against alpha
  cli.py      `jaxir report SWEEP_DIR`

Calling the package, `jaxir.report(sweep_dir)`, runs `jaxir.api.report`.
"""
from jaxir.api import callable_package

callable_package(__name__, "report")

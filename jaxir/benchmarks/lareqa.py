"""The LAReQA benchmarks (Mo / Cr / Mul mAP and RD, `jaxir.eval.evaluate`): their names, report titles and
model-card entries. Their export is `jaxir.encode` (questions and candidates of -R files); the sweep
evaluates them in `jaxir.sweep.cell`, the report gives each its own sections.

  xquad-r      the held-out test set (`jaxir encode`, the sweep)
  mlqa-r       MLQA-R (`jaxir encode`; the sweep trains on it)
  mlqa-r-dev   the trainer's held-out MLQA-R dev split (the sweep; encoded in memory)
  squad-r      your own folder of <lang>.json -R files (`jaxir encode`, the sweep: eval.squad_r.*)
  xquad-r-feedback   XQuAD-R's export ranked with query feedback (the sweep: eval.feedback, `jaxir.eval.feedback`;
               `jaxir eval --feedback` outside it)
"""
from jaxir.benchmarks.registry import Benchmark, Card, register

METRICS = (("Mo", "map", "Mo mAP"), ("Cr", "map", "Cr mAP"), ("Mul", "map", "Mul mAP"),
           ("RD", "rank_distance", "RD (language bias, ranks)"))

register(Benchmark("xquad-r", "lareqa", "XQuAD-R (held-out test set)",
                   Card("retrieval", "xquad_r", "XQuAD-R", "test", METRICS)))
register(Benchmark("mlqa-r", "lareqa", "MLQA-R", Card("retrieval", "mlqa_r", "MLQA-R", "test", METRICS),
                   tools=("encode",)))
register(Benchmark("mlqa-r-dev", "lareqa", "MLQA-R dev split (held out from training)",
                   Card("retrieval", "mlqa_r", "MLQA-R dev", "dev", METRICS), tools=("sweep",)))
register(Benchmark("xquad-r-feedback", "lareqa", "XQuAD-R ranked with query feedback (held-out test set)",
                   Card("retrieval", "xquad_r", "XQuAD-R", "test", METRICS), tools=("sweep",)))
register(Benchmark("squad-r", "lareqa", "your -R folder (squad-r)",      # the user's own; named by its folder
                   Card("retrieval", "squad_r", "-R folder", "test", METRICS)))

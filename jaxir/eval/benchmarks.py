"""`jaxir eval` of a sets export (tatoeba, beir, miracl, xnli): dispatch on its manifest, write the outputs.

  summary.json   the benchmark's summary, with `headline` (its one or two headline numbers)
  table.txt      the printed table
  runs/*.trec    (beir, miracl) the top-k runs, TREC format; per_query.json: nDCG@10 / Recall@100 per query
"""
from pathlib import Path

from jaxir import storage


def evaluate(path, out=None, langs=None, datasets=None, top_k=100, block_rows=32768, query_chunk=256,
             approx=False, recall_target=0.95, probe_c=None, progress=True):
  """(summary, table text) of a finished sets export; beir/miracl runs go to `out` when given."""
  from jaxir.encode_sets import load_export
  bench = load_export(path)["benchmark"]
  if bench == "tatoeba":
    from jaxir.eval import bitext
    summary = bitext.evaluate_export(path, langs)
    return summary, bitext.table(summary)
  if bench == "xnli":
    from jaxir.eval import xnli_probe
    summary = xnli_probe.evaluate_export(path, langs, probe_c)
    return summary, xnli_probe.table(summary)
  from jaxir.eval import ir
  names = datasets if bench == "beir" else langs
  summary = ir.evaluate_export(path, out, names, top_k, block_rows, query_chunk, approx, recall_target, progress)
  return summary, ir.table(summary)


def write_outputs(summary, text, out):
  out = Path(out)
  out.mkdir(parents=True, exist_ok=True)
  storage.write_text(out / "table.txt", text + "\n")
  storage.write_json(out / "summary.json", summary)      # last: its presence marks a finished evaluation
  return text

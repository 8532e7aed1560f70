"""Encode and evaluate a sets benchmark through the registry: what `jaxir encode`, `jaxir eval`, the Python
API and the sweep run for tatoeba, beir, miracl, xnli (or any registered sets benchmark).

`jaxir eval` of a sets export writes, into its output directory:
  summary.json   the benchmark's summary, with `headline` (its one or two headline numbers); written last
  table.txt      the printed table
  ...            what the benchmark writes itself (beir, miracl: runs/*.trec, per_query.json)
"""
from jaxir import storage
from jaxir.benchmarks.registry import REGISTRY, get, make_options
from jaxir.errors import JaxirError


def encode(model, name, out, data_dir=None, options=None, **encode_kw):
  """Exports benchmark `name` (its options: an options object, or {field: value}) with `model` into `out`."""
  from jaxir.encode_sets import encode_spec
  bench = get(name, "sets", "encode")
  opts = options if isinstance(options, bench.options) else make_options(bench, options or {})
  return encode_spec(model, bench.sets(data_dir, opts), out, **encode_kw)


def evaluate(path, out=None, options=None, **knobs):
  """(summary, table text) of a finished sets export, by the benchmark its manifest names; `options`: an
  options object or {field: value} (None: not given); `knobs`: the ranking settings (top_k, block_rows,
  query_chunk, approx, recall_target, progress, feedback) for benchmarks that rank; `feedback` (not None) is
  refused by a benchmark that does not declare it, rather than ignored."""
  from jaxir.encode_sets import load_export
  path, out = storage.as_path(path), None if out is None else storage.as_path(out)
  bench = get(load_export(path)["benchmark"], "sets")
  opts = options if isinstance(options, bench.options) else make_options(bench, options or {})
  if knobs.get("feedback") is not None and not bench.feedback:
    takes = ", ".join(n for n, b in REGISTRY.items() if b.kind == "lareqa" or b.feedback)
    raise JaxirError(f"--feedback does not apply to {bench.name} embeddings (it re-ranks retrieval: {takes})")
  summary = bench.evaluate(path, out, opts, **knobs)
  return summary, bench.table(summary)


def write_outputs(summary, text, out):
  out = storage.as_path(out)
  out.mkdir(parents=True, exist_ok=True)
  storage.write_text(out / "table.txt", text + "\n")
  storage.write_json(out / "summary.json", summary)      # last: its presence marks a finished evaluation
  return text

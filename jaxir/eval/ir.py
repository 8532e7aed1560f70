"""Ad-hoc retrieval (BEIR-format collections, MIRACL): top-k runs, TREC run files, nDCG@10 and Recall@100.

Queries carry the model's query prompt; documents `title + " " + text` the passage prompt. Every
collection goes through the exact streamed top-k (`jaxir.eval.topk`) over its corpus shards; the
run is written as a TREC run file (`qid Q0 docid rank score tag`, what trec_eval reads) and scored
with pytrec_eval (trec_eval's own code): `ndcg_cut.10` with the graded qrels as gains and
`recall.100` (relevant = grade > 0), averaged over the judged queries as BEIR does. MIRACL is the
monolingual setting: each language's queries against its own corpus; the headline is the mean
over languages (BEIR: over datasets) of nDCG@10.
"""
import sys
import time

import numpy as np

from jaxir import storage
from jaxir.errors import JaxirError


# ---------------------------------------------------------------- export sets

def qrels_text(qrels):
  """The qrels as `qid<TAB>docid<TAB>grade` lines (the export keeps them beside the embeddings)."""
  return "".join(f"{q}\t{d}\t{g}\n" for q, judged in qrels.items() for d, g in judged.items())


def collection_sets(name, coll):
  """The query and corpus `TextSet`s of a collection (queries: query prompt; documents: passage prompt)."""
  from jaxir.encode_sets import TextSet
  return [TextSet(f"{name}/queries", lambda: list(coll.queries.items()), "query", len(coll.queries)),
          TextSet(f"{name}/corpus", coll.docs, "passage", coll.n_docs)]


# ---------------------------------------------------------------- runs and metrics

def run_lines(qids, rows, scores, id_of, tag="jaxir"):
  """TREC run lines `qid Q0 docid rank score tag`, ranks 1.. in the given (descending score) order."""
  lines = []
  for qid, rr, ss in zip(qids, rows, scores):
    rank = 0
    for r, s in zip(rr, ss):
      if r < 0 or not np.isfinite(s):
        continue
      rank += 1
      lines.append(f"{qid} Q0 {id_of[int(r)]} {rank} {float(s):.9g} {tag}\n")
  return lines


def write_run(path, lines):
  storage.write_text(path, "".join(lines))


def run_dict(lines):
  """{qid: {docid: score}} of run lines (what pytrec_eval evaluates)."""
  import pytrec_eval
  return pytrec_eval.parse_run(lines)


def metrics(qrels, run, ndcg_k=10, recall_k=100):
  """(means, per-query) nDCG@k and Recall@k by pytrec_eval; judged queries missing from the run count 0."""
  import pytrec_eval
  names = {f"nDCG@{ndcg_k}": f"ndcg_cut_{ndcg_k}", f"Recall@{recall_k}": f"recall_{recall_k}"}
  ev = pytrec_eval.RelevanceEvaluator(qrels, {f"ndcg_cut.{ndcg_k}", f"recall.{recall_k}"})
  res = ev.evaluate({q: run.get(q, {}) for q in qrels})
  per_query = {q: {name: float(res.get(q, {}).get(key, 0.0)) for name, key in names.items()} for q in qrels}
  means = {name: float(np.mean([p[name] for p in per_query.values()])) for name in names}
  return means, per_query


# ---------------------------------------------------------------- evaluation of an export

def evaluate_collection(path, name, top_k=100, block_rows=32768, query_chunk=256, approx=False,
                        recall_target=0.95, feedback=None, tag="jaxir"):
  """(entry, per-query {qid: {metric: value}}, run lines) of one collection `name` of an export at `path`: its
  queries searched over its corpus (top_k), the run scored against its qrels. With `feedback` (a
  `jaxir.eval.feedback` setting) the run is the second search, with the queries moved toward their first k results."""
  from jaxir.data.beir import read_qrels
  from jaxir.eval import feedback as feedback_lib
  from jaxir.eval import topk
  from jaxir.shards import Store
  queries, corpus = Store(path / name / "queries"), Store(path / name / "corpus")
  qids, q = queries.ids(), queries.read()
  t0 = time.time()
  scores, rows = topk.search(q, corpus, top_k, block_rows, query_chunk, approx, recall_target)
  if feedback is not None and feedback[1]:
    feedback_lib.check_k(feedback[0], min(top_k, corpus.n))
    first = rows[:, :feedback[0]]                   # search returns each query's results best first
    if (first < 0).any():
      raise JaxirError(f"{path / name}: fewer than {feedback[0]} results for some query; feedback needs k of them")
    q = feedback_lib.combine(q, corpus.take(first), feedback).astype(np.float32)
    scores, rows = topk.search(q, corpus, top_k, block_rows, query_chunk, approx, recall_target)
  seconds = time.time() - t0
  lines = run_lines(qids, rows, scores, corpus.lookup(rows), tag=tag)
  means, pq = metrics(read_qrels(path / name / "qrels.tsv"), run_dict(lines))
  entry = {**means, "n_queries": len(pq), "n_docs": corpus.n, "topk_seconds": round(seconds, 3),
           "queries_per_s": round(len(qids) / max(seconds, 1e-9), 1)}
  if approx:
    _, exact = topk.search(q, corpus, top_k, block_rows, query_chunk)
    entry["approx_recall_vs_exact"] = topk.recall_vs_exact(rows, exact)
  return entry, pq, lines


def evaluate_export(path, out=None, names=None, top_k=100, block_rows=32768, query_chunk=256, approx=False,
                    recall_target=0.95, progress=False, feedback=None):
  """Summary of a beir or miracl export; with `out`, runs/<name>.trec and per_query.json are written there.
  `feedback`: a `jaxir.eval.feedback` setting, recorded in the summary (every collection is searched twice)."""
  from jaxir.encode_sets import load_export
  from jaxir.eval import feedback as feedback_lib
  manifest = load_export(path)
  bench = manifest["benchmark"]
  if bench not in ("beir", "miracl"):
    raise JaxirError(f"{path} holds {bench} embeddings, not beir or miracl")
  key = "datasets" if bench == "beir" else "langs"
  have = manifest[key]
  names = list(names or have)
  unknown = [n for n in names if n not in have]
  if unknown:
    raise JaxirError(f"{', '.join(unknown)} not in these embeddings (they have {' '.join(have)})")
  if top_k < 100:
    raise JaxirError("--top-k must be at least 100 (Recall@100)")
  if feedback is not None and feedback[0] > top_k:
    raise JaxirError(f"feedback k {feedback[0]} is more than --top-k {top_k}")
  path = storage.as_path(path)
  per, per_query = {}, {}
  for name in names:
    per[name], per_query[name], lines = evaluate_collection(path, name, top_k, block_rows, query_chunk, approx,
                                                            recall_target, feedback, tag=f"jaxir-{bench}")
    if out is not None:
      write_run(storage.as_path(out) / "runs" / f"{name}.trec", lines)
    if progress:
      p = per[name]
      print(f"eval {bench} {name}: nDCG@10 {p['nDCG@10']:.4f} Recall@100 {p['Recall@100']:.4f} "
            f"({p['n_queries']} queries, {p['n_docs']} docs, top-{top_k} in {p['topk_seconds']:.2f} s)",
            file=sys.stderr)
  summary = {"benchmark": bench, key: names, "per": per,
             "nDCG@10": float(np.mean([p["nDCG@10"] for p in per.values()])),
             "Recall@100": float(np.mean([p["Recall@100"] for p in per.values()])),
             "model": manifest.get("model"), "fingerprint": manifest.get("fingerprint"),
             "top_k": top_k, "approx": bool(approx)}
  if feedback is not None:
    summary["feedback"] = feedback_lib.as_json(feedback)
  summary["headline"] = {"mean_nDCG@10": summary["nDCG@10"]}
  if out is not None:
    storage.write_json(storage.as_path(out) / "per_query.json", per_query)
  return summary


def table(summary):
  from jaxir.eval.feedback import heading
  key = "datasets" if summary["benchmark"] == "beir" else "langs"
  lines = heading(summary)
  lines.append(f"{summary['benchmark']:<16} {'nDCG@10':>8} {'R@100':>8} {'queries':>8} {'docs':>10}")
  for name in summary[key]:
    p = summary["per"][name]
    lines.append(f"{name:<16} {100 * p['nDCG@10']:8.1f} {100 * p['Recall@100']:8.1f} {p['n_queries']:8d} {p['n_docs']:10d}")
  lines.append(f"{'mean':<16} {100 * summary['nDCG@10']:8.1f} {100 * summary['Recall@100']:8.1f}")
  return "\n".join(lines)

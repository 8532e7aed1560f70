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


# ---------------------------------------------------------------- export specs

def _qrels_text(qrels):
  return "".join(f"{q}\t{d}\t{g}\n" for q, judged in qrels.items() for d, g in judged.items())


def _collection_sets(name, coll):
  from jaxir.encode_sets import TextSet
  return [TextSet(f"{name}/queries", lambda: list(coll.queries.items()), "query", len(coll.queries)),
          TextSet(f"{name}/corpus", coll.docs, "passage", coll.n_docs)]


def beir_spec(data_dir=None, datasets=None, split="test"):
  from jaxir.data.beir import beir_dir, load_beir
  from jaxir.data.sources import data_root
  from jaxir.encode_sets import Spec
  if not datasets:
    root = data_root(data_dir) / "beir"
    datasets = sorted(p.name for p in root.iterdir() if (p / "qrels").is_dir()) if root.is_dir() else []
    if not datasets:
      raise JaxirError(f"no BEIR datasets under {root}; pass --datasets NAME[,NAME] (names under <data>/beir, or folders)")
  sets, files, names = [], {}, []
  for d in datasets:
    folder = beir_dir(data_dir, d)
    coll = load_beir(folder, split)
    if coll.name in names:
      raise JaxirError(f"BEIR dataset {coll.name!r} given twice")
    names.append(coll.name)
    sets += _collection_sets(coll.name, coll)
    files[f"{coll.name}/qrels.tsv"] = _qrels_text(coll.qrels)
  return Spec("beir", sets, {"datasets": names, "split": split}, files)


def miracl_spec(data_dir=None, langs=None, split="dev"):
  from jaxir.data.miracl import available, load_miracl, miracl_root
  from jaxir.encode_sets import Spec
  langs = list(langs or available(miracl_root(data_dir)))
  sets, files = [], {}
  for lang in langs:
    coll = load_miracl(data_dir, lang, split)
    sets += _collection_sets(lang, coll)
    files[f"{lang}/qrels.tsv"] = _qrels_text(coll.qrels)
  return Spec("miracl", sets, {"langs": langs, "split": split}, files)


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

def evaluate_export(path, out=None, names=None, top_k=100, block_rows=32768, query_chunk=256, approx=False,
                    recall_target=0.95, progress=False):
  """Summary of a beir or miracl export; with `out`, runs/<name>.trec and per_query.json are written there."""
  from pathlib import Path
  from jaxir.data.beir import read_qrels
  from jaxir.encode_sets import load_export
  from jaxir.eval import topk
  from jaxir.shards import Store
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
  path = Path(path)
  per, per_query = {}, {}
  for name in names:
    queries, corpus = Store(path / name / "queries"), Store(path / name / "corpus")
    qids, q = queries.ids(), queries.read()
    t0 = time.time()
    scores, rows = topk.search(q, corpus, top_k, block_rows, query_chunk, approx, recall_target)
    seconds = time.time() - t0
    lines = run_lines(qids, rows, scores, corpus.lookup(rows), tag=f"jaxir-{bench}")
    means, pq = metrics(read_qrels(path / name / "qrels.tsv"), run_dict(lines))
    per[name] = {**means, "n_queries": len(pq), "n_docs": corpus.n, "topk_seconds": round(seconds, 3),
                 "queries_per_s": round(len(qids) / max(seconds, 1e-9), 1)}
    if approx:
      _, exact = topk.search(q, corpus, top_k, block_rows, query_chunk)
      per[name]["approx_recall_vs_exact"] = topk.recall_vs_exact(rows, exact)
    per_query[name] = pq
    if out is not None:
      write_run(Path(out) / "runs" / f"{name}.trec", lines)
    if progress:
      print(f"eval {bench} {name}: nDCG@10 {means['nDCG@10']:.4f} Recall@100 {means['Recall@100']:.4f} "
            f"({len(pq)} queries, {corpus.n} docs, top-{top_k} in {seconds:.2f} s)", file=sys.stderr)
  summary = {"benchmark": bench, key: names, "per": per,
             "nDCG@10": float(np.mean([p["nDCG@10"] for p in per.values()])),
             "Recall@100": float(np.mean([p["Recall@100"] for p in per.values()])),
             "model": manifest.get("model"), "fingerprint": manifest.get("fingerprint"),
             "top_k": top_k, "approx": bool(approx)}
  summary["headline"] = {"mean_nDCG@10": summary["nDCG@10"]}
  if out is not None:
    storage.write_json(Path(out) / "per_query.json", per_query)
  return summary


def table(summary):
  key = "datasets" if summary["benchmark"] == "beir" else "langs"
  lines = [f"{summary['benchmark']:<16} {'nDCG@10':>8} {'R@100':>8} {'queries':>8} {'docs':>10}"]
  for name in summary[key]:
    p = summary["per"][name]
    lines.append(f"{name:<16} {100 * p['nDCG@10']:8.1f} {100 * p['Recall@100']:8.1f} {p['n_queries']:8d} {p['n_docs']:10d}")
  lines.append(f"{'mean':<16} {100 * summary['nDCG@10']:8.1f} {100 * summary['Recall@100']:8.1f}")
  return "\n".join(lines)


def evaluate_beir(model_or_embeddings, data_dir=None, datasets=None, out=None, work_dir=None, encode_kw=None,
                  **eval_kw):
  """BEIR summary (headline: mean nDCG@10 over datasets) of a model (encoded on the fly) or a beir export."""
  from jaxir.encode_sets import export_of, is_export
  names = datasets if is_export(model_or_embeddings) else None    # a fresh export holds just these
  with export_of(model_or_embeddings, lambda: beir_spec(data_dir, datasets), work_dir, **(encode_kw or {})) as exp:
    return evaluate_export(exp, out, names, **eval_kw)


def evaluate_miracl(model_or_embeddings, data_dir=None, langs=None, out=None, work_dir=None, encode_kw=None,
                    **eval_kw):
  """MIRACL summary (headline: mean nDCG@10 over languages) of a model or a miracl export."""
  from jaxir.encode_sets import export_of, is_export
  names = langs if is_export(model_or_embeddings) else None
  with export_of(model_or_embeddings, lambda: miracl_spec(data_dir, langs), work_dir, **(encode_kw or {})) as exp:
    return evaluate_export(exp, out, names, **eval_kw)

"""BEIR-format ad-hoc retrieval (`jaxir.eval.ir`): nDCG@10 and Recall@100 per dataset, their means.

Options (sweep `eval.beir.*`, `jaxir encode / eval --datasets`):
  datasets    names under <data>/beir (or folders); None: every dataset there
"""
import dataclasses

from jaxir.benchmarks.registry import Benchmark, Card, Metric, number, register
from jaxir.errors import JaxirError


@dataclasses.dataclass
class Options:
  datasets: list | None = None


def _found(root):
  beir = root / "beir"
  return sorted(p.name for p in beir.iterdir() if (p / "qrels").is_dir()) if beir.is_dir() else []


def check(opts, root):
  from jaxir.data.beir import beir_dir
  if not opts.datasets:
    opts.datasets = _found(root)
    if not opts.datasets:
      raise JaxirError(f"no BEIR datasets in {root / 'beir'} (expected <dataset>/corpus.jsonl, queries.jsonl, qrels/test.tsv)")
  for d in opts.datasets:
    folder = beir_dir(root, d)
    need = {"corpus.jsonl": ("corpus.jsonl", "corpus.jsonl.gz"), "queries.jsonl": ("queries.jsonl", "queries.jsonl.gz"),
            "qrels/test.tsv": ("qrels/test.tsv",)}
    missing = [n for n, files in need.items() if not any((folder / f).is_file() for f in files)]
    if missing:
      raise JaxirError(f"{folder} is not a BEIR dataset: missing {', '.join(missing)}")


def sets(data_dir, opts, split="test"):
  from jaxir.data.beir import beir_dir, load_beir
  from jaxir.data.sources import data_root
  from jaxir.encode_sets import Spec
  from jaxir.eval.ir import collection_sets, qrels_text
  datasets = opts.datasets
  if not datasets:
    datasets = _found(data_root(data_dir))
    if not datasets:
      raise JaxirError(f"no BEIR datasets under {data_root(data_dir) / 'beir'}; pass --datasets NAME[,NAME] "
                       "(names under <data>/beir, or folders)")
  out, files, names = [], {}, []
  for d in datasets:
    coll = load_beir(beir_dir(data_dir, d), split)
    if coll.name in names:
      raise JaxirError(f"BEIR dataset {coll.name!r} given twice")
    names.append(coll.name)
    out += collection_sets(coll.name, coll)
    files[f"{coll.name}/qrels.tsv"] = qrels_text(coll.qrels)
  return Spec("beir", out, {"datasets": names, "split": split}, files)


def evaluate(path, out, opts, **knobs):
  from jaxir.eval import ir
  return ir.evaluate_export(path, out, opts.datasets, **knobs)


def table(summary):
  from jaxir.eval import ir
  return ir.table(summary)


def metrics(summaries):
  names = list(dict.fromkeys(d for s in summaries for d in s.get("datasets", [])))
  per = [Metric(f"BEIR nDCG@10 {d}", lambda s, d=d: number((s.get("per", {}).get(d) or {}).get("nDCG@10")),
                unit="nDCG@10") for d in names]
  return per + [Metric("BEIR mean nDCG@10", lambda s: number(s.get("nDCG@10")), unit="nDCG@10"),
                Metric("BEIR mean Recall@100", lambda s: number(s.get("Recall@100")), unit="Recall@100")]


def notes(s):
  return "BEIR: " + ", ".join(f"{d} ({s['per'][d]['n_queries']} judged queries, {s['per'][d]['n_docs']} documents)"
                              for d in s["datasets"])


register(Benchmark(
    "beir", "sets", "BEIR retrieval",
    Card("retrieval", "beir", "BEIR", "test", (("nDCG@10", "ndcg_at_10", "nDCG@10"),
                                               ("Recall@100", "recall_at_100", "Recall@100"))),
    Options, check, sets, evaluate, table, metrics=metrics, notes=notes, scores=("nDCG@10", "Recall@100"),
    feedback=True))

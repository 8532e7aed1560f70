"""MIRACL monolingual retrieval (`jaxir.eval.ir`): each language's dev topics against its own corpus.

Options (sweep `eval.miracl.*`, `jaxir encode / eval --langs`):
  langs       None: every language under <data>/miracl
"""
import dataclasses

from jaxir.benchmarks.registry import Benchmark, Card, Metric, number, register
from jaxir.errors import JaxirError


@dataclasses.dataclass
class Options:
  langs: list | None = None


def check(opts, root, split="dev"):
  from jaxir.data import miracl
  mroot = miracl.miracl_root(root)
  opts.langs = list(opts.langs or miracl.available(mroot))
  for lang in opts.langs:
    d = miracl._lang_dir(mroot, lang)
    for f in (d / "topics" / f"topics.miracl-v1.0-{lang}-{split}.tsv", d / "qrels" / f"qrels.miracl-v1.0-{lang}-{split}.tsv"):
      if not f.is_file():
        raise JaxirError(f"MIRACL {lang}: {f} not found")
    miracl._corpus_files(mroot, lang)


def sets(data_dir, opts, split="dev"):
  from jaxir.data.miracl import available, load_miracl, miracl_root
  from jaxir.encode_sets import Spec
  from jaxir.eval.ir import collection_sets, qrels_text
  langs = list(opts.langs or available(miracl_root(data_dir)))
  out, files = [], {}
  for lang in langs:
    coll = load_miracl(data_dir, lang, split)
    out += collection_sets(lang, coll)
    files[f"{lang}/qrels.tsv"] = qrels_text(coll.qrels)
  return Spec("miracl", out, {"langs": langs, "split": split}, files)


def evaluate(path, out, opts, **knobs):
  from jaxir.eval import ir
  return ir.evaluate_export(path, out, opts.langs, **knobs)


def table(summary):
  from jaxir.eval import ir
  return ir.table(summary)


register(Benchmark(
    "miracl", "sets", "MIRACL retrieval",
    Card("retrieval", "miracl", "MIRACL", "dev", (("nDCG@10", "ndcg_at_10", "nDCG@10"),
                                                  ("Recall@100", "recall_at_100", "Recall@100"))),
    Options, check, sets, evaluate, table,
    metrics=lambda summaries: [Metric("MIRACL mean nDCG@10", lambda s: number(s.get("nDCG@10")), unit="nDCG@10")],
    notes=lambda s: f"MIRACL (monolingual, dev topics): {' '.join(s['langs'])}", scores=("nDCG@10",), feedback=True))

"""Tatoeba bitext retrieval (`jaxir.eval.bitext`): accuracy@1 of nearest-neighbour search, both directions.

Options (sweep `eval.tatoeba.*`, `jaxir encode --langs / --max-pairs`, `jaxir eval --langs`):
  langs       None: jaxir.data.tatoeba.DEFAULT_LANGS (the XQuAD-R / MLQA-R languages but English)
  max_pairs   the first N pairs of every language (a subset: the report says so); None: all
  half        1 or 2: only that seeded half of every language's pairs (`jaxir.data.tatoeba.halves`), the
              other half having been trained on (`data.extra_pairs`, tools/tatoeba_pairs.py); None: all
"""
import dataclasses

from jaxir.benchmarks.registry import Benchmark, Card, Metric, number, register
from jaxir.errors import JaxirError


@dataclasses.dataclass
class Options:
  langs: list | None = None
  max_pairs: int | None = None
  half: int | None = None

  def check_values(self, key):
    if self.half not in (None, 1, 2):
      raise JaxirError(f"{key('half')} must be 1 or 2 (a seeded half of every language's pairs), got {self.half!r}")


def check(opts, root):
  from jaxir.data.tatoeba import DEFAULT_LANGS, ISO3, available, tatoeba_dir
  folder = tatoeba_dir(root)
  langs = list(opts.langs or DEFAULT_LANGS)
  have = set(available(folder))
  missing = [l for l in langs if ISO3.get(l, l) not in have]
  if missing:
    raise JaxirError(f"language(s) {', '.join(missing)} not in {folder}")
  opts.langs = langs


def sets(data_dir, opts):
  """Both sides of every language, with the query prompt (the task is symmetric)."""
  from jaxir.data.tatoeba import halves, load_tatoeba
  from jaxir.encode_sets import Spec, TextSet
  data = load_tatoeba(data_dir, opts.langs)
  out = []
  for lang, (src, eng) in data.items():
    rows = halves(len(src))[opts.half - 1] if opts.half else range(len(src))
    rows = list(rows)[:opts.max_pairs]
    for side, lines in (("src", src), ("eng", eng)):
      out.append(TextSet(f"{lang}/{side}", lambda lines=lines, rows=rows: [(str(i), lines[i]) for i in rows],
                         "query", len(rows)))
  return Spec("tatoeba", out, {"langs": list(data), "max_pairs": int(opts.max_pairs) if opts.max_pairs else None,
                               **({"half": int(opts.half)} if opts.half else {})})


def evaluate(path, out, opts, **knobs):
  from jaxir.eval import bitext
  return bitext.evaluate_export(path, opts.langs)


def table(summary):
  from jaxir.eval import bitext
  return bitext.table(summary)


def notes(s):
  what = f"Tatoeba: {' '.join(s['langs'])} ↔ English"
  if s.get("half"):
    what += (f", half {s['half']} of each language's pairs (the seeded split of tools/tatoeba_pairs.py; fewer "
             "candidates per search than the full test, so not comparable to it)")
  return what + (f", a subset: the first {s['max_pairs']} pairs of each language (fewer candidates per search, so "
                 "accuracies are higher than, and not comparable to, the full test's)" if s.get("max_pairs")
                 else ", all pairs")


register(Benchmark(
    "tatoeba", "sets", "Tatoeba bitext retrieval",
    Card("bitext-mining", "tatoeba", "Tatoeba", "test", (("acc@1", "accuracy", "acc@1"),)),
    Options, check, sets, evaluate, table,
    metrics=lambda summaries: [Metric("Tatoeba mean acc@1", lambda s: number(s.get("acc@1")), unit="acc@1")],
    notes=notes, scores=("acc@1",)))

"""Per-language counts of an -R benchmark and how its parallel ids overlap across languages."""
import collections

from jaxir.data import squad_r


def stats(benchmark, data_dir=None, langs=None):
  """A JSON-ready dict for `benchmark` (xquad-r, mlqa-r, or squad-r: the folder `data_dir`), over `langs` (default: all).

  questions / candidates: per language. shared_ids[a][b]: ids asked in both a and b (the
  diagonal is a's own ids). ids_in_k[k]: how many ids appear in exactly k languages.
  """
  corpora = squad_r.load_benchmark(benchmark, data_dir, langs)
  ids = {l: {q.id for q in c.questions} for l, c in corpora.items()}
  k = collections.Counter(n for n in collections.Counter(i for s in ids.values() for i in s).values())
  return {
      "benchmark": benchmark,
      "langs": list(corpora),
      "questions": {l: len(c.questions) for l, c in corpora.items()},
      "candidates": {l: len(c.candidates) for l, c in corpora.items()},
      "shared_ids": {a: {b: len(ids[a] & ids[b]) for b in corpora} for a in corpora},
      "ids": len(set().union(*ids.values())),
      "ids_in_k": {n: k[n] for n in sorted(k, reverse=True)},
  }


def format_stats(s):
  """The dict of `stats` as a small text report."""
  langs = s["langs"]
  width = max(6, *(len(str(v)) + 1 for row in s["shared_ids"].values() for v in row.values()))
  lines = [f"{s['benchmark']}: {len(langs)} languages, {s['ids']} distinct question ids",
           "lang  questions  candidates"]
  lines += [f"{l:<4}  {s['questions'][l]:>9}  {s['candidates'][l]:>10}" for l in langs]
  lines += ["", "shared question ids (row and column language)",
            "    " + "".join(f"{l:>{width}}" for l in langs)]
  lines += [f"{a:<4}" + "".join(f"{s['shared_ids'][a][b]:>{width}}" for b in langs) for a in langs]
  lines += ["", "ids by number of languages: " +
            ", ".join(f"{n} in {k}" for k, n in s["ids_in_k"].items())]
  return "\n".join(lines)

"""Tatoeba bitext retrieval (the XTREME protocol): accuracy@1 of cosine nearest-neighbour search.

For each language X paired with English (1000 line-aligned pairs), every X sentence searches the
English side and every English sentence the X side; a search is correct when its nearest neighbour
is the aligned line (ties go to the earlier line). Reported per language: `xx2en` (XTREME's
figure), `en2xx` and their mean `acc`; the headline is the mean of `acc` over languages.

Both sides are embedded with the model's *query* prompt: the task is symmetric (no side is a
passage), and e5-style models use the query prompt for symmetric tasks.

`max_pairs` (a quick subset) keeps the first N pairs of every language: each search then has N
candidates instead of ~1000, so its accuracy is higher than, and not comparable to, the full test's.
"""
import numpy as np

from jaxir.errors import JaxirError


def accuracy(src, eng):
  """(xx->en, en->xx) accuracy@1 of cosine nearest neighbours between aligned [n, H] embeddings."""
  src = src / np.maximum(np.linalg.norm(src, axis=1, keepdims=True), 1e-12)
  eng = eng / np.maximum(np.linalg.norm(eng, axis=1, keepdims=True), 1e-12)
  sim = src @ eng.T
  gold = np.arange(len(src))
  return float(np.mean(sim.argmax(1) == gold)), float(np.mean(sim.argmax(0) == gold))


def evaluate_export(path, langs=None):
  """Summary of a tatoeba export (`jaxir.benchmarks.tatoeba`): per language and mean accuracy@1."""
  from jaxir import storage
  from jaxir.encode_sets import load_export
  from jaxir.shards import Store
  manifest = load_export(path, "tatoeba")
  have = manifest["langs"]
  langs = list(langs or have)
  unknown = [l for l in langs if l not in have]
  if unknown:
    raise JaxirError(f"language(s) {', '.join(unknown)} not in these embeddings (they have {' '.join(have)})")
  per = {}
  for lang in langs:
    src, eng = (Store(storage.as_path(path) / lang / side).read() for side in ("src", "eng"))
    xx2en, en2xx = accuracy(src, eng)
    per[lang] = {"xx2en": xx2en, "en2xx": en2xx, "acc": (xx2en + en2xx) / 2, "n": len(src)}
  mean = lambda k: float(np.mean([p[k] for p in per.values()]))
  summary = {"benchmark": "tatoeba", "langs": langs, "per": per, "acc@1": mean("acc"), "xx2en": mean("xx2en"),
             "en2xx": mean("en2xx"), "max_pairs": manifest.get("max_pairs"), "half": manifest.get("half"),
             "model": manifest.get("model"),
             "fingerprint": manifest.get("fingerprint")}
  summary["headline"] = {"mean_acc@1": summary["acc@1"]}
  return summary


def table(summary):
  lines = [f"{'tatoeba':<8} {'xx->en':>7} {'en->xx':>7} {'mean':>7}"]
  for lang in summary["langs"]:
    p = summary["per"][lang]
    lines.append(f"{lang:<8} {100 * p['xx2en']:7.1f} {100 * p['en2xx']:7.1f} {100 * p['acc']:7.1f}")
  lines.append(f"{'mean':<8} {100 * summary['xx2en']:7.1f} {100 * summary['en2xx']:7.1f} {100 * summary['acc@1']:7.1f}")
  return "\n".join(lines)

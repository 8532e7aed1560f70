"""XNLI zero-shot transfer of frozen embeddings (`jaxir.eval.xnli_probe`): a linear probe trained on English.

Options (sweep `eval.xnli.*`, `jaxir encode / eval --langs`, `jaxir eval --probe-c`):
  langs       test languages (English is always added: the transfer gap needs it); None: all
  probe_c     the probe's C; None: 5-fold CV on the English dev pairs
"""
import dataclasses
import json

from jaxir.benchmarks.registry import Benchmark, Card, Metric, number, register
from jaxir.errors import JaxirError


@dataclasses.dataclass
class Options:
  langs: list | None = None
  probe_c: float | None = None


def check(opts, root):
  from jaxir.data.xnli import test_langs, xnli_dir
  folder = xnli_dir(root)
  have = test_langs(folder)
  langs = list(opts.langs or have)
  missing = [l for l in dict.fromkeys(["en", *langs]) if l not in have]
  if missing:
    raise JaxirError(f"XNLI test language(s) {', '.join(missing)} not in {folder} (it has {' '.join(have) or 'none'})")
  if not any((folder / "dev").glob("*.tsv")) and not (folder / "xnli.dev.tsv").is_file():
    raise JaxirError(f"no English XNLI dev data in {folder} (expected dev/*.tsv or xnli.dev.tsv)")
  opts.langs = langs


def sets(data_dir, opts):
  """One set of unique texts per split (English dev for training, each test language) and its pairs."""
  from jaxir.data.xnli import load_test, load_train_en, xnli_dir
  from jaxir.encode_sets import Spec
  from jaxir.eval.xnli_probe import unique_set
  folder = xnli_dir(data_dir)
  langs = opts.langs
  if langs and "en" not in langs:
    langs = ["en", *langs]                 # the transfer gap needs English test accuracy
  splits = {"train": load_train_en(folder), **load_test(folder, langs)}
  out, files = [], {}
  for name, pairs in splits.items():
    s, (p_rows, h_rows) = unique_set(f"{name}/texts", pairs.premise, pairs.hypothesis)
    out.append(s)
    files[f"{name}/pairs.json"] = json.dumps({"premise": p_rows, "hypothesis": h_rows,
                                              "label": pairs.label.tolist()}) + "\n"
  return Spec("xnli", out, {"langs": [l for l in splits if l != "train"], "train": "en-dev"}, files)


def evaluate(path, out, opts, **knobs):
  from jaxir.eval import xnli_probe
  return xnli_probe.evaluate_export(path, opts.langs, opts.probe_c)


def table(summary):
  from jaxir.eval import xnli_probe
  return xnli_probe.table(summary)


register(Benchmark(
    "xnli", "sets", "XNLI cross-lingual transfer",
    Card("text-classification", "xnli", "XNLI (English-trained probe)", "test",
         (("mean_accuracy", "accuracy", "mean accuracy"), ("transfer_gap", "transfer_gap", "transfer gap"))),
    Options, check, sets, evaluate, table,
    metrics=lambda summaries: [
        Metric("XNLI mean non-English accuracy", lambda s: number(s.get("mean_others")), unit="accuracy"),
        Metric("XNLI transfer gap (lower: better)", lambda s: number(s.get("transfer_gap")), False,
               "English − others, accuracy")],
    notes=lambda s: (f"XNLI: a logistic probe on frozen embeddings, trained on {s['n_train']} English dev pairs, "
                     f"tested on {' '.join(s['langs'])}"),
    scores=("mean_others", "transfer_gap")))

"""The benchmarks beyond LAReQA in a sweep (tatoeba, beir, miracl, xnli): options, data check, a cell's run.

Options (the sweep config's `eval` section, see `jaxir.sweep.spec`):

  eval.data_dir            data root holding tatoeba/, beir/, miracl/, xnli/ (default: train.data.data_dir,
                           else $JAXIR_DATA, else ../shared/data)
  eval.tatoeba.langs       None: jaxir.data.tatoeba.DEFAULT_LANGS (the XQuAD-R / MLQA-R languages but English)
  eval.tatoeba.max_pairs   the first N pairs of every language (a subset: the report says so); None: all
  eval.beir.datasets       names under <data>/beir (or folders); None: every dataset there
  eval.miracl.langs        None: every language under <data>/miracl
  eval.xnli.langs          test languages (English is always added: the transfer gap needs it); None: all
  eval.xnli.probe_c        the probe's C; None: 5-fold CV on the English dev pairs

`check` runs when the sweep is built, before anything trains: a requested benchmark whose data is
absent is one error line naming it and where it looked; options left None are resolved to what the
data holds, so every cell evaluates the same sets (a rerun may move `data_dir`, not change them). In a cell, `emb/<bench>/` is the sets export
(`jaxir.encode_sets`: resumed shard by shard, manifest.json last) and `eval/<bench>/` its
evaluation (`jaxir.eval.benchmarks`: summary.json last).
"""
import dataclasses
import math
import os
from pathlib import Path

from jaxir.errors import JaxirError

EXTRA = ("tatoeba", "beir", "miracl", "xnli")


@dataclasses.dataclass
class TatoebaConfig:
  langs: list | None = None
  max_pairs: int | None = None


@dataclasses.dataclass
class BeirConfig:
  datasets: list | None = None


@dataclasses.dataclass
class MiraclConfig:
  langs: list | None = None


@dataclasses.dataclass
class XnliConfig:
  langs: list | None = None
  probe_c: float | None = None


def data_root(spec):
  """(root, where that came from) of the extra benchmarks' data."""
  from jaxir.data import sources
  for value, source in ((spec.eval.data_dir, "eval.data_dir"), (spec.train.data.data_dir, "train.data.data_dir"),
                        (os.environ.get("JAXIR_DATA"), "$JAXIR_DATA")):
    if value:
      return Path(value).expanduser(), source
  return sources._DEFAULT, "the default"


def _names(value, key):
  if value is None:
    return None
  if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
    raise JaxirError(f"{key} must be a non-empty list of names, got {value!r}")
  if len(set(value)) != len(value):
    raise JaxirError(f"{key} lists a name twice: {value!r}")
  return value


def validate_options(ev):
  """Types and ranges of the options (no data read)."""
  for bench, key in (("tatoeba", "langs"), ("beir", "datasets"), ("miracl", "langs"), ("xnli", "langs")):
    _names(getattr(getattr(ev, bench), key), f"eval.{bench}.{key}")
  mp = ev.tatoeba.max_pairs
  if mp is not None and (isinstance(mp, bool) or not isinstance(mp, int) or mp < 1):
    raise JaxirError(f"eval.tatoeba.max_pairs must be a positive integer, got {mp!r}")
  c = ev.xnli.probe_c
  if c is not None and (isinstance(c, bool) or not isinstance(c, (int, float)) or not math.isfinite(c) or c <= 0):
    raise JaxirError(f"eval.xnli.probe_c must be a positive finite number, got {c!r}")


# ------------------------------------------------------------------ data checks (cheap: names and files)

def _tatoeba(cfg, root):
  from jaxir.data.tatoeba import DEFAULT_LANGS, ISO3, available, tatoeba_dir
  folder = tatoeba_dir(root)
  langs = list(cfg.langs or DEFAULT_LANGS)
  have = set(available(folder))
  missing = [l for l in langs if ISO3.get(l, l) not in have]
  if missing:
    raise JaxirError(f"language(s) {', '.join(missing)} not in {folder}")
  cfg.langs = langs


def _beir(cfg, root):
  from jaxir.data.beir import beir_dir
  if not cfg.datasets:
    found = sorted(p.name for p in (root / "beir").iterdir() if (p / "qrels").is_dir()) if (root / "beir").is_dir() else []
    if not found:
      raise JaxirError(f"no BEIR datasets in {root / 'beir'} (expected <dataset>/corpus.jsonl, queries.jsonl, qrels/test.tsv)")
    cfg.datasets = found
  for d in cfg.datasets:
    folder = beir_dir(root, d)
    need = {"corpus.jsonl": ("corpus.jsonl", "corpus.jsonl.gz"), "queries.jsonl": ("queries.jsonl", "queries.jsonl.gz"),
            "qrels/test.tsv": ("qrels/test.tsv",)}
    missing = [n for n, files in need.items() if not any((folder / f).is_file() for f in files)]
    if missing:
      raise JaxirError(f"{folder} is not a BEIR dataset: missing {', '.join(missing)}")


def _miracl(cfg, root, split="dev"):
  from jaxir.data import miracl
  mroot = miracl.miracl_root(root)
  cfg.langs = list(cfg.langs or miracl.available(mroot))
  for lang in cfg.langs:
    d = miracl._lang_dir(mroot, lang)
    for f in (d / "topics" / f"topics.miracl-v1.0-{lang}-{split}.tsv", d / "qrels" / f"qrels.miracl-v1.0-{lang}-{split}.tsv"):
      if not f.is_file():
        raise JaxirError(f"MIRACL {lang}: {f} not found")
    miracl._corpus_files(mroot, lang)


def _xnli(cfg, root):
  from jaxir.data.xnli import test_langs, xnli_dir
  folder = xnli_dir(root)
  have = test_langs(folder)
  langs = list(cfg.langs or have)
  missing = [l for l in dict.fromkeys(["en", *langs]) if l not in have]
  if missing:
    raise JaxirError(f"XNLI test language(s) {', '.join(missing)} not in {folder} (it has {' '.join(have) or 'none'})")
  if not any((folder / "dev").glob("*.tsv")) and not (folder / "xnli.dev.tsv").is_file():
    raise JaxirError(f"no English XNLI dev data in {folder} (expected dev/*.tsv or xnli.dev.tsv)")
  cfg.langs = langs


CHECKS = {"tatoeba": _tatoeba, "beir": _beir, "miracl": _miracl, "xnli": _xnli}


def check(spec):
  """Checks that the data of every requested extra benchmark is there; resolves options left None."""
  requested = [b for b in spec.eval.benchmarks if b in EXTRA]
  if not requested:
    return
  root, source = data_root(spec)
  for bench in requested:
    hint = f"point eval.data_dir=DIR (or $JAXIR_DATA) at the folder holding {bench}/"
    if not root.is_dir():
      raise JaxirError(f"eval.benchmarks has {bench}, but the data root {root} (from {source}) does not exist; {hint}")
    try:
      CHECKS[bench](getattr(spec.eval, bench), root)
    except JaxirError as e:
      raise JaxirError(f"eval.benchmarks has {bench}, but its data is missing: {e} (data root {root}, from {source}); "
                       f"{hint}") from None


# ------------------------------------------------------------------ a cell

def export_spec(spec, bench):
  """The `jaxir.encode_sets.Spec` of an extra benchmark under the sweep's options."""
  root, c = data_root(spec)[0], getattr(spec.eval, bench)
  if bench == "tatoeba":
    from jaxir.eval.bitext import tatoeba_spec
    return tatoeba_spec(root, c.langs, c.max_pairs)
  if bench == "beir":
    from jaxir.eval.ir import beir_spec
    return beir_spec(root, c.datasets)
  if bench == "miracl":
    from jaxir.eval.ir import miracl_spec
    return miracl_spec(root, c.langs)
  from jaxir.eval.xnli_probe import xnli_spec
  return xnli_spec(root, c.langs)


def run(bench, model, cell_dir, spec, verbose=False):
  """Exports `model` (a directory or a loaded `Pretrained`) into emb/<bench>/ and evaluates it into eval/<bench>/."""
  from jaxir.encode_sets import encode_spec
  from jaxir.eval.benchmarks import evaluate, write_outputs
  emb, out = Path(cell_dir) / "emb" / bench, Path(cell_dir) / "eval" / bench
  encode_spec(model, export_spec(spec, bench), emb, tokens_per_batch=spec.eval.tokens_per_batch, progress=verbose)
  probe_c = spec.eval.xnli.probe_c if bench == "xnli" else None
  summary, text = evaluate(emb, out, probe_c=probe_c, progress=verbose)
  write_outputs(summary, text, out)
  return summary

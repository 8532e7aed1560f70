"""The Python API (`import jaxir`): what the `jaxir` command runs, callable from a notebook.

  jaxir.load(model)                        an `Encoder`: .encode(texts, kind="query"|"passage") -> [n, dim]
  jaxir.train(config, overrides, **kw)     trains (or resumes) a run; returns its directory
  jaxir.evaluate(embeddings | model=, benchmark=)   LAReQA (or tatoeba / beir / miracl / xnli ...) summary dict
                                           (feedback="5:0.5:0.02": the best recipe's query feedback)
  jaxir.sweep(config, overrides, **kw)     runs (or resumes) a sweep; returns its directory
  jaxir.report(sweep_dir)                  writes a sweep's report; returns the path of report.md

Configs and overrides (train and sweep alike): `config` is a path to a `.py` (`get_config()`) or `.yaml`
file, a dict (nested, or with dotted keys), a `TrainConfig` (train), or None for the defaults.
`overrides` is a dict ({"batch.alpha": 0.25, "steps": 10}, nested dicts work too) or a list of
"KEY=VALUE" strings as on the command line (values parsed as YAML there); keyword arguments are
more overrides, with `__` for the dot: `jaxir.train(cfg, steps=10, batch__alpha=0.25)`. Later wins:
file or dict, then `overrides`, then keyword arguments.

Importing jaxir is cheap: JAX, TensorFlow and the model code load inside these functions.
"""
import os
import sys
import types
from pathlib import Path

from jaxir.errors import JaxirError

KINDS = ("query", "passage")


# ---------------------------------------------------------------- configs and overrides

def _merge(base, updates):
  out = dict(base)
  for k, v in updates.items():
    out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
  return out


def _nested(updates, what="train"):
  """{"a.b": 1, "c": {"d": 2}} or ["a.b=1", "c.d=2"] -> {"a": {"b": 1}, "c": {"d": 2}}."""
  from jaxir import config as config_lib
  if updates is None:
    return {}
  if isinstance(updates, (list, tuple)):
    if not all(isinstance(u, str) for u in updates):
      raise JaxirError(f"{what} overrides: a list holds KEY=VALUE strings, got {updates!r}")
    return config_lib.parse_overrides(updates)
  if not isinstance(updates, dict):
    raise JaxirError(f"{what} overrides must be a dict or a list of KEY=VALUE strings, got {type(updates).__name__}")
  out = {}
  for key, value in updates.items():
    if not isinstance(key, str) or not key:
      raise JaxirError(f"{what} overrides: {key!r} is not a config key name")
    *parents, leaf = key.split(".")
    value = _nested(value, what) if isinstance(value, dict) else value
    node = {leaf: value}
    for p in reversed(parents):
      node = {p: node}
    out = _merge(out, node)
  return out


def _raw_config(config, kw, overrides, what, sweep_train=False):
  """The config file or dict merged with `overrides` and `kw` (`__` for `.`), as one nested dict. A train config
  read from a sweep preset's file is refused, or with `sweep_train` is the preset's train section."""
  from jaxir import config as config_lib
  if config is None:
    raw = {}
  elif isinstance(config, dict):
    raw = _nested(config, what)
  elif isinstance(config, (str, os.PathLike)):
    raw = config_lib.load_file(config)
    if what == "train" and config_lib.is_sweep_preset(raw):
      if not sweep_train:
        keys = ", ".join(k for k in raw if k in config_lib.SWEEP_ONLY_KEYS)
        raise JaxirError(f"{config} is a sweep preset (it has {keys}), not a train config: run it "
                         f"with `jaxir sweep --config {config}`; `jaxir plan --config {config}` plans its training")
      raw = raw.get("train") or {}
    if what == "sweep" and not config_lib.is_sweep_preset(raw) and config_lib.train_only_keys(raw):
      keys = ", ".join(config_lib.train_only_keys(raw))
      raise JaxirError(f"{config} is a train config (it has {keys}), not a sweep preset: run it with "
                       f"`jaxir train --config {config}`")
  else:
    raise JaxirError(f"{what}: config must be a path to a .py / .yaml file or a dict, got {type(config).__name__}")
  raw = _merge(raw, _nested(overrides, what))
  return _merge(raw, _nested({k.replace("__", "."): v for k, v in kw.items()}, what))


def train_config(config=None, overrides=None, **kw):
  """The validated `TrainConfig` that `train` would run (see the module docstring for the arguments)."""
  return _train_config(config, overrides, kw)


def cell_train_config(config=None, overrides=None, **kw):
  """As `train_config`, and a sweep preset's file gives its train section: the settings every cell of the sweep
  trains with, but for the grid's batch type, α and seed (what `jaxir plan` plans: they change no shape)."""
  return _train_config(config, overrides, kw, sweep_train=True)


def _train_config(config, overrides, kw, sweep_train=False):
  from jaxir import config as config_lib
  base = {}
  if isinstance(config, config_lib.TrainConfig):
    base, config = config_lib.to_dict(config), None
  cfg = config_lib.from_dict(_merge(base, _raw_config(config, kw, overrides, "train", sweep_train)))
  config_lib.validate(cfg)
  return cfg


# ---------------------------------------------------------------- encoding

class Encoder:
  """A loaded model for encoding texts in memory (sentence-transformers style); from `jaxir.load`."""

  def __init__(self, pretrained, dtype="float32"):
    self.pretrained = pretrained
    self.dtype = dtype
    self._embedder = None

  @property
  def path(self):
    """The model directory."""
    return self.pretrained.path

  @property
  def meta(self):
    """How the model is used: pooling, normalize, query_prompt, passage_prompt, max_length, head, ..."""
    return self.pretrained.meta

  @property
  def dim(self):
    """Size of the embeddings."""
    return self.pretrained.dim

  def __repr__(self):
    return f"jaxir.Encoder({str(self.path)!r}, dim={self.dim}, pooling={self.meta.get('pooling')!r})"

  def prompt(self, kind):
    """The prompt the model puts before a `kind` ("query" | "passage") text."""
    _check_kind(kind)
    return self.meta.get(f"{kind}_prompt") or ""

  def encode(self, texts, kind="query", batch_size=1024, prompt=None, prompts=True, tokens_per_batch=8192,
             progress=False):
    """L2-normalised float32 embeddings [n, dim] of `texts` (a list of strings; one string gives [dim]).

    `kind` picks the model's prompt ("query" -> meta query_prompt, "passage" -> passage_prompt);
    `prompt="..."` uses that prompt instead, `prompts=False` none. `batch_size` texts are embedded per
    call (packed into rows of at most `tokens_per_batch` tokens)."""
    import numpy as np
    from jaxir.encode import Embedder, embed_texts
    _check_kind(kind)
    single = isinstance(texts, str)
    texts = [texts] if single else texts
    if not isinstance(texts, (list, tuple)):
      raise JaxirError(f"texts must be a string or a list of strings, got {type(texts).__name__}")
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
      raise JaxirError(f"texts[{bad}] is {type(texts[bad]).__name__}, not a string (encode takes a list of strings)")
    if prompt is not None and not isinstance(prompt, str):
      raise JaxirError(f"prompt must be a string, got {type(prompt).__name__}")
    if prompt is not None and not prompts:
      raise JaxirError("give prompt=... or prompts=False, not both")
    for name, value in (("batch_size", batch_size), ("tokens_per_batch", tokens_per_batch)):
      if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise JaxirError(f"{name} must be a positive integer, got {value!r}")
    head = prompt if prompt is not None else (self.prompt(kind) if prompts else "")
    pre = self.pretrained
    max_length = pre.max_length
    if self._embedder is None and texts:
      self._embedder = Embedder(pre, self.dtype)
    bar = None
    if progress:
      from tqdm import tqdm
      bar = tqdm(total=len(texts), desc=f"encode {kind}", unit="text", file=sys.stderr)
    parts = [embed_texts(pre, [head + t for t in texts[i:i + batch_size]], max_length, tokens_per_batch,
                         self.dtype, embedder=self._embedder, bar=bar) for i in range(0, len(texts), batch_size)]
    if bar is not None:
      bar.close()
    emb = np.concatenate(parts) if parts else np.zeros((0, self.dim), np.float32)
    emb = emb.astype(np.float32, copy=False)
    emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    return emb[0] if single else emb


def _check_kind(kind):
  if kind not in KINDS:
    raise JaxirError(f"kind must be 'query' or 'passage', got {kind!r}")


def load(model, dtype="float32"):
  """An `Encoder` for a model directory written by jaxir (or any supported Hugging Face / sentence-transformers
  directory, or `hf:ORG/NAME`); `dtype` "float32" or "bfloat16" for the computation."""
  from jaxir.model.hf_io import load_pretrained
  if dtype not in ("float32", "bfloat16"):
    raise JaxirError(f"dtype must be 'float32' or 'bfloat16', got {dtype!r}")
  return Encoder(load_pretrained(model), dtype)


# ---------------------------------------------------------------- training, evaluation, sweeps, reports

def train(config=None, overrides=None, *, progress=True, **kw):
  """Trains (or resumes) the run of `config` + overrides; returns its directory (`out_dir`).

  `jaxir.train("experiments/quick.py", {"batch.alpha": 0.25}, steps=10, out_dir="runs/try")`; see the
  module docstring for the forms of `config` and `overrides`. `progress=False`: no log lines on stderr."""
  from jaxir.train.trainer import train as run
  return Path(run(train_config(config, overrides, **kw), progress=progress))


def _is_sets_export(path):
  """Whether `path` is a finished `jaxir encode` export of a benchmark beyond LAReQA (the one manifest check,
  `encode_sets.load_export`); anything else is left to the LAReQA reader and its errors."""
  from jaxir.encode_sets import load_export
  try:
    load_export(path)
  except JaxirError:
    return False
  return True


def evaluate(embeddings=None, *, model=None, benchmark=None, out=None, data_dir=None, langs=None,
             train_langs=None, max_articles=None, chunk=128, baseline=None, datasets=None, top_k=100,
             block_rows=32768, query_chunk=256, approx=False, recall_target=0.95, probe_c=None, progress=True,
             feedback=None):
  """The summary dict of an evaluation, written to `out` (summary.json, table.txt, ...) when given.

  Give one of: `embeddings`, a directory written by `jaxir encode` (any benchmark); `model=` and
  `benchmark="xquad-r"|"mlqa-r"`, which encodes first (into `out/embeddings`, or a temporary folder
  without `out`; `data_dir` and `max_articles` choose the data); or `baseline="bm25"` with `benchmark=`.
  LAReQA summaries hold Mo, Cr, Mul, RD (macro means) and per-language / per-pair values. `feedback`: "K:W" or
  "K:W:T" (the recipe's is "5:0.5:0.02"), rank by a second search with each query moved toward its k first
  results (`jaxir.eval.feedback`; LAReQA, BEIR and MIRACL embeddings)."""
  return _evaluate(**{k: v for k, v in locals().items()})[0]


def _evaluate(embeddings=None, *, model=None, benchmark=None, out=None, data_dir=None, langs=None,
              train_langs=None, max_articles=None, chunk=128, baseline=None, datasets=None, top_k=100,
              block_rows=32768, query_chunk=256, approx=False, recall_target=0.95, probe_c=None, progress=True,
              feedback=None):
  """(summary, table text) of `evaluate`; the outputs are written to `out` when given."""
  from jaxir.eval import evaluate as lareqa_eval
  from jaxir.eval import feedback as feedback_lib
  if sum(x is not None for x in (embeddings, model, baseline)) != 1:
    raise JaxirError("evaluate needs one of: an embeddings directory, model= with benchmark=, or baseline='bm25'"
                     " with benchmark=")
  if (baseline is not None or model is not None) and max_articles is not None and max_articles < 1:
    raise JaxirError("--max-articles must be at least 1")
  if feedback is not None:
    feedback = feedback if isinstance(feedback, tuple) else feedback_lib.parse(feedback)
  if baseline is not None:
    if feedback is not None:
      raise JaxirError("--feedback re-ranks embeddings; the bm25 baseline has none")
    from jaxir.data.squad_r import load_benchmark
    from jaxir.eval import bm25
    if baseline != "bm25":
      raise JaxirError(f"unknown baseline {baseline!r} (jaxir has bm25)")
    if not benchmark:
      raise JaxirError("--baseline needs --benchmark xquad-r|mlqa-r|squad-r")
    summary, per_query = bm25.evaluate_mo(load_benchmark(benchmark, data_dir, langs, max_articles))
    summary["benchmark"] = benchmark
  elif model is not None:
    if benchmark not in ("xquad-r", "mlqa-r"):
      raise JaxirError(f"evaluate(model=...) needs benchmark='xquad-r' or 'mlqa-r', got {benchmark!r} (encode"
                       " other benchmarks with `jaxir encode`, then evaluate the export)")
    import tempfile
    from jaxir.encode import encode_benchmark
    with tempfile.TemporaryDirectory(prefix="jaxir-eval-") as tmp:
      emb_dir = Path(out) / "embeddings" if out is not None else Path(tmp) / "embeddings"
      if isinstance(model, Encoder):
        model = model.pretrained
      encode_benchmark(model, benchmark, emb_dir, data_dir, langs, max_articles, progress=progress)
      return _evaluate(emb_dir, out=out, train_langs=train_langs, chunk=chunk, feedback=feedback)
  elif _is_sets_export(embeddings):
    from jaxir.benchmarks import pipeline
    if max_articles is not None or train_langs:
      raise JaxirError("--max-articles and --train-langs apply to xquad-r / mlqa-r embeddings")
    if block_rows < 1 or query_chunk < 1:
      raise JaxirError("--block-rows and --query-chunk must be at least 1")
    summary, text = pipeline.evaluate(embeddings, out, {"langs": langs, "datasets": datasets, "probe_c": probe_c},
                                      top_k=top_k, block_rows=block_rows, query_chunk=query_chunk, approx=approx,
                                      recall_target=recall_target, progress=progress, feedback=feedback)
    if out is not None:
      pipeline.write_outputs(summary, text, out)
    return summary, text
  else:
    if chunk < 1:
      raise JaxirError("--chunk must be at least 1")
    summary, per_query = lareqa_eval.evaluate(embeddings, langs, train_langs, max_articles, chunk,
                                              check_train_langs=True, feedback=feedback)
  if out is not None:
    return summary, lareqa_eval.write_outputs(summary, per_query, out)
  return summary, lareqa_eval.table(summary)


def sweep_spec(config=None, overrides=None, *, out=None, **kw):
  """The validated sweep spec (`.cells()`, `.out_dir`) that `sweep` would run."""
  from jaxir.sweep import spec as spec_lib
  return spec_lib.build(_raw_config(config, kw, overrides, "sweep"), (), out)


def _cell_globs(cells):
  if cells is None:
    return None
  only = [g.strip() for g in (cells.split(",") if isinstance(cells, str) else cells) if g.strip()]
  if not only:
    raise JaxirError("--cells is empty; give cell names or globs, e.g. --cells 'hybrid_a0.5_*'")
  return only


def _sweep(spec, cells=None, progress=True, verbose=False):
  """(sweep directory, {cell: 'ran' | 'skipped' | 'busy'}) of running `spec`."""
  from jaxir.sweep.runner import run_sweep
  return run_sweep(spec, progress=progress, verbose=verbose, only=_cell_globs(cells))


def sweep(config=None, overrides=None, *, out=None, cells=None, progress=True, verbose=False, **kw):
  """Runs (or resumes) the sweep of `config` + overrides; returns its directory.

  `out`: the sweep directory (default: the config's out_dir); `cells`: names or globs (a list, or one
  comma-separated string) to run only those; `verbose`: also the trainer's log lines."""
  return _sweep(sweep_spec(config, overrides, out=out, **kw), cells, progress, verbose)[0]


def report(sweep_dir, out=None, resamples=9999, baseline=None):
  """Writes the report of a sweep directory (default `SWEEP_DIR/report`), or of an expected-scores file's recorded
  scores (`out` required; tests over seeds only); returns the path of its report.md (report.html and figures/
  beside it). `baseline`: "FILE.yaml:CONFIG", another recipe's cells CONFIG_s<seed>
  in an expected-scores file, compared seed by seed (`jaxir.report.baseline`)."""
  from jaxir.report.build import make_report
  if not isinstance(resamples, int) or resamples < 99:
    raise JaxirError(f"resamples must be an integer of at least 99, got {resamples!r}")
  return Path(make_report(sweep_dir, out, resamples=resamples, baseline=baseline)) / "report.md"


# ---------------------------------------------------------------- jaxir.train / .sweep / .report

def callable_package(name, func):
  """Makes the package `name` (jaxir.train, jaxir.sweep, jaxir.report) callable as `jaxir.api.<func>`, so that
  `jaxir.train(...)` works although `jaxir.train` is also the training package."""
  target = globals()[func]

  class Package(types.ModuleType):
    def __call__(self, *args, **kwargs):
      return target(*args, **kwargs)

  Package.__call__.__doc__ = target.__doc__
  Package.__name__ = Package.__qualname__ = f"{func}_package"
  sys.modules[name].__class__ = Package

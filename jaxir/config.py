"""Run configuration: typed sections, loaded from `experiments/*.py|yaml`, overridden on the command line.

A Python config defines `get_config()` returning a (nested) dict of overrides; a YAML config is
that dict. Command-line overrides are `section.key=value` (values parsed as YAML: `0.5`, `true`,
`[en, de]`). An unknown key is one clear error that suggests the closest known key. A number field
takes numbers the way a person writes them (`1e10`, `2E-5`, `.5`, `-3e-4`; YAML 1.1 reads those as
strings). `validate` gives every field its range (NaN and infinity never pass), so a bad setting is
one line before anything is written.
"""
import dataclasses
import difflib
import importlib.util
import math
import os
import re
import types
import typing
from pathlib import Path

from jaxir import loss_registry, storage
from jaxir.schema import LANG_CODE
from jaxir.errors import JaxirError

BATCH_TYPES = ("x_x_mono", "x_y", "hybrid", "mixed")
POSITIVES = ("sentence", "sentence+paragraph", "paragraph")
SOURCES = ("mlqa-r", "pairs", "squad-r")   # mlqa-r: the data root's MLQA-R; pairs, squad-r: data.path
ON_BAD_ROWS = ("error", "skip")
MONO_LANG = ("uniform", "size")
EXTRA_MIX = ("size", "weights")
SCHEDULES = ("linear", "cosine")
DTYPES = ("auto", "float32", "bfloat16", "float16")
MIN_TEMPERATURE = 0.01               # a learnt temperature is clipped below (CLIP's logit-scale cap of 100)
EXTRA_MONO_KEYS = ("path", "lang", "weight")
HARD_NEGATIVE_LANGS = ("positive", "query", "both")


@dataclasses.dataclass
class DataConfig:
  source: str = "mlqa-r"             # one of SOURCES: where the pairs come from
  path: str | None = None            # pairs: a JSONL / Parquet / CSV / TSV file, a folder of them or a
                                     # `datasets` folder; squad-r: a folder of <lang>.json -R files
  on_bad_rows: str = "error"         # pairs: "error" (stop at the first bad row) or "skip" (count them)
  data_dir: str | None = None        # default: $JAXIR_DATA, else ../shared/data
  langs: list | None = None          # None: every language of the source
  dev_fraction: float = 0.2          # share of articles (by title) held out as the dev split
  split_seed: int = 0
  positive: str = "sentence"         # one of POSITIVES
  hard_negatives: int = 0            # other sentences of the positive's paragraph, per pair
  hard_negative_lang: str = "positive"  # "positive": in the positive's language; "query": an x_y pair's hard
                                     # negatives are the wrong sentences of the query's own (parallel) paragraph;
                                     # "both": half from each (needs hard_negatives >= 2)
  extra_mono: list = dataclasses.field(default_factory=list)  # [{path, lang, weight}] -R files, mono only
  extra_mix: str = "size"            # "size" | "weights": how extra sources mix with the main one
  extra_pairs: list = dataclasses.field(default_factory=list)  # pair files (data.source=pairs format), train only
  max_query_length: int = 64
  max_passage_length: int = 128


@dataclasses.dataclass
class BatchConfig:
  batch_type: str = "hybrid"         # one of BATCH_TYPES
  alpha: float = 0.5                 # P(a batch is x_x_mono) for hybrid; P(an example is mono) for mixed
  batch_size: int = 32               # global batch, over all hosts and devices
  mono_lang: str = "uniform"         # "uniform" | "size": how x_x_mono draws its language
  seed: int = 0                      # batch types and order are a pure function of (seed, step)
  prefetch: int = 2
  pack: bool = True                  # pack each host's texts into rows (no padding compute); false: pad


@dataclasses.dataclass
class ModelConfig:
  name: str = "runs/e5-small"        # Hugging Face directory or hub id
  dtype: str = "auto"                # "auto": bfloat16 on TPU/GPU, float32 on CPU
  freeze_embeddings: bool = False
  dropout: bool = True
  query_prompt: str | None = None    # prefix of every query; None: the model's own (its jaxir.json), "": none
  passage_prompt: str | None = None  # likewise for passages; a trained model exports the prompts it used


@dataclasses.dataclass
class OptimConfig:
  learning_rate: float = 2e-5
  warmup_steps: int = 30
  schedule: str = "linear"           # "linear" | "cosine" decay after warmup
  weight_decay: float = 0.01
  clip_norm: float = 1.0              # global-norm clipping; 0: none


@dataclasses.dataclass
class LossConfig:
  name: str = "info_nce"             # an entry of the loss table, `jaxir.loss_registry.LOSSES`
  temperature: float = 0.05
  learn_temperature: bool = False
  temperature_learning_rate: float | None = None  # the learnt log-temperature's own Adam peak rate; None: optim's
  symmetric: bool = False            # add the passage->query direction
  grad_cache_chunk: int | None = None  # embed the global batch in chunks of this size (GradCache)


@dataclasses.dataclass
class MeshConfig:
  data: int = -1                     # -1: all devices not used by the model axis
  model: int = 1                     # parameter sharding for encoders too large to replicate


@dataclasses.dataclass
class TrainConfig:
  out_dir: str = "runs/train"
  steps: int = 300
  log_every: int = 10
  eval_every: int = 100              # dev evaluation on the held-out split every N steps and after the last; 0: never
  checkpoint_every: int = 100
  keep_checkpoints: int = 2          # at least 1: the last checkpoint holds the trained weights
  export: bool = True                # write a Hugging Face directory at the end
  data: DataConfig = dataclasses.field(default_factory=DataConfig)
  batch: BatchConfig = dataclasses.field(default_factory=BatchConfig)
  model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
  optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
  loss: LossConfig = dataclasses.field(default_factory=LossConfig)
  mesh: MeshConfig = dataclasses.field(default_factory=MeshConfig)


def _keys(cls, prefix=""):
  out = []
  for f in dataclasses.fields(cls):
    if dataclasses.is_dataclass(f.default_factory if f.default_factory is not dataclasses.MISSING else None):
      out += _keys(f.default_factory, f"{prefix}{f.name}.")
    else:
      out.append(f"{prefix}{f.name}")
  return out


def _unknown(key, cls):
  close = difflib.get_close_matches(key, _keys(cls), n=1, cutoff=0.5)
  hint = f"; did you mean {close[0]}?" if close else ""
  return JaxirError(f"unknown config key {key!r}{hint}")


_TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string", list: "a list"}


_NUMBER = re.compile(r"[-+]?(\d[\d_]*\.?\d*|\.\d+)([eE][-+]?\d+)?|[-+]?\.?(inf|infinity|nan)", re.IGNORECASE)


def parse_number(value):
  """The float a person means by the string `value` (`1e10`, `1E-5`, `.5`, `-3e-4`, `inf`, `nan`), else None."""
  if not isinstance(value, str) or not _NUMBER.fullmatch(value.strip()):
    return None
  return float(value.strip().lower().replace(".inf", "inf").replace(".nan", "nan"))


def _checked(key, value, hint):
  """`value` if it fits the field's type hint (bool, int, float, str, list, or X | None), a number
  string as that number; else one error."""
  allowed = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
  if value is None and type(None) in allowed:
    return value
  number = parse_number(value)
  for t in allowed:
    if t is str and isinstance(value, os.PathLike):
      return os.fspath(value)
    if t is float and isinstance(value, (int, float)) and not isinstance(value, bool):
      return value
    if t is float and number is not None:
      return number
    if t is int and number is not None and math.isfinite(number) and number.is_integer():
      return int(number)
    if t in (bool, str, list) and isinstance(value, t) or t is int and isinstance(value, int) and not isinstance(value, bool):
      return value
    if t not in _TYPE_NAMES and t is not type(None):
      return value        # a type this check does not know: left to `validate`
  names = " or ".join(_TYPE_NAMES.get(t, "null") for t in allowed)
  raise JaxirError(f"config key {key!r} must be {names}, got {value!r}")


def _apply(obj, updates, prefix=""):
  hints = typing.get_type_hints(type(obj))
  for k, v in updates.items():
    names = {f.name: f for f in dataclasses.fields(obj)}
    if k not in names:
      raise _unknown(prefix + k, TrainConfig)
    cur = getattr(obj, k)
    if dataclasses.is_dataclass(cur):
      if not isinstance(v, dict):
        raise JaxirError(f"config key {prefix + k!r} is a section; give its keys ({prefix + k}.KEY=VALUE)")
      _apply(cur, v, f"{prefix}{k}.")
    else:
      setattr(obj, k, _checked(prefix + k, v, hints[k]))


def _parse_value(text):
  import yaml
  from jaxir import storage
  try:
    return storage.yaml_loads(text)
  except yaml.YAMLError:
    return text


def parse_overrides(items):
  """['batch.alpha=0.25', 'steps=10'] -> nested dict."""
  out = {}
  for item in items or []:
    if "=" not in item:
      raise JaxirError(f"override {item!r} is not KEY=VALUE")
    key, value = item.split("=", 1)
    node = out
    *parents, leaf = key.strip().split(".")
    for p in parents:
      node = node.setdefault(p, {})
    node[leaf] = _parse_value(value)
  return out


def load_file(path):
  """The dict of overrides in a `.py` (`get_config()`) or `.yaml` config file."""
  path = Path(path)
  if not path.is_file():
    raise JaxirError(f"config not found: {path}")
  if path.suffix in (".yaml", ".yml"):
    obj = storage.read_yaml(path, "config") or {}
  elif path.suffix == ".py":
    spec = importlib.util.spec_from_file_location(f"jaxir_config_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "get_config"):
      raise JaxirError(f"{path}: a Python config must define get_config()")
    obj = module.get_config()
  else:
    raise JaxirError(f"{path}: config must be .py or .yaml")
  if not isinstance(obj, dict):
    raise JaxirError(f"{path}: the config must be a mapping of keys to values")
  return obj


SWEEP_KEYS = ("out_dir", "prune_checkpoints", "train", "grid", "eval", "models_from")  # a sweep preset's top level
_TRAIN_KEYS = frozenset(f.name for f in dataclasses.fields(TrainConfig))
SWEEP_ONLY_KEYS = frozenset(SWEEP_KEYS) - _TRAIN_KEYS    # only a sweep preset has them at its top level
TRAIN_ONLY_KEYS = _TRAIN_KEYS - frozenset(SWEEP_KEYS)    # only a train config has them at its top level


def is_sweep_preset(obj):
  """Whether a loaded config file is a sweep preset rather than a train config: it has a top-level key that only a
  sweep has (train, grid, eval, models_from, prune_checkpoints). A train config has none of them."""
  return isinstance(obj, dict) and any(k in SWEEP_ONLY_KEYS for k in obj)


def train_only_keys(obj):
  """The top-level keys of a loaded config that only a train config has (steps, data, ...), sorted."""
  return sorted(set(obj) & TRAIN_ONLY_KEYS)


def build(path=None, overrides=(), base=None):
  """TrainConfig from defaults, then a config file, then `key=value` overrides; validated."""
  cfg = base or TrainConfig()
  if path:
    _apply(cfg, load_file(path))
  _apply(cfg, parse_overrides(overrides))
  validate(cfg)
  return cfg


def _fields(obj, prefix=""):
  """(dotted key, owner, field name, type hint) of every leaf field of a config dataclass."""
  hints = typing.get_type_hints(type(obj))
  for f in dataclasses.fields(obj):
    value = getattr(obj, f.name)
    if dataclasses.is_dataclass(value):
      yield from _fields(value, f"{prefix}{f.name}.")
    else:
      yield f"{prefix}{f.name}", obj, f.name, hints[f.name]


def _range(key, value, low, high=None, low_open=False, high_open=False):
  """One error unless `value` is finite and `low <= value <= high` (open ends as asked; no `high`: unbounded)."""
  too_low = value <= low if low_open else value < low
  too_high = high is not None and (value >= high if high_open else value > high)
  if not math.isfinite(value) or too_low or too_high:
    if high is not None:
      where = f"lie in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    else:
      where = (f"be greater than {low:g}" if low_open else f"be at least {low:g}") + (
          "" if isinstance(value, int) else " and finite")
    raise JaxirError(f"{key} must {where}, got {value}")


def _choice(key, value, choices, what=None):
  if value not in choices:
    raise JaxirError(f"unknown {what or key} {value!r}; choose from {', '.join(choices)}")


def check_alpha(value, key="batch.alpha"):
  """One JaxirError unless alpha (a probability: hybrid's P(a batch is x_x_mono), mixed's P(an example is mono))
  is a number in [0, 1]; `key` names it (the sweep's grid.alphas)."""
  if isinstance(value, bool) or not isinstance(value, (int, float)):
    raise JaxirError(f"{key} must lie in [0, 1], got {value}")
  _range(key, value, 0.0, 1.0)


def check_batch_type(name):
  """One JaxirError unless `name` is one of BATCH_TYPES."""
  _choice("batch.batch_type", name, BATCH_TYPES, "batch type")


def chunk_count(pairs, chunk):
  """How many chunks GradCache cuts a global batch of `pairs` pairs into: pairs / chunk (1 without GradCache,
  `chunk` None or 0). A packed batch's rows on each data device are padded to a multiple of it, so every chunk
  has as many rows; the trainer, the step's checks and `jaxir plan` all count chunks with this."""
  return pairs // chunk if chunk else 1


def grad_cache_chunks(cfg):
  """`chunk_count` of a config's global batch (batch.batch_size, loss.grad_cache_chunk)."""
  return chunk_count(cfg.batch.batch_size, cfg.loss.grad_cache_chunk)


def check_hard_negative_lang(lang, k):
  """One JaxirError unless `lang` is one of HARD_NEGATIVE_LANGS and `k` hard negatives per pair can be split as it
  asks ("both": at least one from each language's paragraph)."""
  _choice("data.hard_negative_lang", lang, HARD_NEGATIVE_LANGS)
  if lang == "both" and k < 2:
    raise JaxirError(f"data.hard_negative_lang=both needs data.hard_negatives >= 2 (half from each language's "
                     f"paragraph), got {k}")


def check_extra_mono(entries):
  """Raises one JaxirError unless `entries` is a list of {path, lang[, weight]} with a language code
  and a positive finite weight; returns them with number strings as numbers."""
  out = []
  for i, spec in enumerate(entries or []):
    key = f"data.extra_mono[{i}]"
    if not isinstance(spec, dict) or "path" not in spec or "lang" not in spec:
      raise JaxirError(f"{key} must be a mapping with 'path' and 'lang' (and optional 'weight'), got {spec!r}")
    unknown = sorted(set(map(str, spec)) - set(EXTRA_MONO_KEYS))
    if unknown:
      close = difflib.get_close_matches(unknown[0], EXTRA_MONO_KEYS, n=1, cutoff=0.5)
      raise JaxirError(f"{key} has unknown key(s) {', '.join(unknown)}" + (f" (did you mean {close[0]}?)" if close else "")
                       + "; use path, lang, weight")
    path, lang = spec["path"], spec["lang"]
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path).strip():
      raise JaxirError(f"{key}.path must be a file path, got {path!r}")
    if not isinstance(lang, str) or not LANG_CODE.fullmatch(lang):
      raise JaxirError(f"{key}.lang must be a language code such as en or zh-Hans, got {lang!r}")
    weight = spec.get("weight", 1.0)
    weight = parse_number(weight) if isinstance(weight, str) and parse_number(weight) is not None else weight
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight <= 0:
      raise JaxirError(f"{key}.weight must be a positive number (not NaN or infinity), got {spec.get('weight')!r}")
    out.append({**spec, "path": os.fspath(path), **({"weight": weight} if "weight" in spec else {})})
  return out


def check_extra_pairs(entries, source):
  """Raises one JaxirError unless `entries` is a list of file paths (pair files of `data.source=pairs`'s
  formats) given beside an -R source; returns them as strings."""
  if entries and source == "pairs":
    raise JaxirError("data.extra_pairs works with -R sources; with data.source=pairs add those rows to the pairs file")
  if not isinstance(entries, (list, tuple)):
    raise JaxirError(f"data.extra_pairs must be a list of pair files, got {entries!r}")
  out = []
  for i, path in enumerate(entries):
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path).strip():
      raise JaxirError(f"data.extra_pairs[{i}] must be a file path, got {path!r}")
    out.append(os.fspath(path))
  return out


def validate(cfg):
  """Raises one JaxirError for the first setting of `cfg` outside its range (types first; number
  strings become numbers). Nothing here reads data or touches JAX: the trainer and the sweep call it
  before anything is written."""
  for key, owner, name, hint in _fields(cfg):
    setattr(owner, name, _checked(key, getattr(owner, name), hint))
  b, d, m, o, l, mesh = cfg.batch, cfg.data, cfg.model, cfg.optim, cfg.loss, cfg.mesh
  _range("steps", cfg.steps, 1)
  _range("log_every", cfg.log_every, 1)
  _range("eval_every", cfg.eval_every, 0)   # 0: never
  _range("checkpoint_every", cfg.checkpoint_every, 1)
  if cfg.keep_checkpoints < 1:
    raise JaxirError(f"keep_checkpoints must be at least 1, got {cfg.keep_checkpoints}: the last checkpoint holds "
                     "the trained weights" + ("" if cfg.export else " (and export=false writes no other copy)"))
  # data
  _validate_data_source(d)
  if d.langs is not None:
    if not d.langs:
      raise JaxirError(f"data.langs is empty; leave it out for every language of {d.source}")
    if d.source == "mlqa-r":
      from jaxir.data.squad_r import BENCHMARK_LANGS
      known = BENCHMARK_LANGS[d.source]
      unknown = [str(x) for x in d.langs if x not in known]
      if unknown:
        raise JaxirError(f"data.langs: unknown language(s) {', '.join(unknown)} for {d.source}; it has {' '.join(known)}")
    else:                           # pairs / squad-r: the loader checks the languages against the files
      bad = [str(x) for x in d.langs if not (isinstance(x, str) and LANG_CODE.fullmatch(x))]
      if bad:
        raise JaxirError(f"data.langs: {', '.join(bad)} is not a language code such as en or zh-Hans")
    dup = next((x for i, x in enumerate(d.langs) if x in d.langs[:i]), None)
    if dup is not None:
      raise JaxirError(f"data.langs lists {dup} twice")
  _range("data.dev_fraction", d.dev_fraction, 0.0, 1.0, low_open=True, high_open=True)
  _range("data.split_seed", d.split_seed, 0)
  _choice("data.positive", d.positive, POSITIVES)
  _range("data.hard_negatives", d.hard_negatives, 0)
  check_hard_negative_lang(d.hard_negative_lang, d.hard_negatives)
  if d.hard_negative_lang != "positive" and (d.source == "pairs" or d.extra_pairs):
    raise JaxirError(f"data.hard_negative_lang={d.hard_negative_lang} needs parallel -R data (data.source=mlqa-r or "
                     "squad-r) and no data.extra_pairs: pair files carry no query-language paragraph")
  d.extra_mono = check_extra_mono(d.extra_mono)
  _choice("data.extra_mix", d.extra_mix, EXTRA_MIX)
  d.extra_pairs = check_extra_pairs(d.extra_pairs, d.source)
  _range("data.max_query_length", d.max_query_length, 1)
  _range("data.max_passage_length", d.max_passage_length, 1)
  # batch
  check_batch_type(b.batch_type)
  check_alpha(b.alpha)
  if b.batch_size < 2:
    raise JaxirError(f"batch.batch_size must be at least 2 (in-batch negatives), got {b.batch_size}")
  _choice("batch.mono_lang", b.mono_lang, MONO_LANG)
  _range("batch.seed", b.seed, 0)
  _range("batch.prefetch", b.prefetch, 1)
  # model
  if not m.name.strip():
    raise JaxirError("model.name is empty; give a Hugging Face directory or hub id")
  _choice("model.dtype", m.dtype, DTYPES)
  # optim
  _range("optim.learning_rate", o.learning_rate, 0.0)
  _range("optim.warmup_steps", o.warmup_steps, 0)
  _choice("optim.schedule", o.schedule, SCHEDULES)
  _range("optim.weight_decay", o.weight_decay, 0.0)
  _range("optim.clip_norm", o.clip_norm, 0.0)
  # loss
  loss = loss_registry.get(l.name)
  if "negatives" in loss.needs and not d.hard_negatives:
    raise JaxirError(f"loss.name={l.name} needs hard negatives: set data.hard_negatives to at least 1")
  if d.hard_negatives and "negatives" not in loss.needs + loss.optional:
    raise JaxirError(f"loss.name={l.name} does not use hard negatives: set data.hard_negatives=0")
  _range("loss.temperature", l.temperature, 0.0, low_open=True)
  if l.temperature_learning_rate is not None:
    if not l.learn_temperature:
      raise JaxirError("loss.temperature_learning_rate needs loss.learn_temperature=true (a fixed temperature "
                       "has no learning rate)")
    _range("loss.temperature_learning_rate", l.temperature_learning_rate, 0, low_open=True)
  if l.learn_temperature and l.temperature < MIN_TEMPERATURE:
    raise JaxirError(f"loss.temperature must be at least {MIN_TEMPERATURE:g} with loss.learn_temperature "
                     f"(a learnt temperature is clipped there), got {l.temperature}")
  if l.grad_cache_chunk is not None:
    _range("loss.grad_cache_chunk", l.grad_cache_chunk, 1)
    if b.batch_size % l.grad_cache_chunk:
      raise JaxirError(f"loss.grad_cache_chunk={l.grad_cache_chunk} does not divide batch.batch_size={b.batch_size}")
  # mesh
  if mesh.data != -1 and mesh.data < 1:
    raise JaxirError(f"mesh.data must be -1 (every device the model axis leaves) or at least 1, got {mesh.data}")
  _range("mesh.model", mesh.model, 1)


def _validate_data_source(d):
  """data.source, data.path and data.on_bad_rows: a known source, and a path that exists where one is needed."""
  if d.source not in SOURCES:
    raise JaxirError(f"unknown data.source {d.source!r}; choose from {', '.join(SOURCES)}")
  if d.on_bad_rows not in ON_BAD_ROWS:
    raise JaxirError(f"unknown data.on_bad_rows {d.on_bad_rows!r}; choose from {', '.join(ON_BAD_ROWS)}")
  if d.source == "mlqa-r":
    if d.path is not None:
      raise JaxirError("data.path is read only by data.source=pairs or squad-r (mlqa-r comes from data.data_dir)")
    return
  if not d.path:
    what = "a JSONL, Parquet, CSV or TSV file or folder" if d.source == "pairs" else "a folder of <lang>.json -R files"
    raise JaxirError(f"data.source={d.source} needs data.path=PATH ({what})")
  path = Path(d.path).expanduser()
  if not path.exists():
    raise JaxirError(f"data.path not found: {path}")
  if d.source == "squad-r" and not path.is_dir():
    raise JaxirError(f"data.source=squad-r needs data.path to be a folder of <lang>.json -R files, got the file {path}")


def flat(d, prefix=""):
  """{dotted key: value} of a nested mapping (an empty mapping is a value)."""
  out = {}
  for k, v in d.items():
    if isinstance(v, dict) and v:
      out.update(flat(v, f"{prefix}{k}."))
    else:
      out[f"{prefix}{k}"] = v
  return out


def differing(old, new):
  """The dotted keys, sorted, where two config records (nested mappings: a run's config.json, a sweep's
  spec) differ. A key that one side lacks counts as unchanged when the other side's value is None or
  jaxir's default for it: a setting added since the older record was written, as that record ran
  (e.g. model.query_prompt, data.on_bad_rows). A sweep spec's `train.` keys have the train defaults."""
  defaults = flat(to_dict(TrainConfig()))
  x, y = flat(old), flat(new)

  def added(key):
    if (key in x) == (key in y):
      return False
    value = x.get(key, y.get(key))
    bare = key.removeprefix("train.")
    return value is None or (bare in defaults and value == defaults[bare])

  return sorted(k for k in set(x) | set(y) if x.get(k) != y.get(k) and not added(k))


def to_dict(cfg):
  return dataclasses.asdict(cfg)


def from_dict(obj):
  cfg = TrainConfig()
  _apply(cfg, obj)
  return cfg

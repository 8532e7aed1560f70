"""Run configuration: typed sections, loaded from `experiments/*.py|yaml`, overridden on the command line.

A Python config defines `get_config()` returning a (nested) dict of overrides; a YAML config is
that dict. Command-line overrides are `section.key=value` (values parsed as YAML: `0.5`, `true`,
`[en, de]`). An unknown key is one clear error that suggests the closest known key.
"""
import dataclasses
import difflib
import importlib.util
import os
import types
import typing
from pathlib import Path

from jaxir import io
from jaxir.errors import JaxirError

BATCH_TYPES = ("x_x_mono", "x_y", "hybrid", "mixed")
POSITIVES = ("sentence", "sentence+paragraph", "paragraph")


@dataclasses.dataclass
class DataConfig:
  source: str = "mlqa-r"             # parallel QA benchmark the pairs come from
  data_dir: str | None = None        # default: $JAXIR_DATA, else ../shared/data
  langs: list | None = None          # None: every language of the source
  dev_fraction: float = 0.2          # share of articles (by title) held out as the dev split
  split_seed: int = 0
  positive: str = "sentence"         # one of POSITIVES
  hard_negatives: int = 0            # other sentences of the positive's paragraph, per pair
  extra_mono: list = dataclasses.field(default_factory=list)  # [{path, lang, weight}] -R files, mono only
  extra_mix: str = "size"            # "size" | "weights": how extra sources mix with the main one
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
  clip_norm: float = 1.0


@dataclasses.dataclass
class LossConfig:
  temperature: float = 0.05
  learn_temperature: bool = False
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
  eval_every: int = 100              # dev evaluation on the held-out MLQA-R split; 0: never
  checkpoint_every: int = 100
  keep_checkpoints: int = 2
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


def _checked(key, value, hint):
  """`value` if it fits the field's type hint (bool, int, float, str, list, or X | None); else one error."""
  allowed = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
  if value is None and type(None) in allowed:
    return value
  for t in allowed:
    if t is str and isinstance(value, os.PathLike):
      return os.fspath(value)
    if t is float and isinstance(value, (int, float)) and not isinstance(value, bool):
      return value
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
  try:
    return yaml.safe_load(text)
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
    obj = io.read_yaml(path, "config") or {}
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


def build(path=None, overrides=(), base=None):
  """TrainConfig from defaults, then a config file, then `key=value` overrides; validated."""
  cfg = base or TrainConfig()
  if path:
    _apply(cfg, load_file(path))
  _apply(cfg, parse_overrides(overrides))
  validate(cfg)
  return cfg


def validate(cfg):
  b, d = cfg.batch, cfg.data
  if not 0.0 <= b.alpha <= 1.0:
    raise JaxirError(f"batch.alpha must lie in [0, 1], got {b.alpha}")
  if b.batch_type not in BATCH_TYPES:
    raise JaxirError(f"unknown batch type {b.batch_type!r}; choose from {', '.join(BATCH_TYPES)}")
  if d.positive not in POSITIVES:
    raise JaxirError(f"unknown data.positive {d.positive!r}; choose from {', '.join(POSITIVES)}")
  if b.batch_size < 2:
    raise JaxirError(f"batch.batch_size must be at least 2 (in-batch negatives), got {b.batch_size}")
  if cfg.steps < 1:
    raise JaxirError(f"steps must be at least 1, got {cfg.steps}")
  if not 0.0 < d.dev_fraction < 1.0:
    raise JaxirError(f"data.dev_fraction must lie in (0, 1), got {d.dev_fraction}")
  if cfg.loss.temperature <= 0:
    raise JaxirError(f"loss.temperature must be positive, got {cfg.loss.temperature}")
  if cfg.loss.grad_cache_chunk and b.pack:
    raise JaxirError("loss.grad_cache_chunk needs padded batches: add batch.pack=false")


def to_dict(cfg):
  return dataclasses.asdict(cfg)


def from_dict(obj):
  cfg = TrainConfig()
  _apply(cfg, obj)
  return cfg

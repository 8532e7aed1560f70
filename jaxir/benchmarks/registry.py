"""The benchmark registry: one `Benchmark` per benchmark, read by `jaxir encode`, `jaxir eval`, the sweep,
the report and the model card.

A benchmark is one module under `jaxir/benchmarks/` that ends with `register(Benchmark(...))`, plus one
import line in `jaxir/benchmarks/__init__.py`. Two kinds:

  lareqa   Mo / Cr / Mul mAP and RD from a `jaxir.encode` export (xquad-r, mlqa-r, mlqa-r-dev, squad-r):
           the report's main sections; the sweep evaluates them in `jaxir.sweep.cell`
  sets     named text sets exported by `jaxir.encode_sets` and evaluated by the benchmark itself
           (tatoeba, beir, miracl, xnli, or a new one): it declares its options, data check, what to
           encode, how to evaluate, its summary metrics and its report notes; every tool reads them here

Options of a sets benchmark are a dataclass whose fields are `list | None` (names), `int | None` (a
positive integer) or `float | None` (a positive finite number), each None by default. The same class
serves the sweep config (`eval.<key>.<field>`, any field), `jaxir encode` (`--langs`, `--datasets`,
`--max-pairs`), `jaxir eval` (`--langs`, `--datasets`, `--probe-c`) and the Python API, so the checks below
are written once; a field of another name is a sweep option until those commands get its flag.
At evaluation, lists of names pick a subset of what the export holds (None: all of it).
"""
import dataclasses
import difflib
import math
import typing
from typing import Callable

from jaxir.errors import JaxirError

KINDS = ("lareqa", "sets")
TOOLS = ("encode", "sweep")


@dataclasses.dataclass(frozen=True)
class Metric:
  """A summary metric the report draws against alpha, tabulates and checks against expected scores."""
  name: str                     # panel title and table row
  get: Callable                 # summary -> float | None
  higher_is_better: bool = True
  unit: str = ""                # the figure's y axis


@dataclasses.dataclass(frozen=True)
class Card:
  """How the model card's model-index names a benchmark's results."""
  task: str                     # e.g. "retrieval"
  dataset_type: str
  dataset_name: str
  split: str
  metrics: tuple                # ((summary key, metric type, metric name), ...)


@dataclasses.dataclass(frozen=True)
class Benchmark:
  """One benchmark: what every tool needs to know of it (the sets fields are None for a lareqa one)."""
  name: str                     # as in --benchmark, eval.benchmarks, emb/<name>/, eval/<name>/
  kind: str                     # "lareqa" | "sets"
  title: str                    # the report's heading / figure title
  card: Card
  options: type | None = None   # sets: the options dataclass (sweep config section eval.<key>)
  check: Callable | None = None     # sets: (options, data root) -> None; JaxirError when the data is absent;
                                    #   resolves options left None to what the data holds
  sets: Callable | None = None      # sets: (data root, options) -> jaxir.encode_sets.Spec, what to encode
  evaluate: Callable | None = None  # sets: (export dir, out | None, options, **knobs) -> summary (with headline)
  table: Callable | None = None     # sets: summary -> printed table text
  metrics: Callable = lambda summaries: []   # summaries -> [Metric] (BEIR: one per dataset found)
  notes: Callable = lambda summary: ""       # summary -> what was evaluated, one sentence (the report)
  scores: tuple = ()            # summary keys the report reads: numbers or null, type-checked on load
  tools: tuple = TOOLS          # where it can be run: "encode" (`jaxir encode`), "sweep" (eval.benchmarks)
  feedback: bool = False        # sets: whether evaluate ranks with knobs["feedback"] (`jaxir.eval.feedback`)

  @property
  def key(self):
    """The sweep config section of its options (`eval.<key>`)."""
    return self.name.replace("-", "_")


REGISTRY = {}


def number(x):
  """A summary's value as a float for a `Metric` (None where the summary has none)."""
  return None if x is None else float(x)


def register(bench):
  """Adds a benchmark (its name must be new); returns it."""
  if bench.kind not in KINDS:
    raise ValueError(f"benchmark {bench.name!r}: kind must be one of {KINDS}, got {bench.kind!r}")
  if bench.kind == "sets" and None in (bench.options, bench.check, bench.sets, bench.evaluate, bench.table):
    raise ValueError(f"benchmark {bench.name!r}: a sets benchmark declares options, check, sets, evaluate and table")
  if bench.name in REGISTRY:
    raise ValueError(f"benchmark {bench.name!r} is registered twice")
  REGISTRY[bench.name] = bench
  return bench


def names(kind=None, tool=None):
  """The registered names, in registration order (of `kind`, run by `tool`, when given)."""
  return [n for n, b in REGISTRY.items() if kind in (None, b.kind) and (tool is None or tool in b.tools)]


def get(name, kind=None, tool=None):
  """The registered benchmark `name` (of `kind`, run by `tool`, when given); JaxirError naming the known
  ones otherwise."""
  bench = REGISTRY.get(name)
  if bench is None or name not in names(kind, tool):
    known = names(kind, tool)
    close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.5)
    raise JaxirError(f"unknown benchmark {name!r}" + (f"; did you mean {close[0]}?" if close else "")
                     + f" (choose from {', '.join(known)})")
  return bench


# ------------------------------------------------------------------ options

def option_kind(options_cls, field):
  """"names", "int" or "float": what an options field holds (from its annotation)."""
  hint = typing.get_type_hints(options_cls)[field]
  args = set(typing.get_args(hint)) - {type(None)} or {hint}
  for t, kind in ((list, "names"), (int, "int"), (float, "float")):
    if t in args:
      return kind
  raise TypeError(f"{options_cls.__name__}.{field}: options are list, int or float (or None), got {hint}")


def fields(options_cls):
  return [f.name for f in dataclasses.fields(options_cls)]


def normalise_options(opts, prefix, as_list, parse_number):
  """Values as a person writes them in a config, made typed: one name -> [name], 1e4 -> 10000."""
  for f in fields(type(opts)):
    value, kind = getattr(opts, f), option_kind(type(opts), f)
    if kind == "names":
      value = as_list(value, f"{prefix}.{f}")
      setattr(opts, f, None if value is None else [str(v) for v in value])
    else:
      x = parse_number(value)
      if x is not None:
        setattr(opts, f, x if kind == "float" or not math.isfinite(x) or not x.is_integer() else int(x))


def validate_options(opts, key):
  """Types and ranges of an options object, no data read; errors name the option as `key(field)` does."""
  for f in fields(type(opts)):
    value, kind, key_f = getattr(opts, f), option_kind(type(opts), f), key(f)
    if value is None:
      continue
    if kind == "names":
      if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise JaxirError(f"{key_f} must be a non-empty list of names, got {value!r}")
      if len(set(value)) != len(value):
        raise JaxirError(f"{key_f} lists a name twice: {value!r}")
    elif kind == "int":
      if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise JaxirError(f"{key_f} must be a positive integer, got {value!r}")
    elif isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
      raise JaxirError(f"{key_f} must be a positive finite number, got {value!r}")
  if hasattr(opts, "check_values"):              # a benchmark's own ranges (e.g. tatoeba's half: 1 or 2)
    opts.check_values(key)


def all_names(opts):
  """`opts` with every list of names cleared: evaluate all that an export made with them holds (beir's
  datasets may be given as folders, the export names them by their folder name)."""
  return dataclasses.replace(opts, **{f: None for f in fields(type(opts)) if option_kind(type(opts), f) == "names"})


def takers(field):
  """The sets benchmarks that have the option `field`."""
  return [b.name for b in REGISTRY.values() if b.options is not None and field in fields(b.options)]


def make_options(bench, given, flag=lambda f: f"--{f.replace('_', '-')}"):
  """The options of `bench` from {field: value} (None: not given); JaxirError for a value given to a
  benchmark without that option, naming the benchmarks that have it."""
  have = fields(bench.options)
  for f, value in given.items():
    if value is not None and f not in have:
      raise JaxirError(f"{flag(f)} applies to --benchmark {', '.join(takers(f))}, not {bench.name}" if takers(f)
                       else f"{flag(f)} does not apply to --benchmark {bench.name}")
  opts = bench.options(**{f: v for f, v in given.items() if f in have})
  validate_options(opts, flag)
  return opts

"""The table of training losses, by the name `loss.name` gives: each entry's function and the batch towers it needs.

A loss is a function `(emb, temperature, cfg) -> (loss, metrics)` on pooled embeddings: `emb` maps each tower
of the batch ("queries" [B, H], "passages" [B, H], "negatives" [M, H]: the batch fields
`query_ids`/`query_mask` or `query_slot`, and so on) to its embeddings, `temperature` is a float32 scalar
(fixed or learnt), `cfg` the run's LossConfig. It returns a float32 scalar and a dict of float32 scalars
that holds at least "loss" (every entry is logged). The step keeps the queries sharded over `data` and
gathers the other towers, so every query scores the global batch (the layout T5X Retrieval's
`in_batch_cross_entropy` takes). The step checks a batch against the chosen entry's `needs` and
`optional` towers before tracing it (`jaxir.train.step.validate_batch`).

Adding a loss is one function (any module) and one line in `LOSSES`. The table names functions by
"module:attribute" and imports them only when a step is built, so `jaxir.config` validates `loss.name`
here without importing JAX, and nothing here imports `jaxir.train`.
"""
import dataclasses
import importlib

from jaxir.errors import JaxirError

TOWERS = ("queries", "passages", "negatives")   # the order of the step's towers (and their dropout keys)


@dataclasses.dataclass(frozen=True)
class Loss:
  function: str                # "module:attribute" of `(emb, temperature, cfg) -> (loss, metrics)`
  needs: tuple                 # towers every batch must hold
  optional: tuple = ()         # towers the loss uses when the batch holds them (e.g. hard negatives)

  def __post_init__(self):
    unknown = [t for t in self.needs + self.optional if t not in TOWERS]
    if unknown or ":" not in self.function:
      raise ValueError(f"bad loss entry {self}: towers must be among {TOWERS}, function 'module:attribute'")

  def load(self):
    """The loss function itself (imports its module)."""
    module, attr = self.function.split(":")
    return getattr(importlib.import_module(module), attr)


LOSSES = {
    "info_nce": Loss("jaxir.train.losses:info_nce_loss", needs=("queries", "passages"), optional=("negatives",)),
}


def check_name(name):
  """Raises one JaxirError line, listing the names, unless `name` is in the table."""
  if name not in LOSSES:
    raise JaxirError(f"unknown loss.name {name!r}; choose from {', '.join(LOSSES)}")


def get(name):
  """The table's entry for `name` (one JaxirError line when there is none)."""
  check_name(name)
  return LOSSES[name]

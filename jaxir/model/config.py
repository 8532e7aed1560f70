"""A model's config, read from HF `config.json`: the family registered for its `model_type` builds it.

Each family has its own config class (`jaxir.model.family.Family.config_cls`); all of them have `model_type`,
`vocab_size`, `hidden_size`, `num_layers`, `max_length` and `to_hf()`, which is all that code outside the
family reads.
"""
from jaxir import schema
from jaxir.model import families


def from_hf(hf, where="config.json"):
  """The config of the family of `hf['model_type']` (a config.json dict read from `where`); JaxirError, one line,
  for an unsupported model_type or a bad field."""
  schema.check(hf, dict, str(where))
  return families.for_model_type(hf.get("model_type")).config_cls.from_hf(hf, where=where)


class EncoderConfig:
  """`EncoderConfig.from_hf(hf)`: the name callers have used for `from_hf`; it builds any family's config."""
  from_hf = staticmethod(from_hf)

  def __new__(cls, *args, **kwargs):
    raise TypeError("EncoderConfig is not a config class: use EncoderConfig.from_hf, or a family's config_cls")

"""The model families jaxir knows: one registry line each (the record is `jaxir.model.family.Family`).

Adding a family is its module plus one `family.register(...)` line here. Code that needs a family imports this
module (so the built-in ones are registered) and asks `for_model_type` (config.json's `model_type`) or `of_config`.
"""
from jaxir.model import bert, family, qwen3
from jaxir.model.family import REGISTRY, for_model_type, of_config  # noqa: F401  (what callers use)

family.register(bert.FAMILY)
family.register(qwen3.FAMILY)

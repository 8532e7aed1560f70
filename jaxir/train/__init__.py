"""Training: contrastive losses, mesh and sharding, train state and the jitted (GradCache) step.

Calling the package, `jaxir.train(config, ...)`, runs `jaxir.api.train`.
"""
from jaxir.api import callable_package

callable_package(__name__, "train")

"""jaxir: multilingual dense retrievers in JAX/Flax, trained with hybrid batch sampling.

Data flow: data (``jaxir.data``) -> pairs -> hybrid batches -> sharded train step ->
export embeddings (``jaxir.encode``) -> evaluation (``jaxir.eval``) -> report.
"""
__version__ = "0.1.0"

"""The text encoder of a model: the Flax module of its config's family, with its pooling, Dense head and norm.

`Encoder(config, ...)` returns the family's module (BERT / XLM-R: `jaxir.model.bert.BertEncoder`); every family's
module has `__call__` (pooled, normalised [B, H'] embeddings of padded rows), `token_states` ([B, T, H]) and
`packed` (pooled [B, S, H'] embeddings of several texts per row); see `jaxir.model.family`. Parameters are float32;
`dtype` is the compute dtype.
"""
import jax.numpy as jnp

from jaxir.model import families


def Encoder(config, pooling=None, normalize=True, dtype=jnp.float32, head_features=None, head_activation="tanh"):
  """The Flax module of `config`'s family; `pooling` None is the family's default (its first pooling)."""
  fam = families.of_config(config)
  return fam.module(config, pooling=pooling or fam.default_pooling, normalize=normalize, dtype=dtype,
                    head_features=head_features, head_activation=head_activation)


def poolings(config):
  """The pooling modes `config`'s family allows, the default first."""
  return families.of_config(config).poolings

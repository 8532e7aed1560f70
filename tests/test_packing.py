"""Sequence packing: a packed text's embedding equals its embedding alone; the plan covers every text once."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxir import packing
from jaxir.model.config import EncoderConfig
from jaxir.model.encoder import Encoder


def _config(model_type):
  return EncoderConfig.from_hf({"model_type": model_type, "vocab_size": 100, "hidden_size": 32,
                                "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64,
                                "max_position_embeddings": 80, "type_vocab_size": 1, "pad_token_id": 1})


@pytest.mark.parametrize("model_type, pooling", [("bert", "mean"), ("xlm-roberta", "mean"), ("bert", "cls")])
def test_packed_equals_alone(model_type, pooling):
  config = _config(model_type)
  model = Encoder(config, pooling=pooling)
  rng = np.random.default_rng(0)
  token_ids = [list(rng.integers(5, 100, size=n)) for n in (3, 17, 9, 30, 1, 12, 25, 40, 7)]
  params = model.init(jax.random.key(0), jnp.ones((1, 4), jnp.int32), jnp.ones((1, 4), jnp.int32))["params"]
  steps = packing.plan([len(t) for t in token_ids], max_length=64, tokens_per_batch=96, row_length=32)
  # jit-compiled: one compile per shape, where op-by-op dispatch would compile every primitive per shape
  packed_fn = jax.jit(lambda *a: model.apply({"params": params}, *a, method=model.packed), static_argnums=3)
  alone_fn = jax.jit(lambda t: model.apply({"params": params}, t, jnp.ones_like(t)))
  assert sorted(m for s in steps for m in s.members) == list(range(len(token_ids)))
  assert any(len(row) > 1 for s in steps for row in s.rows)        # something really was packed
  for step in steps:
    ids, seg, pos = packing.arrays(step, token_ids, config.pad_token_id)
    packed = np.asarray(packed_fn(ids, seg, pos, step.segments))
    got = packing.unpack(step, packed)
    for row_emb, m in zip(got, step.members):
      t = np.asarray(token_ids[m], np.int32)[None]
      alone = np.asarray(alone_fn(t))[0]
      np.testing.assert_allclose(row_emb, alone, atol=2e-5)


def test_plan_shapes_are_few_and_divisible():
  lengths = np.minimum(np.random.default_rng(1).lognormal(3.4, 0.6, size=2000).astype(int) + 3, 600)  # sentence-like, some > 128
  steps = packing.plan(lengths, max_length=512, tokens_per_batch=4096, row_length=128, multiple_of=4)
  assert sorted(m for s in steps for m in s.members) == list(range(2000))
  shapes = {(s.length, s.batch, s.segments) for s in steps}
  assert len(shapes) <= 2 * len({s.length for s in steps})
  assert all(s.batch % 4 == 0 and len(s.rows) <= s.batch for s in steps)
  for s in steps:
    assert all(sum(min(lengths[m], s.length) for m in row) <= s.length for row in s.rows)
  # Packing wastes little: real tokens over compiled tokens.
  used = sum(int(lengths[m]) for s in steps for m in s.members)
  assert used / sum(s.batch * s.length for s in steps) > 0.85

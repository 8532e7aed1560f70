"""Model families: the registry, a toy family added as one file plus one registry line and run through encode
and a train step, and the checked sharding rules (on 4 fake CPU devices, in a subprocess)."""
import copy
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

import toy_family
from conftest import xla_flags
import train_worker as tw
from jaxir.errors import JaxirError
from jaxir.model import families, family

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def toy():
  family.register(toy_family.FAMILY)   # the one registry line a new family needs (in jaxir/model/families.py)
  yield toy_family.FAMILY
  family.unregister(toy_family.FAMILY.name)


def test_registry_finds_families_by_model_type_and_config(toy):
  assert families.for_model_type("xlm-roberta").name == families.for_model_type("bert").name == "bert"
  assert families.for_model_type("toy-enc") is toy
  assert families.of_config(toy_family.ToyConfig()) is toy
  with pytest.raises(JaxirError, match=r"unsupported model_type 'gpt2' in config.json \(jaxir supports bert, "
                                       r"xlm-roberta, (qwen3, )?toy-enc\)"):
    families.for_model_type("gpt2")
  with pytest.raises(ValueError, match="claims model_type 'bert' of family 'bert'"):
    family.register(dataclasses.replace(toy, name="other", model_types=("bert",)))


def _word_tokenizer(words):
  """A tiny whole-word tokenizer (<s> text </s>), as transformers loads and saves it."""
  from tokenizers import Tokenizer, models, pre_tokenizers, processors
  from transformers import PreTrainedTokenizerFast
  vocab = {w: i for i, w in enumerate(["<pad>", "<unk>", "<s>", "</s>", *words])}
  tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
  tok.pre_tokenizer = pre_tokenizers.Whitespace()
  tok.post_processor = processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 2), ("</s>", 3)])
  return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>", bos_token="<s>",
                                 eos_token="</s>")


def test_toy_family_saves_loads_and_encodes(toy, tmp_path):
  import jaxir
  from jaxir.model import hf_io
  texts = ["hello world , this is a toy .", "guten tag !", "x"]
  tokenizer = _word_tokenizer(sorted({w for t in texts for w in t.split()}))
  config = toy_family.ToyConfig(vocab_size=len(tokenizer))
  meta = dict(hf_io.default_meta(config), pooling="last")
  pre = hf_io.Pretrained(config, None, tokenizer, meta)
  ids = np.ones((1, 4), np.int32)
  pre.params = jax.tree.map(np.asarray, pre.encoder().init(jax.random.key(0), ids, ids)["params"])
  out = hf_io.save_pretrained(pre, tmp_path / "toy")
  assert json.loads((out / "config.json").read_text())["model_type"] == "toy-enc"
  assert json.loads((out / "1_Pooling" / "config.json").read_text())["pooling_mode_lasttoken"]

  back = hf_io.load_pretrained(out)
  assert back.config == config and back.meta["pooling"] == "last"
  for a, b in zip(jax.tree.leaves(pre.params), jax.tree.leaves(back.params)):
    np.testing.assert_array_equal(a, b)
  got = jaxir.load(out).encode(texts, kind="passage", tokens_per_batch=64)   # packed rows, jit: the encode path
  b = tokenizer(texts, padding=True, return_tensors="np")
  want = np.asarray(back.encoder().apply({"params": back.params}, b["input_ids"], b["attention_mask"]))
  assert got.shape == (3, config.hidden_size)
  np.testing.assert_allclose(got, want, atol=1e-5)


def test_toy_family_trains_with_its_frozen_subtree(toy):
  from jaxir.train import mesh as mesh_lib
  from jaxir.train import state as state_lib
  from jaxir.train import step as step_lib
  encoder, cfg = toy.module(toy_family.ToyConfig(vocab_size=100)), tw.tiny_config()
  cfg.model.freeze_embeddings = True
  mesh = mesh_lib.make_mesh(cfg.mesh)
  state = state_lib.create_train_state(encoder, cfg, mesh, seed=0)
  plain = tw.flat(step_lib.make_grad_fn(encoder, cfg, mesh)(state, tw.make_batch())[0])
  cached_cfg = copy.deepcopy(cfg)
  cached_cfg.loss.grad_cache_chunk = 4     # GradCache holds the frozen params out of its vjp
  cached = tw.flat(step_lib.make_grad_fn(encoder, cached_cfg, mesh)(state, tw.make_batch())[0])
  assert plain.keys() == cached.keys()
  for k in ("params/embed/embedding", "params/pos/embedding"):
    assert not plain[k].any() and not cached[k].any()
  for k in ("params/mix/kernel", "params/mix/bias"):
    assert np.abs(plain[k]).max() > 1e-6
    np.testing.assert_allclose(cached[k], plain[k], rtol=0, atol=1e-5 * np.abs(plain[k]).max())
  before = tw.flat(state.params)
  state, metrics = step_lib.make_train_step(encoder, cfg, mesh)(state, tw.make_batch())
  after = tw.flat(state.params)
  changed = {k for k in before if not np.array_equal(before[k], after[k])}
  assert changed == {"mix/kernel", "mix/bias"} and np.isfinite(float(metrics["loss"]))


def test_sharding_rules_are_checked_on_a_model_axis():
  env = dict(os.environ, XLA_FLAGS=xla_flags("--xla_force_host_platform_device_count=4"), JAX_PLATFORMS="cpu",
             PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]))
  run = subprocess.run([sys.executable, str(ROOT / "tests" / "toy_family.py"), "sharding"], env=env,
                       capture_output=True, text=True, timeout=300)
  assert run.returncode == 0, run.stderr[-2000:]
  out = json.loads(run.stdout.strip().splitlines()[-1])
  assert out["devices"] == 4
  assert out["specs"] == {"embed/embedding": ["model", "None"], "mix/kernel": ["None", "model"],
                          "mix/bias": [], "pos/embedding": []}
  assert out["moment_specs"] == [["model", "None"]] * 2     # Adam's mu and nu follow the param
  assert out["unlisted_model2"] == ("param mix/bias matches no sharding rule of the model family and is not listed"
                                    " as replicated: cannot shard it over mesh.model=2")
  assert out["unlisted_model1"] == "ok"                      # no model axis: everything is replicated anyway

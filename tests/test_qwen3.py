"""The Qwen3 family against transformers' PyTorch `Qwen3Model` on a random tiny config (2 layers, hidden 64,
4 heads, 2 kv heads, head_dim 16, vocab 128): token states and pooled embeddings, causal + last-token and
bidirectional + mean, with left and right padding; packed == unpacked; the HF weight map both ways and
directories written by `save_pretrained` (no weights can be downloaded here: all models are random); a
transformers-written directory through `jaxir.load(...).encode` and jaxir's export; the train step's gradients
with the `model` axis sharding the matrices (4 fake CPU devices, in a subprocess).

The bidirectional reference is transformers' own `Qwen3Model` given a full 4-D additive attention mask
([B, 1, T, T]: 0 for real keys, the float32 minimum for padding keys, no causal triangle), which it uses as is.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from safetensors.numpy import load_file, save_file
from transformers import Qwen3Config as TorchQwen3Config
from transformers import Qwen3ForCausalLM, Qwen3Model

from conftest import xla_flags
from jaxir.errors import JaxirError
from jaxir.model import qwen3

ROOT = Path(__file__).resolve().parents[1]
TOL = 1e-5
VOCAB, T = 128, 10


def _torch_config(**kw):
  kw = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, head_dim=16, max_position_embeddings=64, rope_theta=10000.0) | kw
  return TorchQwen3Config(attn_implementation="eager", **kw)


def _randomize(model, seed):
  """Random weights everywhere, the RMSNorm scales too (they start at 1, which would hide a mis-mapped norm)."""
  gen = torch.Generator().manual_seed(seed)
  with torch.no_grad():
    for name, p in model.named_parameters():
      noise = torch.randn(p.shape, generator=gen) * (0.2 if "norm" in name else 0.05)
      p.copy_((1.0 if "norm" in name else 0.0) + noise)
  return model.eval()


@pytest.fixture(scope="module")
def torch_model():
  torch.manual_seed(0)
  return _randomize(Qwen3Model(_torch_config()), seed=1)


@pytest.fixture(scope="module")
def jax_model(torch_model):
  cfg = qwen3.Qwen3Config.from_hf(torch_model.config.to_dict())
  tensors = {k: v.numpy() for k, v in torch_model.state_dict().items()}
  return cfg, qwen3.params_from_hf(tensors, cfg)


def _batch():
  """Row 0 full; rows 1 and 2 the same 6-token text right- and left-padded; row 3 a 3-token text left-padded."""
  ids = np.random.RandomState(0).randint(0, VOCAB, (4, T))
  mask = np.ones((4, T), np.int64)
  text = ids[1, :6].copy()
  mask[1, 6:] = 0
  ids[2], mask[2] = np.roll(ids[1], 4), np.roll(mask[1], 4)   # 4 pads first, then `text`
  ids[1, 6:] = ids[2, :4] = 0
  mask[3, :7] = 0
  assert (ids[2, 4:] == text).all()
  return ids, mask


def _torch_states(model, ids, mask, bidirectional=False, default_positions=False):
  kw = {}
  if not default_positions:   # jaxir's positions: a text's real tokens from 0
    kw["position_ids"] = torch.tensor(np.maximum(np.cumsum(mask, 1) - 1, 0))
  am = torch.tensor(mask)
  if bidirectional:
    am = torch.where(am[:, None, None, :].bool(), 0.0, torch.finfo(torch.float32).min)
  with torch.no_grad():
    return model(input_ids=torch.tensor(ids), attention_mask=am, **kw).last_hidden_state.numpy()


def _normalize(x):
  return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_causal_last_token_matches_torch(torch_model, jax_model):
  cfg, params = jax_model
  ids, mask = _batch()
  enc = qwen3.FAMILY.module(cfg)   # the defaults: last-token pooling, so causal attention
  assert enc.pooling == "last" and enc.causal
  h = np.asarray(enc.apply({"params": params}, jnp.asarray(ids), jnp.asarray(mask), method="token_states"))
  pooled = np.asarray(enc.apply({"params": params}, jnp.asarray(ids), jnp.asarray(mask)))
  last = np.array([9, 5, 9, 9])   # the last real token of each row, wherever the padding is
  for default_positions in (False, True):   # HF's arange(T) shifts left-padded positions: RoPE cancels it
    ref = _torch_states(torch_model, ids, mask, default_positions=default_positions)
    assert np.abs((h - ref) * mask[..., None]).max() <= TOL
    assert np.abs(pooled - _normalize(ref[np.arange(4), last])).max() <= TOL
  assert np.abs(pooled[1] - pooled[2]).max() <= TOL   # right- and left-padded: the same embedding


def test_bidirectional_mean_matches_torch(torch_model, jax_model):
  cfg, params = jax_model
  ids, mask = _batch()
  enc = qwen3.FAMILY.module(cfg, pooling="mean")   # mean pooling brings bidirectional attention
  assert not enc.causal
  h = np.asarray(enc.apply({"params": params}, jnp.asarray(ids), jnp.asarray(mask), method="token_states"))
  pooled = np.asarray(enc.apply({"params": params}, jnp.asarray(ids), jnp.asarray(mask)))
  ref = _torch_states(torch_model, ids, mask, bidirectional=True)
  assert np.abs((h - ref) * mask[..., None]).max() <= TOL
  mean = (ref * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
  assert np.abs(pooled - _normalize(mean)).max() <= TOL
  causal_mean = qwen3.FAMILY.module(cfg, pooling="mean", attention="causal")   # the explicit override
  causal = np.asarray(causal_mean.apply({"params": params}, jnp.asarray(ids), jnp.asarray(mask),
                                        method="token_states"))
  assert np.abs((causal - _torch_states(torch_model, ids, mask)) * mask[..., None]).max() <= TOL
  assert np.abs(h - causal)[0, :-1].max() > 1e-3   # the option changes the states (all but the last token)


@pytest.mark.parametrize("pooling", ["last", "mean"])
def test_packed_equals_unpacked(jax_model, pooling):
  cfg, params = jax_model
  rng = np.random.RandomState(1)
  lengths = [[4, 3, 2], [5]]   # row 0: three texts and one padding token; row 1: one text, 5 padding tokens
  ids, seg, pos = np.zeros((2, T), np.int32), np.zeros((2, T), np.int32), np.zeros((2, T), np.int32)
  texts = []
  for r, row in enumerate(lengths):
    at = 0
    for s, n in enumerate(row):
      toks = rng.randint(1, VOCAB, n)
      ids[r, at:at + n], seg[r, at:at + n], pos[r, at:at + n] = toks, s + 1, np.arange(n)
      texts.append(((r, s), toks))
      at += n
  enc = qwen3.FAMILY.module(cfg, pooling=pooling)
  packed = np.asarray(enc.apply({"params": params}, jnp.asarray(ids), jnp.asarray(seg), jnp.asarray(pos), 3,
                                method="packed"))
  padded_ids, padded_mask = np.zeros((len(texts), T), np.int32), np.zeros((len(texts), T), np.int32)
  for i, (_, toks) in enumerate(texts):
    padded_ids[i, :len(toks)], padded_mask[i, :len(toks)] = toks, 1
  alone = np.asarray(enc.apply({"params": params}, jnp.asarray(padded_ids), jnp.asarray(padded_mask)))
  for i, ((r, s), _) in enumerate(texts):
    assert np.abs(packed[r, s] - alone[i]).max() <= TOL
  assert np.abs(packed[1, 1:]).max() == 0   # empty segments are zero vectors


def test_params_hf_round_trip(torch_model, jax_model):
  cfg, params = jax_model
  tensors = qwen3.params_to_hf(params, cfg)
  assert tensors.keys() == torch_model.state_dict().keys()
  for k, v in torch_model.state_dict().items():
    assert np.array_equal(tensors[k], v.numpy())
  again = qwen3.params_from_hf(tensors, cfg)
  assert jax.tree.structure(again) == jax.tree.structure(params)
  assert all(jax.tree.leaves(jax.tree.map(np.array_equal, again, params)))
  # the same tree as the module initialises (no tensor left out, none extra)
  shapes = jax.eval_shape(qwen3.FAMILY.module(cfg).init, jax.random.key(0), jnp.zeros((1, 4), jnp.int32),
                          jnp.ones((1, 4), jnp.int32))["params"]
  assert jax.tree.map(lambda a: a.shape, shapes) == jax.tree.map(lambda a: a.shape, params)
  # Qwen3ForCausalLM names: the `model.` prefix is stripped and the LM head ignored
  prefixed = {f"model.{k}": v for k, v in tensors.items()} | {"lm_head.weight": tensors["embed_tokens.weight"]}
  assert all(jax.tree.leaves(jax.tree.map(np.array_equal, qwen3.params_from_hf(prefixed, cfg), params)))


def test_params_from_hf_rejects_bad_weights(jax_model):
  cfg, params = jax_model
  good = qwen3.params_to_hf(params, cfg)
  bad_cases = {
      "lack layers.1.mlp.up_proj.weight": {k: v for k, v in good.items() if k != "layers.1.mlp.up_proj.weight"},
      "has shape": good | {"norm.weight": np.ones(3, np.float32)},
      "unexpected tensor 'layers.0.extra.weight'": good | {"layers.0.extra.weight": np.ones(3, np.float32)},
      "non-finite": good | {"layers.0.self_attn.q_norm.weight": np.full(16, np.nan, np.float32)},
      "both with and without": good | {"model.norm.weight": good["norm.weight"]},
  }
  for message, tensors in bad_cases.items():
    with pytest.raises(JaxirError, match=message):
      qwen3.params_from_hf(tensors, cfg)


def test_config_from_hf(torch_model):
  hf = torch_model.config.to_dict()
  cfg = qwen3.Qwen3Config.from_hf(hf)
  assert (cfg.num_layers, cfg.num_heads, cfg.num_kv_heads, cfg.head_dim, cfg.rope_theta) == (2, 4, 2, 16, 10000.0)
  assert qwen3.Qwen3Config.from_hf(cfg.to_hf()) == cfg
  legacy = {k: v for k, v in hf.items() if k != "rope_parameters"} | {"rope_theta": 5e5, "rope_scaling": None}
  assert qwen3.Qwen3Config.from_hf(legacy).rope_theta == 5e5   # transformers < 5 config.json
  for change, message in [({"use_sliding_window": True}, "use_sliding_window"),
                          ({"rope_parameters": {"rope_type": "yarn", "rope_theta": 1e4}}, "RoPE type 'yarn'"),
                          ({"num_key_value_heads": 3}, "not a multiple"),
                          ({"hidden_size": "64"}, "field 'hidden_size' must be an integer"),
                          ({"model_type": "bert"}, "not a Qwen3 model")]:
    with pytest.raises(JaxirError, match=message):
      qwen3.Qwen3Config.from_hf(hf | change, where="m/config.json")


def test_save_pretrained_directories_load_and_export(tmp_path, torch_model):
  """A causal-LM checkpoint written by transformers loads into jaxir and gives Qwen3Model's states; jaxir's
  export (config.to_hf + params_to_hf as model.safetensors) loads in transformers' AutoModel unchanged."""
  from transformers import AutoModel
  lm = Qwen3ForCausalLM(_torch_config(tie_word_embeddings=False))
  lm.model.load_state_dict(torch_model.state_dict())
  lm.save_pretrained(tmp_path / "hf")
  hf = json.loads((tmp_path / "hf" / "config.json").read_text())
  cfg = qwen3.Qwen3Config.from_hf(hf, where=tmp_path / "hf" / "config.json")
  params = qwen3.params_from_hf(load_file(tmp_path / "hf" / "model.safetensors"), cfg)
  ids, mask = _batch()
  h = np.asarray(qwen3.FAMILY.module(cfg).apply({"params": params}, jnp.asarray(ids), jnp.asarray(mask),
                                          method="token_states"))
  ref = _torch_states(torch_model, ids, mask)
  assert np.abs((h - ref) * mask[..., None]).max() <= TOL

  out = tmp_path / "export"
  out.mkdir()
  (out / "config.json").write_text(json.dumps(cfg.to_hf()))
  save_file(qwen3.params_to_hf(params, cfg), out / "model.safetensors", metadata={"format": "pt"})
  back = AutoModel.from_pretrained(out, attn_implementation="eager").eval()
  assert type(back).__name__ == "Qwen3Model"
  assert np.abs((_torch_states(back, ids, mask) - ref) * mask[..., None]).max() == 0


def test_sharding_rules_cover_every_param(jax_model):
  """Every param is sharded by a rule or listed as replicated (never both); only the embeddings freeze."""
  import re
  cfg, params = jax_model
  paths = ["/".join(str(k.key) for k in p) for p, _ in jax.tree_util.tree_flatten_with_path(params)[0]]
  for path in paths:
    ruled = [spec for pattern, spec in qwen3.SHARDING_RULES if re.search(pattern, path)]
    replicated = any(re.search(p, path) for p in qwen3.REPLICATED)
    assert bool(ruled) != replicated, path
    if "norm" in path:
      assert replicated, path
  spec = lambda path: next(s for p, s in qwen3.SHARDING_RULES if re.search(p, path))
  assert spec("layers_0/self_attn/k_proj/kernel") == jax.sharding.PartitionSpec(None, "model")
  assert spec("layers_1/mlp/down_proj/kernel") == jax.sharding.PartitionSpec("model", None)
  frozen = [p for p in paths if any(re.search(f, p) for f in qwen3.FROZEN)]
  assert frozen == ["embed_tokens/embedding"]


def test_flops_per_token(jax_model):
  """Matmul FLOPs: 2 per kernel weight, plus scores and weighted sum over `length` keys for each query head."""
  cfg, params = jax_model
  kernels = sum(x.size for p, x in jax.tree_util.tree_flatten_with_path(params)[0] if p[-1].key == "kernel")
  length = 10
  assert qwen3.flops_per_token(cfg, length) == 2 * kernels + cfg.num_layers * 4 * length * 4 * 16


def test_query_prompt():
  assert qwen3.query_prompt("Find it") == "Instruct: Find it\nQuery:"
  assert qwen3.QUERY_PROMPT.startswith("Instruct: ") and qwen3.QUERY_PROMPT.endswith("\nQuery:")


def test_registered_family(torch_model):
  """config.json's model_type 'qwen3' finds this family; the generic config reader and Encoder build it."""
  from jaxir.model import config, encoder, families
  assert families.for_model_type("qwen3") is qwen3.FAMILY
  cfg = config.from_hf(torch_model.config.to_dict())
  assert isinstance(cfg, qwen3.Qwen3Config) and families.of_config(cfg) is qwen3.FAMILY
  enc = encoder.Encoder(cfg)
  assert isinstance(enc, qwen3.Qwen3Encoder) and enc.pooling == "last"
  with pytest.raises(ValueError, match="pooling must be one of"):
    encoder.Encoder(cfg, pooling="cls").init(jax.random.key(0), jnp.zeros((1, 2), jnp.int32),
                                             jnp.ones((1, 2), jnp.int32))


def test_bfloat16_compute(jax_model):
  """bfloat16 matmuls stay near float32 (float32 outputs). (Gradients: the train-step test below.)"""
  cfg, params = jax_model
  ids, mask = (jnp.asarray(a) for a in _batch())
  f32 = qwen3.FAMILY.module(cfg).apply({"params": params}, ids, mask)
  bf16 = qwen3.FAMILY.module(cfg, dtype=jnp.bfloat16).apply({"params": params}, ids, mask)
  assert bf16.dtype == jnp.float32 and float(jnp.abs(bf16 - f32).max()) < 2e-2


def _tiny_tokenizer():
  """A byte-level BPE tokenizer (vocab 299, trained here on two sentences) that ends every text with
  `<|endoftext|>`, as Qwen3-Embedding's does, and pads with it."""
  from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
  from transformers import PreTrainedTokenizerFast
  tok = Tokenizer(models.BPE())
  tok.pre_tokenizer, tok.decoder = pre_tokenizers.ByteLevel(add_prefix_space=False), decoders.ByteLevel()
  trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>"], show_progress=False,
                                initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
  tok.train_from_iterator(["Who wrote Faust? Goethe wrote Faust.", "Wie hoch ist der Eiffelturm? 330 m."], trainer)
  eos = tok.token_to_id("<|endoftext|>")
  tok.post_processor = processors.TemplateProcessing(single="$A <|endoftext|>", special_tokens=[("<|endoftext|>", eos)])
  return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>",
                                 model_max_length=64)


def test_hf_directory_encodes_and_exports_through_jaxir(tmp_path):
  """A Qwen3 directory written by transformers (weights, config, tokenizer) loads with `jaxir.load` and encodes
  as PyTorch's last token; jaxir's export of it loads in AutoModel and sentence-transformers, last-token
  pooling included, and gives the same embeddings."""
  import jaxir
  from sentence_transformers import SentenceTransformer
  from transformers import AutoModel
  from jaxir.model import hf_io
  tokenizer = _tiny_tokenizer()
  torch.manual_seed(0)
  tm = _randomize(Qwen3Model(_torch_config(vocab_size=len(tokenizer))), seed=2)
  tm.save_pretrained(tmp_path / "hf")
  tokenizer.save_pretrained(tmp_path / "hf")
  texts = ["Who wrote Faust?", "Wie hoch ist der Eiffelturm? Sehr hoch: 330 m.", "x"]
  ref = []
  for t in texts:
    with torch.no_grad():
      ref.append(tm(input_ids=tokenizer([t], return_tensors="pt")["input_ids"]).last_hidden_state[0, -1].numpy())
  ref = _normalize(np.stack(ref))
  model = jaxir.load(tmp_path / "hf")
  assert model.meta["pooling"] == "last" and model.dim == 64
  assert np.abs(model.encode(texts) - ref).max() <= TOL

  pre = model.pretrained
  pre.meta["normalize"] = True
  out = hf_io.save_pretrained(pre, tmp_path / "export")
  back = AutoModel.from_pretrained(out, attn_implementation="eager").eval()
  assert type(back).__name__ == "Qwen3Model"
  st = SentenceTransformer(str(out), device="cpu")
  assert np.abs(st.encode(texts) - ref).max() <= TOL
  assert np.abs(jaxir.load(out).encode(texts) - ref).max() <= TOL


_SHARDED_WORKER = """
import sys
import jax
jax.config.update("jax_num_cpu_devices", 4)
import numpy as np
import train_worker as tw
from jaxir.model import qwen3
from jaxir.train import mesh as mesh_lib, state as state_lib, step as step_lib
config = qwen3.Qwen3Config(vocab_size=128, hidden_size=64, intermediate_size=96, num_layers=1, num_heads=4,
                           num_kv_heads=2, head_dim=16, max_position_embeddings=64)
encoder, result = qwen3.FAMILY.module(config), {}
for data, model, packed in ((4, 1, False), (2, 2, True)):
  cfg = tw.sharded_config(data, model)
  mesh = mesh_lib.make_mesh(cfg.mesh)
  state = state_lib.create_train_state(encoder, cfg, mesh, seed=0)
  batch = tw.make_prefix_batch()
  if packed:
    batch = mesh_lib.host_batch_to_global(tw.packed_batch(row_multiple=2)[0], mesh)
  grads, metrics = step_lib.make_grad_fn(encoder, cfg, mesh)(state, batch)
  tag = f"{data}x{model}" + ("packed" if packed else "")
  result.update({f"{tag}/grad/{k}": v for k, v in tw.flat(grads).items()})
  result[f"{tag}/loss"] = np.asarray(metrics["loss"])
  result[f"{tag}/specs"] = np.asarray([f"{k}={v.sharding.spec}" for k, v in tw.flat_arrays(state.params).items()])
np.savez(sys.argv[1], **result)
"""


def test_train_step_with_model_axis_sharding(tmp_path):
  """On 4 fake CPU devices, the train step's gradients on a 2 x 2 mesh (q/k/v, o, MLP and embeddings sharded over
  `model`; the batch packed) equal the 4 x 1 mesh's (padded; the same texts)."""
  out = tmp_path / "sharded.npz"
  env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")]))
  env["XLA_FLAGS"] = xla_flags()
  run = subprocess.run([sys.executable, "-c", _SHARDED_WORKER, str(out)], env=env, cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
  assert run.returncode == 0, run.stderr[-3000:]
  res = np.load(out)
  grads = lambda tag: {k.split("/grad/", 1)[1]: res[k] for k in res.files if k.startswith(f"{tag}/grad/")}
  ref = grads("4x1")
  assert all(np.isfinite(v).all() for v in ref.values()) and np.abs(ref["params/layers_0/mlp/up_proj/kernel"]).max() > 0
  for tag in ("2x2packed",):
    other = grads(tag)
    assert other.keys() == ref.keys()
    for k in ref:   # relative to each gradient's scale
      assert np.abs(other[k] - ref[k]).max() <= 1e-4 * max(np.abs(ref[k]).max(), 1e-6), (tag, k)
    assert abs(float(res[f"{tag}/loss"]) - float(res["4x1/loss"])) <= 1e-4
  specs = set(res["2x2packed/specs"])
  for spec in ("embed_tokens/embedding=P('model', None)", "layers_0/self_attn/k_proj/kernel=P(None, 'model')",
               "layers_0/self_attn/o_proj/kernel=P('model', None)", "layers_0/mlp/down_proj/kernel=P('model', None)",
               "layers_0/self_attn/q_norm/scale=P()"):
    assert spec in specs, sorted(specs)


def test_known_config_qwen3_embedding_0_6b():
  """`jaxir plan --model-config qwen3-embedding-0.6b` sizes the real model: 596M parameters (0.44B without the
  token embeddings), no download."""
  from jaxir.model import config
  from jaxir.model.known_configs import known_config
  cfg = config.from_hf(known_config("Qwen3-Embedding-0.6B"), "known config")
  assert isinstance(cfg, qwen3.Qwen3Config) and (cfg.num_layers, cfg.num_kv_heads, cfg.head_dim) == (28, 8, 128)
  shapes = jax.eval_shape(qwen3.FAMILY.module(cfg).init, jax.random.key(0), jnp.zeros((1, 4), jnp.int32),
                          jnp.ones((1, 4), jnp.int32))["params"]
  total = sum(x.size for x in jax.tree.leaves(shapes))
  assert 595.7e6 < total < 595.9e6 and 440.2e6 < total - shapes["embed_tokens"]["embedding"].size < 440.6e6

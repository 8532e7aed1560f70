"""Hugging Face `config.json` dicts of a few public encoders, so `jaxir plan` can size them without a download.

The hyper-parameters are the public ones of each hub repository's `config.json` (intfloat/multilingual-e5-small,
FacebookAI/xlm-roberta-base, FacebookAI/xlm-roberta-large, sentence-transformers/LaBSE, Qwen/Qwen3-Embedding-0.6B).
Only the fields their family's config class reads are kept.
"""
import copy

from jaxir.errors import JaxirError

_XLMR = {"model_type": "xlm-roberta", "vocab_size": 250002, "max_position_embeddings": 514, "type_vocab_size": 1,
         "pad_token_id": 1, "layer_norm_eps": 1e-5, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
         "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02}
_BERT = {"model_type": "bert", "max_position_embeddings": 512, "type_vocab_size": 2, "pad_token_id": 0,
         "layer_norm_eps": 1e-12, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
         "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02}

KNOWN = {
    # intfloat/multilingual-e5-small (BertModel, 118M parameters)
    "e5-small": dict(_BERT, vocab_size=250037, hidden_size=384, num_hidden_layers=12, num_attention_heads=12,
                     intermediate_size=1536),
    # FacebookAI/xlm-roberta-base (278M)
    "xlm-roberta-base": dict(_XLMR, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                             intermediate_size=3072),
    # FacebookAI/xlm-roberta-large (560M)
    "xlm-roberta-large": dict(_XLMR, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                              intermediate_size=4096),
    # sentence-transformers/LaBSE (BertModel, 471M; its ST Dense head is not part of config.json)
    "labse": dict(_BERT, vocab_size=501153, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                  intermediate_size=3072),
    # Qwen/Qwen3-Embedding-0.6B (Qwen3Model, 596M; a decoder: causal attention, last-token pooling)
    "qwen3-embedding-0.6b": {"model_type": "qwen3", "vocab_size": 151669, "hidden_size": 1024,
                             "intermediate_size": 3072, "num_hidden_layers": 28, "num_attention_heads": 16,
                             "num_key_value_heads": 8, "head_dim": 128, "max_position_embeddings": 32768,
                             "rope_theta": 1000000, "rms_norm_eps": 1e-6, "tie_word_embeddings": True,
                             "attention_bias": False, "hidden_act": "silu"},
}
ALIASES = {"multilingual-e5-small": "e5-small", "xlm-r-base": "xlm-roberta-base",
           "xlm-r-large": "xlm-roberta-large", "Qwen3-Embedding-0.6B": "qwen3-embedding-0.6b"}


def known_config(name):
  """A copy of the config.json dict of a known model name (see `KNOWN`); JaxirError for any other name."""
  key = ALIASES.get(name, name)
  if key not in KNOWN:
    raise JaxirError(f"unknown model config {name!r}: give a config.json path or one of {', '.join(KNOWN)}")
  return copy.deepcopy(KNOWN[key])

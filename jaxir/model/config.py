"""`EncoderConfig`: the shape of a BERT / XLM-RoBERTa encoder, read from and written to HF `config.json`.

BERT and XLM-R are one architecture. The only difference the encoder sees is the position ids:
BERT counts from 0 for every token; XLM-R counts non-padding tokens from `pad_token_id + 1` and
gives padding tokens the position `pad_token_id` (fairseq's `make_positions`).
"""
import dataclasses

from jaxir import schema
from jaxir.errors import JaxirError

MODEL_TYPES = ("bert", "xlm-roberta")
ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "relu")
_ARCHITECTURES = {"bert": "BertModel", "xlm-roberta": "XLMRobertaModel"}


@dataclasses.dataclass(frozen=True)
class EncoderConfig:
  """Hyper-parameters of the encoder; field names are ours, `from_hf` / `to_hf` translate."""
  model_type: str = "bert"
  vocab_size: int = 30522
  hidden_size: int = 768
  num_layers: int = 12
  num_heads: int = 12
  intermediate_size: int = 3072
  max_position_embeddings: int = 512
  type_vocab_size: int = 2
  layer_norm_eps: float = 1e-12
  pad_token_id: int = 0
  hidden_act: str = "gelu"
  hidden_dropout: float = 0.1
  attention_dropout: float = 0.1
  initializer_range: float = 0.02

  def __post_init__(self):
    if self.model_type not in MODEL_TYPES:
      raise JaxirError(f"unsupported model_type {self.model_type!r} (jaxir supports {', '.join(MODEL_TYPES)})")
    if self.hidden_act not in ACTIVATIONS:
      raise JaxirError(f"unsupported hidden_act {self.hidden_act!r} (jaxir supports {', '.join(ACTIVATIONS)})")
    if self.hidden_size % self.num_heads:
      raise JaxirError(f"hidden_size {self.hidden_size} is not a multiple of num_heads {self.num_heads}")

  @property
  def head_dim(self):
    return self.hidden_size // self.num_heads

  @property
  def position_offset(self):
    """The position id of the first token: `pad_token_id + 1` for XLM-R, 0 for BERT."""
    return self.pad_token_id + 1 if self.model_type == "xlm-roberta" else 0

  @property
  def max_length(self):
    """The longest input (special tokens included) the position table allows."""
    return self.max_position_embeddings - self.position_offset

  @classmethod
  def from_hf(cls, hf, where="config.json"):
    """Builds the config from a HF `config.json` dict (read from `where`); raises JaxirError, naming the
    field, on anything unsupported or wrong-typed."""
    where = str(where)
    schema.check(hf, dict, where)
    model_type = hf.get("model_type")
    if model_type not in MODEL_TYPES:
      raise JaxirError(f"unsupported model_type {model_type!r} in config.json (jaxir supports {', '.join(MODEL_TYPES)})")
    pos_type = hf.get("position_embedding_type", "absolute")
    if pos_type != "absolute":
      raise JaxirError(f"unsupported position_embedding_type {pos_type!r} in config.json (only 'absolute')")
    if hf.get("is_decoder") or hf.get("add_cross_attention"):
      raise JaxirError("config.json describes a decoder; jaxir needs an encoder")

    def get(key, types, default=schema.MISSING, least=None):
      value = schema.expect(hf, key, types, where, default)
      if least is not None and value is not None and value < least:
        raise JaxirError(f"{where}: field '{key}' must be at least {least}, got {value!r}")
      return value

    pad = get("pad_token_id", (int, None), None, 0)
    return cls(
        model_type=model_type,
        vocab_size=get("vocab_size", int, least=1),
        hidden_size=get("hidden_size", int, least=1),
        num_layers=get("num_hidden_layers", int, least=0),
        num_heads=get("num_attention_heads", int, least=1),
        intermediate_size=get("intermediate_size", int, least=1),
        max_position_embeddings=get("max_position_embeddings", int, least=1),
        type_vocab_size=get("type_vocab_size", int, 2, 1),
        layer_norm_eps=float(get("layer_norm_eps", float, 1e-12, 0)),
        pad_token_id=pad if pad is not None else (1 if model_type == "xlm-roberta" else 0),
        hidden_act=get("hidden_act", str, "gelu"),
        hidden_dropout=float(get("hidden_dropout_prob", float, 0.1, 0)),
        attention_dropout=float(get("attention_probs_dropout_prob", float, 0.1, 0)),
        initializer_range=float(get("initializer_range", float, 0.02, 0)),
    )

  def to_hf(self):
    """The HF `config.json` dict (with `architectures`) that transformers' AutoModel loads."""
    hf = {
        "architectures": [_ARCHITECTURES[self.model_type]],
        "model_type": self.model_type,
        "vocab_size": self.vocab_size,
        "hidden_size": self.hidden_size,
        "num_hidden_layers": self.num_layers,
        "num_attention_heads": self.num_heads,
        "intermediate_size": self.intermediate_size,
        "max_position_embeddings": self.max_position_embeddings,
        "type_vocab_size": self.type_vocab_size,
        "layer_norm_eps": self.layer_norm_eps,
        "pad_token_id": self.pad_token_id,
        "hidden_act": self.hidden_act,
        "hidden_dropout_prob": self.hidden_dropout,
        "attention_probs_dropout_prob": self.attention_dropout,
        "initializer_range": self.initializer_range,
        "position_embedding_type": "absolute",
        "dtype": "float32",
    }
    return hf

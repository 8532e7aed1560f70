"""The model card (`README.md`) of an exported model, built with huggingface_hub's `ModelCard`.

YAML metadata: library_name, pipeline_tag, tags (with the batch type), base_model, language,
datasets and license when known, and a `model-index` from `jaxir eval` summaries (raw summary
values: mAP as a fraction, RD in ranks; a missing or non-finite number is left out). The text: the
training config and α (full config in a collapsible block), the scores, and how to load the model
with sentence-transformers and with transformers, prompts, pooling and normalisation included.

Inputs: the model's meta (jaxir.json), the run's config.json (a dict) for a trained model, and the
summary.json files of its evaluations (`read_results`). A summary ranked with query feedback (`jaxir eval
--feedback`) says so wherever its numbers appear (heading, metric names, `metric_args`), and the usage section then
shows the feedback in numpy: its numbers are not those of plain dot products.
"""
import json
import math
import re
from pathlib import Path, PurePosixPath, PureWindowsPath

from jaxir import storage, schema
from jaxir.benchmarks.registry import REGISTRY   # each benchmark's `Card`: task, dataset, split, metrics
from jaxir.errors import JaxirError

# Training sources that are Hugging Face datasets (the -R files are built from them).
_DATASETS = {"mlqa-r": "facebook/mlqa", "xquad-r": "google/xquad"}
TAGS = ["sentence-transformers", "feature-extraction", "sentence-similarity", "jaxir", "dense-retrieval", "multilingual"]


def _number(v):
  """`v` as a float when it is a finite number, else None (left out of the card)."""
  if isinstance(v, bool) or not isinstance(v, (int, float)):
    return None
  return float(v) if math.isfinite(v) else None


def read_results(paths):
  """The summary.json files of `jaxir eval` as [(path, summary)], each with its `benchmark` (from the
  summary, else the directory name); JaxirError, one line naming the file, for anything else."""
  out, seen = [], {}
  for path in map(Path, paths):
    s = storage.read_json(path, "evaluation summary")
    schema.check(s, dict, str(path))
    bench = schema.expect(s, "benchmark", (str, None), path, default=None) or path.parent.name
    if bench not in REGISTRY:
      raise JaxirError(f"{path}: unknown benchmark {bench!r} (a `jaxir eval` summary.json of"
                       f" {', '.join(REGISTRY)} is expected)")
    for key, _, _ in REGISTRY[bench].card.metrics:  # numbers or null; a non-finite one is left out of the card
      schema.expect(s, key, (float, None), path, default=None)
    fb = schema.expect(s, "feedback", (dict, None), path, default=None)
    key = (bench, json.dumps(fb, sort_keys=True))
    if key in seen:
      raise JaxirError(f"{path}: a second {bench} summary{' with the same feedback' if fb else ''} (the first is "
                       f"{seen[key]}); pass one per benchmark (and feedback setting)")
    seen[key] = path
    out.append((path, dict(s, benchmark=bench)))
  return out


def check_fingerprints(results, fp):
  """JaxirError when a summary names the fingerprint of another model than the one exported (`fp`)."""
  for path, s in results:
    theirs = s.get("fingerprint")
    if isinstance(theirs, str) and theirs != fp:
      raise JaxirError(f"{path}: these results are of the model with fingerprint {theirs}, the exported"
                       f" model's is {fp}; pass the summary.json of this model's evaluation")


def _hub_id(name):
  """The Hugging Face repo id `name` stands for (`hf:ORG/NAME`, or an id that is not a local path), else None."""
  from jaxir.model.hub import HUB_PREFIX, _is_hub_id
  name = str(name or "")
  if name.startswith(HUB_PREFIX):
    return name[len(HUB_PREFIX):]
  return name if "/" in name and not Path(name).exists() and _is_hub_id(name) else None


def _own_card(path):
  """The YAML metadata of the README.md in the model directory `path` (a hub snapshot, an export), or {}."""
  readme = None if path is None else storage.as_path(path) / "README.md"
  if readme is None or not readme.is_file():
    return {}
  import tempfile
  from huggingface_hub import metadata_load
  try:
    if not storage.is_cloud(path):
      return metadata_load(readme) or {}
    with tempfile.TemporaryDirectory() as tmp:       # metadata_load reads local files: a gs:// card is copied
      local = Path(tmp) / "README.md"
      local.write_bytes(readme.read_bytes())
      return metadata_load(local) or {}
  except Exception:  # somebody else's card: its metadata is optional here
    return {}


def _get(d, *keys):
  for k in keys:
    d = d.get(k) if isinstance(d, dict) else None
  return d


def base_info(pretrained, train_config=None):
  """{base_model, license, language, datasets} of the exported model, each only when known.

  base_model: the hub id the run trained from (the run config's model.name), or the model's own hub id
  (an export of `hf:ORG/NAME`), else what the source recorded (jaxir.json, its README.md)."""
  meta, own = pretrained.meta, _own_card(pretrained.path)
  name = _get(train_config, "model", "name") if train_config else meta.get("source")
  info = {"base_model": _hub_id(name) or meta.get("base_model") or own.get("base_model"),
          "license": meta.get("license") or own.get("license")}
  if isinstance(info["base_model"], list):
    info["base_model"] = info["base_model"][0] if info["base_model"] else None
  langs = meta.get("train_langs") or _get(train_config, "data", "langs") or own.get("language")
  info["language"] = [langs] if isinstance(langs, str) else list(langs) if langs else None
  source = _get(train_config, "data", "source")
  info["datasets"] = [_DATASETS[source]] if source in _DATASETS else None
  return {k: v for k, v in info.items() if v}


def _feedback(s):
  """' (query feedback k 5 w 0.5 t 0.02)' for a summary ranked with feedback, else ''."""
  from jaxir.eval.feedback import describe
  f = s.get("feedback")
  return f" (query feedback {describe(f)})" if f else ""


def _dataset_name(s):
  """The benchmark's name in the card; a squad-r folder of one's own is named by the folder."""
  name = REGISTRY[s["benchmark"]].card.dataset_name
  return f"{name} {Path(s['folder']).name}" if s["benchmark"] == "squad-r" and isinstance(s.get("folder"), str) else name


def eval_results(results):
  """huggingface_hub `EvalResult`s for the summaries: one per finite headline number."""
  from huggingface_hub import EvalResult
  out = []
  for _, s in results:
    c = REGISTRY[s["benchmark"]].card
    task, dtype, split, metrics = c.task, c.dataset_type, c.split, c.metrics
    dname = _dataset_name(s)
    langs = s.get("langs") or s.get("datasets")
    config = ",".join(map(str, langs)) if isinstance(langs, list) else None
    args = {"max_articles": s["max_articles"]} if isinstance(s.get("max_articles"), int) else None
    fb = _feedback(s)
    for key, mtype, mname in metrics:
      v = _number(s.get(key))
      if v is not None:
        out.append(EvalResult(task_type=task, dataset_type=dtype, dataset_name=dname, dataset_config=config,
                              dataset_split=split, dataset_args=args, metric_type=mtype, metric_value=v,
                              metric_name=mname + fb, metric_args={"feedback": s["feedback"]} if fb else None))
  return out


def build(pretrained, train_config=None, results=(), repo_id=None, dtype="float32", fingerprint=None):
  """The `ModelCard` of `pretrained` as exported (weights in `dtype`)."""
  from huggingface_hub import ModelCard, ModelCardData
  meta, info = pretrained.meta, base_info(pretrained, train_config)
  batch_type = _get(train_config, "batch", "batch_type")
  tags = TAGS + ([f"{batch_type.replace('_', '-')}-batch"] if isinstance(batch_type, str) else [])
  name = repo_id.split("/")[-1] if repo_id else (Path(pretrained.path).name if pretrained.path and not train_config
                                                  else "jaxir-retriever")
  evals = eval_results(results)
  data = ModelCardData(library_name="sentence-transformers", pipeline_tag="sentence-similarity", tags=tags,
                       base_model=info.get("base_model"), language=info.get("language"),
                       datasets=info.get("datasets"), license=info.get("license"),
                       model_name=name if evals else None, eval_results=evals or None)
  body = [f"# {name}", "", _intro(pretrained, info, train_config)]
  if train_config:
    body += _training(train_config, meta, info.get("base_model"))
  if results:
    body += _scores(results)
  body += _usage(pretrained, repo_id)
  if any(_feedback(s) for _, s in results):
    body += _feedback_usage()
  body += _details(pretrained, dtype, fingerprint)
  return ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(body) + "\n")


def _intro(pretrained, info, train_config):
  base = info.get("base_model")
  of = f" from [{base}](https://huggingface.co/{base})" if base else ""
  if train_config:
    bt = _get(train_config, "batch", "batch_type")
    return (f"A multilingual dense retriever fine-tuned{of} with jaxir "
            f"({bt} batches, α = {_get(train_config, 'batch', 'alpha')}): it maps queries and passages to "
            f"{pretrained.dim}-dimensional vectors, compared by cosine similarity.")
  return (f"A sentence-transformers / transformers export{of} written by jaxir: it maps queries and passages "
          f"to {pretrained.dim}-dimensional vectors, compared by cosine similarity.")


def _trained_from(name, base):
  """The run's model.name as a card reader can use it: the hub id, with the local copy it was read from."""
  if not name or _hub_id(name):
    return name
  return f"{base} (read from the local copy {_shown(name)})" if base else _shown(name)


def _training(cfg, meta, base=None):
  g = lambda *k: _get(cfg, *k)
  langs = meta.get("train_langs") or g("data", "langs")
  rows = [("batch type", g("batch", "batch_type")), ("α (P(a batch is X-X mono))", g("batch", "alpha")),
          ("global batch size", g("batch", "batch_size")), ("steps", g("steps")),
          ("learning rate", g("optim", "learning_rate")), *_temperature_rows(g),
          ("training data", g("data", "source")), ("languages", " ".join(langs) if langs else "all of the source"),
          ("trained from", _trained_from(g("model", "name"), base)), ("batch seed", g("batch", "seed"))]
  out = ["", "## Training", "", "Contrastive (InfoNCE, in-batch negatives) training with hybrid batches"
         " (arXiv 2408.10536): each global batch is X-X monolingual with probability α, else X-Y cross-lingual.",
         "", "| setting | value |", "|---|---|"]
  out += [f"| {k} | {public(v)} |" for k, v in rows if v is not None]
  merged = meta.get("merged_from")
  if _merged(merged):
    lam, method = _lam(merged)
    out += ["", f"These weights are not the trained model's own: they interpolate it (B) with A, θ = (1 − λ)·θ_A + "
            f"λ·θ_B at λ = {lam} ({method}; Model details names A and B)."]
  out += ["", "<details><summary>Full training config (config.json of the run)</summary>", "", "```json",
          json.dumps(public(cfg), indent=2, ensure_ascii=False), "```", "", "</details>"]
  return out


def _temperature_rows(g):
  """The temperature as the run had it: fixed, or learnt from a starting value (at its own learning rate, if any)."""
  if not g("loss", "learn_temperature"):
    return [("temperature", g("loss", "temperature"))]
  own = g("loss", "temperature_learning_rate")
  return [("temperature", f"learnt, from {g('loss', 'temperature')}"),
          ("temperature learning rate", own if own is not None else "shared with the encoder's")]


def _fmt(v, scale=100):
  v = _number(v)
  return "–" if v is None else f"{scale * v:.1f}"


def _scores(results):
  out = ["", "## Evaluation", "",
         "mAP and accuracies × 100 (the model-index holds the raw values: fractions; RD in ranks)."]
  for _, s in results:
    bench = s["benchmark"]
    metrics = REGISTRY[bench].card.metrics
    out += ["", f"### {_dataset_name(s)}{_feedback(s)}", ""]
    if REGISTRY[bench].kind == "lareqa":
      out += ["| languages | Mo | Cr | Mul | RD |", "|---|---|---|---|---|"]
      for group, g in [("all", s)] + [(k.replace("_", "-"), s[k]) for k in ("seen", "zero_shot") if isinstance(s.get(k), dict)]:
        out.append(f"| {group} | {_fmt(g.get('Mo'))} | {_fmt(g.get('Cr'))} | {_fmt(g.get('Mul'))} | {_fmt(g.get('RD'), 1)} |")
    else:
      out += ["| " + " | ".join(m for _, _, m in metrics) + " |", "|" + "---|" * len(metrics),
              "| " + " | ".join(_fmt(s.get(k)) for k, _, _ in metrics) + " |"]
  return out


def _usage(pretrained, repo_id):
  meta = pretrained.meta
  where = repo_id or "PATH/TO/THIS/DIRECTORY"
  q, p = meta.get("query_prompt") or "", meta.get("passage_prompt") or ""
  pooling, normalize, head = meta["pooling"], meta["normalize"], meta.get("head")
  out = ["", "## Usage", "", f"Prompts: queries are prefixed with {q!r}, passages with {p!r}"
         " (the sentence-transformers prompts `query` and `document`).", "",
         "### sentence-transformers", "", "```python", "from sentence_transformers import SentenceTransformer", "",
         f'model = SentenceTransformer("{where}")',
         'q = model.encode_query(["Where is the library?"])           # adds the query prompt',
         'd = model.encode_document(["The library is on Main Street."])  # adds the passage prompt',
         "print(model.similarity(q, d))", "```", "", "### transformers", ""]
  pool = ("emb = out.last_hidden_state[:, 0]  # CLS pooling" if pooling == "cls" else
          "mask = batch[\"attention_mask\"].unsqueeze(-1).float()\n"
          "emb = (out.last_hidden_state * mask).sum(1) / mask.sum(1)  # mean pooling")
  out += ["```python", "import torch", "import torch.nn.functional as F",
          "from transformers import AutoModel, AutoTokenizer", "",
          f'tok = AutoTokenizer.from_pretrained("{where}")', f'model = AutoModel.from_pretrained("{where}")',
          f'texts = [{q + "Where is the library?"!r}, {p + "The library is on Main Street."!r}]',
          f"batch = tok(texts, padding=True, truncation=True, max_length={int(meta['max_length'])}, return_tensors=\"pt\")",
          "with torch.no_grad():", "  out = model(**batch)", pool]
  if head:  # the sentence-transformers Dense module after pooling, which AutoModel does not load
    file = (f'hf_hub_download("{repo_id}", "2_Dense/model.safetensors")' if repo_id
            else f'"{where}/2_Dense/model.safetensors"')
    act = {"tanh": "torch.tanh({})", "relu": "torch.relu({})", "gelu": "F.gelu({})", "sigmoid": "torch.sigmoid({})",
           "identity": "{}"}[head["activation"]]
    out += [f"# the Dense layer after pooling ({head['in']} -> {head['out']}, {head['activation']}), in 2_Dense/",
            "from safetensors.torch import load_file"]
    out += ["from huggingface_hub import hf_hub_download"] if repo_id else []
    out += [f"dense = load_file({file})",
            "emb = " + act.format('emb @ dense["linear.weight"].T.float() + dense["linear.bias"].float()')]
  if normalize:
    out.append("emb = F.normalize(emb, dim=-1)")
  out += ["print(emb[0] @ emb[1])", "```"]
  return out


FEEDBACK_CODE = """import numpy as np

def feedback(q, c, k=5, w=0.5, t=0.02):
  \"\"\"q' for queries q [n, d] over the pool c [N, d] (normalised embeddings); t=None: the plain mean.\"\"\"
  s = q @ c.T
  top = np.argsort(-s, axis=1)[:, :k]                       # each query's k first results
  if t is None:
    a = np.full(top.shape, 1 / k)
  else:
    a = np.exp((np.take_along_axis(s, top, 1) - s.max(1, keepdims=True)) / t)
    a /= a.sum(1, keepdims=True)
  return (1 - w) * q + w * np.einsum("qk,qkd->qd", a, c[top])

scores = feedback(q, c) @ c.T                               # rank the pool again with q'"""


def _feedback_usage():
  return ["", "### Query feedback", "",
          "Scores marked *query feedback* rank by a second search: each query moves toward its k first results,"
          " q' = (1 − w)·q + w·Σ a_i·c_i, a = softmax(q·c_i / t) (`jaxir eval --feedback K:W:T`). In numpy, with"
          " `q` and `c` encoded as above:", "", "```python", FEEDBACK_CODE, "```", "",
          "It pays where the pool holds each answer in several languages (translations of one another, as in"
          " XQuAD-R), whose shared direction the k first results find. On multilingual pools without such copies"
          " jaxir measured it costing 0.3 – 1.4 mAP (docs/results/best §13 in the jaxir repository): measure it on"
          " your own pool before you use it."]


def _lam(m):
  """(λ as the card says it, the method's name): the number (WiSE-FT), or 'λ_first:λ_last, first to last layer'
  (LiNeS, `jaxir merge --weight a:b`)."""
  w = m["weight"]
  return (f"{w}", "WiSE-FT") if not isinstance(w, str) else (f"{w}, first to last layer", "LiNeS, arXiv 2410.17146")


def _shown(path):
  """A model directory as a published card names it: relative to the current directory when inside it, else its
  last three parts; never the writer's absolute path (the fingerprint beside it identifies the weights)."""
  if not path:
    return "?"
  p = Path(str(path))
  try:
    return str(p.resolve().relative_to(Path.cwd().resolve()))
  except (ValueError, OSError):
    return str(p) if len(p.parts) <= 3 and not p.is_absolute() else _tail(p.parts[p.is_absolute():])


def _tail(parts):
  """A path shown by its last three `parts` only."""
  return "…/" + "/".join(parts[-3:])


def public(v):
  """`v` (a run config, a table value) as a published card or `jaxir.json` shows it: each local absolute path in
  it (`/…`, `~/…` or a Windows `C:\\…`), alone or inside a string ('jaxir train /home/me/run', '(/home/me/run)',
  'out=/home/me/run'), as `_shown` names it; a value that is all one existing path is one path, spaces and all.
  Hub ids, gs:// and relative paths stay as they are."""
  if isinstance(v, dict):
    return {k: public(x) for k, x in v.items()}
  if isinstance(v, (list, tuple)):
    return [public(x) for x in v]
  if isinstance(v, str) and ("/" in v or "\\" in v):
    if _whole_path(v):                                 # a value that is one existing path, spaces and all
      return _shown_word(v)
    return _LOCAL_PATH.sub(lambda m: _shown_word(m[1]) + m[2], v)
  return v


def _whole_path(v):
  """Whether the string `v` is, all of it, a local absolute path that exists here (a config value such as
  '/home/me/my runs/a'): inside a longer string a path ends at its first space, since nothing there says where it
  ends."""
  if not re.match(_START, v) or "\n" in v:
    return False
  try:
    return Path(v).expanduser().exists()
  except (OSError, RuntimeError, ValueError):          # too long, no home directory, a NUL byte
    return False


# A local absolute path inside a string: `/…`, `~/…` or `C:\…` / `C:/…`, alone or after a bracket, quote or `=`, not
# after a letter, digit, `:` or `…` (so `runs/a`, `hf:org/m`, `gs://b/x`, `https://…`, `1/2` and a path already
# shown as `…/a/b/c` stay). It ends at a space, quote, bracket or comma; a sentence's final `.` or `:` stays outside.
_END = r"\s'\"`()\[\]{},;<>|"
_DRIVE = r"[A-Za-z]:[\\/]"                             # a Windows path's start
_START = rf"(?:~?/|{_DRIVE})"                         # a local absolute path's start: /, ~/ or a drive
_LOCAL_PATH = re.compile(rf"(?<![\w.:/\\~…-])({_START}[^{_END}]*?)([.:]*)(?=[{_END}]|$)")


def _shown_word(w):
  """One local path `_LOCAL_PATH` found in a string, as `public` shows it."""
  if re.match(_DRIVE, w):                              # a Windows path: never resolvable here
    return _tail(PureWindowsPath(w).parts[1:])
  if w.startswith("~/"):
    try:
      return _shown(str(Path(w).expanduser()))
    except RuntimeError:                               # no home directory known: its last three parts
      return _tail(PurePosixPath(w[2:]).parts)
  return _shown(w) if w.startswith("/") and len(w) > 1 else w


def _merged(m):
  """The card's line for a `jaxir merge` result (jaxir.json's merged_from), else None."""
  if not isinstance(m, dict) or "weight" not in m:
    return None
  lam, method = _lam(m)
  return (f"(1 − λ)·A + λ·B, λ = {lam} ({method}, `jaxir merge`); A {_shown(m.get('a'))} ({m.get('a_fingerprint')}), "
          f"B {_shown(m.get('b'))} ({m.get('b_fingerprint')})")


def _details(pretrained, dtype, fingerprint):
  meta, c = pretrained.meta, pretrained.config
  rows = [("architecture", f"{c.model_type}, {c.num_layers} layers × {c.hidden_size}"),
          ("embedding dimension", pretrained.dim), ("pooling", meta["pooling"]),
          ("normalised", "yes" if meta["normalize"] else "no"), ("max sequence length", meta["max_length"]),
          ("query prompt", repr(meta.get("query_prompt") or "")),
          ("passage prompt", repr(meta.get("passage_prompt") or "")), ("weights", dtype),
          ("source", meta.get("source") or None), ("weight interpolation", _merged(meta.get("merged_from"))),
          ("jaxir fingerprint (float32 weights)", fingerprint)]
  return ["", "## Model details", "", "| | |", "|---|---|"] + [f"| {k} | {public(v)} |" for k, v in rows
                                                              if v is not None]

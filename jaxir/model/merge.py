"""`jaxir merge A B --weight λ --out DIR`: weight interpolation of two models (WiSE-FT).

θ = (1 − λ)·θ_A + λ·θ_B, tensor by tensor (Wortsman et al. 2022, "Robust fine-tuning of zero-shot models",
arXiv 2109.01903). With A the untrained model and B its fine-tuned descendant, λ = 1 is B and λ = 0 is A; values
between give back part of what fine-tuning cost (here: monolingual retrieval) while keeping most of what it
gained (cross-lingual and multilingual retrieval). The result is a normal exported model (`jaxir export`'s
layout and card) that `jaxir encode`, `jaxir eval`, `jaxir train` and `jaxir.load` take like any other.

Both models must share the architecture (config.json up to its dtype), every tensor's name and shape, the
tokenizer and the way embeddings are made (pooling, normalisation, prompts, a Dense head): interpolating
weights of different models or reading them with different tokenizers gives a model that runs and is silently
wrong, so each difference is an error naming it. The arithmetic is float64 and the result float32; a
non-finite result is an error.

`--weight λ_first:λ_last` scales B's share linearly with depth instead (LiNeS, Wang et al. 2025, "Post-training
layer scaling prevents forgetting and enhances model merging", arXiv 2410.17146): the tensors of layer i of L take
λ_first + (λ_last − λ_first)·i/(L − 1), the embeddings λ_first, and what comes after the layers (final norm,
pooler, Dense head) λ_last. So `0.5:1` keeps the shallow layers halfway to A and takes the last layer from B;
`0.75:0.75` is `0.75`.
"""
import hashlib
import os
import re

import numpy as np

from jaxir.errors import JaxirError

HOW = ("pooling", "normalize", "query_prompt", "passage_prompt", "head")


def _flat(tree, prefix=""):
  """{'a/b/c': array} of a nested dict of arrays."""
  out = {}
  for k, v in tree.items():
    name = f"{prefix}{k}"
    if isinstance(v, dict):
      out.update(_flat(v, name + "/"))
    else:
      out[name] = v
  return out


def _unflat(flat):
  tree = {}
  for name, v in flat.items():
    *parents, leaf = name.split("/")
    node = tree
    for p in parents:
      node = node.setdefault(p, {})
    node[leaf] = v
  return tree


def _vocab_digest(tokenizer):
  """What the tokenizer maps text to: a digest of its vocabulary and special tokens."""
  h = hashlib.sha256()
  for tok, i in sorted(tokenizer.get_vocab().items(), key=lambda t: t[1]):
    h.update(f"{i}\t{tok}\n".encode())
  h.update(repr(sorted((k, str(v)) for k, v in tokenizer.special_tokens_map.items())).encode())
  return h.hexdigest()


def _config_key(config):
  hf = dict(config.to_hf())
  for k in ("dtype", "torch_dtype", "_name_or_path", "architectures", "transformers_version"):
    hf.pop(k, None)
  return hf


def check_compatible(a, b, names=("A", "B")):
  """Raises a JaxirError naming the first difference that makes interpolating `a` and `b` meaningless."""
  na, nb = names
  ca, cb = _config_key(a.config), _config_key(b.config)
  if ca != cb:
    diff = sorted(k for k in set(ca) | set(cb) if ca.get(k) != cb.get(k))
    k = diff[0]
    raise JaxirError(f"cannot merge models of different architectures: config.json {k} is {ca.get(k)!r} in {na}"
                     f" and {cb.get(k)!r} in {nb}")
  fa, fb = _flat(a.params), _flat(b.params)
  only = sorted(set(fa) ^ set(fb))
  if only:
    raise JaxirError(f"cannot merge: tensor {only[0]} is in {na if only[0] in fa else nb} only")
  for name in sorted(fa):
    if np.shape(fa[name]) != np.shape(fb[name]):
      raise JaxirError(f"cannot merge: tensor {name} has shape {np.shape(fa[name])} in {na} and"
                       f" {np.shape(fb[name])} in {nb}")
  for k in HOW:
    if a.meta.get(k) != b.meta.get(k):
      raise JaxirError(f"cannot merge: the models make embeddings differently ({k} is {a.meta.get(k)!r} in {na}"
                       f" and {b.meta.get(k)!r} in {nb})")
  if (a.tokenizer is None) != (b.tokenizer is None) or (
      a.tokenizer is not None and _vocab_digest(a.tokenizer) != _vocab_digest(b.tokenizer)):
    raise JaxirError(f"cannot merge: {na} and {nb} have different tokenizers")


LAYER = re.compile(r"(?:^|[/.])layers?[_.](\d+)(?:[/.]|$)")   # encoder/layer_3/..., layers_3/..., encoder.layer.3.


def parse_weight(weight):
  """λ (a number) or (λ_first, λ_last) from `0.5:1` or a pair; each in [0, 1], else a JaxirError."""
  parts = list(weight) if isinstance(weight, (tuple, list)) else str(weight).split(":")
  try:
    values = [float(p) for p in parts]
  except (TypeError, ValueError):
    values = []
  if len(values) not in (1, 2) or not all(np.isfinite(v) and 0.0 <= v <= 1.0 for v in values):
    raise JaxirError(f"--weight must be a number in [0, 1] (the share of B) or λ_first:λ_last, both in [0, 1], "
                     f"got {weight}")
  return values[0] if len(values) == 1 else tuple(values)


def share(name, weight, num_layers):
  """B's share for tensor `name`: the number itself, or by depth for a (λ_first, λ_last) schedule (LiNeS)."""
  if not isinstance(weight, tuple):
    return weight
  first, last = weight
  m = LAYER.search(name)
  if m:
    i = int(m.group(1))
    if i >= num_layers:
      raise JaxirError(f"cannot merge by depth: tensor {name} is of layer {i}, but config.json has {num_layers} layers")
    return last if num_layers == 1 else first + (last - first) * i / (num_layers - 1)
  return first if "embed" in name.lower() else last


def interpolate(a, b, weight, names=("A", "B")):
  """The Pretrained (1 − λ)·a + λ·b: params and the pooler tensors both keep (kept_tensors); B's tokenizer and meta.
  `weight` is λ, or `λ_first:λ_last` (a string or a pair) for λ linear in depth (`share`)."""
  import dataclasses
  w = parse_weight(weight)
  check_compatible(a, b, names)
  layers = int(b.config.num_layers)

  def mix(name, x, y):
    s = share(name, w, layers)
    return ((1.0 - s) * np.asarray(x, np.float64) + s * np.asarray(y, np.float64)).astype(np.float32)

  fa, fb = _flat(a.params), _flat(b.params)
  flat = {k: mix(k, fa[k], fb[k]) for k in fa}
  bad = [k for k, v in flat.items() if not np.isfinite(v).all()]
  if bad:
    raise JaxirError(f"the merged weights are not finite in {len(bad)} tensor(s), first {bad[0]}: NaN or inf in A or B")
  params = _unflat(flat)
  kept = {k: mix(k, a.kept_tensors[k], v) for k, v in (b.kept_tensors or {}).items()
           if k in (a.kept_tensors or {}) and np.shape(a.kept_tensors[k]) == np.shape(v)}
  return dataclasses.replace(b, params=params, kept_tensors=kept, path=None)


def merge(a_path, b_path, weight, out, force=False):
  """Writes (1 − weight)·A + weight·B to `out` as an exported model; returns (out, fingerprint). A and B are
  model directories, or `Pretrained`s loaded from one (e.g. with the prompts a sweep gives the untrained model)."""
  from jaxir import storage
  from jaxir.model.hf_io import META_FILE, Pretrained, fingerprint, load_pretrained, save_pretrained
  w = parse_weight(weight)
  storage.check_replaceable(out, META_FILE, force)   # before loading two models
  a, b = (m if isinstance(m, Pretrained) else load_pretrained(m) for m in (a_path, b_path))
  a_path, b_path = (m.path if isinstance(m, Pretrained) else m for m in (a_path, b_path))
  merged = interpolate(a, b, w, (str(a_path), str(b_path)))
  # local directories recorded absolute, so that a card written later from another directory names them right;
  # a Hub id or a gs:// URI stays as given
  a_path, b_path = (str(storage.absolute(p)) if os.path.isdir(p) else p for p in map(str, (a_path, b_path)))
  merged.meta["merged_from"] = {"a": a_path, "a_fingerprint": fingerprint(a.path), "b": b_path,
                                "b_fingerprint": fingerprint(b.path),
                                "weight": w if not isinstance(w, tuple) else f"{w[0]:g}:{w[1]:g}"}
  out = save_pretrained(merged, out, force=force)
  return out, fingerprint(out)


def register(subparsers):
  p = subparsers.add_parser(
      "merge", help="interpolate the weights of two models of one architecture (WiSE-FT): (1-λ)·A + λ·B",
      description=__doc__.splitlines()[0].split(": ", 1)[1])
  p.add_argument("a", metavar="A", help="model directory (e.g. the untrained model): the share 1 - λ")
  p.add_argument("b", metavar="B", help="model directory (e.g. a fine-tuned export): the share λ")
  p.add_argument("--weight", required=True, metavar="λ",
                 help="B's share in [0, 1]: 0 gives A, 1 gives B; or λ_first:λ_last, linear in layer depth (LiNeS)")
  p.add_argument("--out", required=True, metavar="DIR",
                 help="directory to write (replaced atomically when empty or written by jaxir, i.e. holds jaxir.json)")
  p.add_argument("--force", action="store_true", help="replace DIR even when jaxir did not write it")
  p.set_defaults(func=_run)


def _run(args):
  out, fp = merge(args.a, args.b, args.weight, args.out, args.force)
  w = parse_weight(args.weight)
  lam = f"{w:g}" if not isinstance(w, tuple) else f"λ({w[0]:g} → {w[1]:g} by depth)"
  print(f"wrote {out}: (1 - {lam})·{args.a} + {lam}·{args.b}, fingerprint {fp}")

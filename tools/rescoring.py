"""What a change of LAReQA scoring does, measured the way docs/results/best (sections 9 to 11) fixes its rules: a grid
of settings scored on the MLQA-R dev split of a model, then the setting chosen there scored once on an XQuAD-R export
of the same model, beside plain dot products through the same code, with paired tests over queries.

Shared by the rescoring tools (tools/csls.py, tools/prf.py); each gives a function `scores(q, c, setting) -> [Q, C]`
whose setting 0 is plain dot-product retrieval.
"""
import collections

import numpy as np

from jaxir.errors import JaxirError

Dev = collections.namedtuple("Dev", "pre prompts data train_langs index emb")


def load_dev(model_dir):
  """The model and its MLQA-R dev split encoded (the sweep's settings: prompts, lengths, train languages)."""
  from jaxir import config as config_lib
  from jaxir.data.pairs import load_pairs
  from jaxir.encode import benchmark_texts, embed_texts
  from jaxir.eval import lareqa
  from jaxir.model.hf_io import effective_prompts, load_pretrained
  pre = load_pretrained(model_dir)
  prompts = effective_prompts(pre.meta)
  data = load_pairs(config_lib.build(overrides=["data.hard_negatives=0"]).data)
  train_langs = pre.meta.get("train_langs") or sorted(data.corpora["train"])
  texts, idx = benchmark_texts(data.corpora["dev"], *prompts)
  return Dev(pre, prompts, data, train_langs, lareqa.Index.from_json(idx), embed_texts(pre, texts, pre.max_length))


def load_xquad(path):
  """(index, embeddings) of an XQuAD-R export (`jaxir encode --benchmark xquad-r`); one-line errors otherwise, and
  for embeddings that are not finite, as `jaxir eval` refuses them."""
  from jaxir.encode import load_embeddings
  from jaxir.eval import evaluate
  from jaxir.finite import check_finite
  _, ij, emb = load_embeddings(path)
  check_finite(emb, f"{path}/embeddings.npy", lambda rows: evaluate._texts(path, rows))
  return evaluate._index_from_export(ij), emb


def check_width(path, emb, width):
  """Refuses an export whose embeddings are not the model's width (another model's export)."""
  if emb.shape[1] != width:
    raise JaxirError(f"{path}: embeddings of width {emb.shape[1]}, the model's are {width}")


def score(index, emb, scores_fn, settings, train_langs, per_query=None):
  """{setting: {Mo, Cr, Mul, RD, th_worst, RD_no_th}} of the LAReQA index over `emb`, ranked by
  scores_fn(q, c, setting); `per_query` (a dict), when given, gets {setting: {"Mo": [Q] AP in the query's language,
  "Mul": [Q] AP, "RD": [Q] spread}}, each in the index's query order (by language, as `lareqa.rank` orders them)."""
  from jaxir.eval import lareqa
  qrows, crows = lareqa.query_candidate_rows(index)
  q, c = np.asarray(emb[qrows]), np.asarray(emb[crows])
  out = {}
  for setting in settings:
    ranks = lareqa.rank(index, scores=scores_fn(q, c, setting))
    s, pq = lareqa.metrics(ranks, train_langs)
    out[setting] = {k: s[k] for k in ("Mo", "Cr", "Mul", "RD")}
    if per_query is not None:
      per_query[setting] = {m: np.concatenate([pq[f"{m.lower()}/{l}"] for l in index.langs]) for m in ("Mul", "RD")}
      per_query[setting]["Mo"] = np.concatenate([pq[f"pair/{l}/{l}"] for l in index.langs])
    out[setting].update(thai_share(ranks))
  return out


def thai_share(ranks):
  """Thai's part in RD (`lareqa.language_part`): the share of queries whose worst-placed answer is Thai, and RD
  without the Thai column."""
  from jaxir.eval import lareqa
  if "th" not in ranks.langs:
    return {}
  part = lareqa.language_part(ranks, "th")
  return {"th_worst": part["worst"], "RD_no_th": part["RD_without"]}


def line(tag, name, r):
  """One printed result: `tag` (dev / xquad), the setting's `name`, its four numbers, and Thai's part."""
  extra = f" | Thai worst {100 * r['th_worst']:.1f}% RD without Thai {r['RD_no_th'] or 0:.1f}" if "th_worst" in r else ""
  return (f"{tag} {name}: Mo {100 * r['Mo']:.2f} Cr {100 * r['Cr']:.2f} Mul {100 * r['Mul']:.2f} RD {r['RD']:.1f} "
          f"mean {100 * (r['Mo'] + r['Cr'] + r['Mul']) / 3:.2f}{extra}")


def paired(result, per_query, chosen, baseline, name):
  """Adds to `result` and prints chosen − baseline over the paired queries (sign flips) for Mul and RD."""
  from jaxir.report.stats import paired_test
  for m, scale in (("Mul", 100), ("RD", 1)):
    diff, p = paired_test(per_query[chosen][m], per_query[baseline][m])
    result[f"paired_{m}"] = {"diff": diff, "p": p}
    print(f"xquad {name} − plain over paired queries: {m} {scale * diff:+.2f} (sign-flip p = {p:.2g})", flush=True)

"""Language-subspace removal (LIR; Yang et al. 2021, "A Simple and Effective Method To Eliminate the Self Language
Bias in Multilingual Representations", EMNLP) measured on the MLQA-R dev split: the linear head P = I - U U^T
after pooling, U the top-r principal directions of the centered per-language mean embeddings. The means come from
  --means mlqa-train   the MLQA-R TRAIN split only (the data config's split; its 7 languages), or
  --means tatoeba      the first seeded half of Tatoeba's x-eng pairs for every language of --tatoeba-langs (default
                       XQuAD-R's ten besides English, the zero-shot el, ru, th, tr included): the row of x is
                       mean(x side) - mean(English side) of the same sentences, English's row is 0, so a difference
                       of rows is a language, not content (the second half stays for Tatoeba's evaluation).
Optionally applied once, at the rank chosen on dev, to an XQuAD-R export of the same model.
docs/results/best/README.md (section 3) has what it measured.

  PYTHONPATH=. python tools/language_subspace.py MODEL_DIR [--ranks 0,1,2,3,4,5,6] [--max-train 500] \
      [--means tatoeba] [--xquad SWEEP/cells/<cell>/emb/xquad-r --xquad-rank R]

Projecting normalized embeddings and normalizing again equals a Dense head P on the pooled vectors followed by
the model's normalization (P is linear; normalization undoes any positive scale).
"""
import argparse
import json
import sys
import time

import numpy as np

import rescoring                       # tools/rescoring.py, beside this file
from jaxir.errors import JaxirError


def lang_rows(index_json):
  out = {}
  for l in index_json["langs"]:
    p = index_json["per_lang"][l]
    out[l] = sorted(set(map(int, p["question_rows"])) | set(map(int, p["candidate_rows"])))
  return out


def language_subspace(emb, rows_by_lang, langs):
  """(U's candidates: right singular vectors of the centered language means, best first; their singular values)."""
  return subspace(np.stack([np.asarray(emb[rows_by_lang[l]], np.float64).mean(0) for l in langs]))


def subspace(means):
  """(right singular vectors of the centered rows of `means` [languages, dim], best first; singular values)."""
  means = np.asarray(means, np.float64)
  _, sv, vt = np.linalg.svd(means - means.mean(0), full_matrices=False)
  return vt, sv


def tatoeba_offsets(encode, pairs):
  """[1 + len(pairs), dim] rows: English's 0, then per language mean(encode(x)) - mean(encode(English)) over its
  line-aligned (x sentences, English sentences)."""
  offsets = [np.asarray(encode(src), np.float64).mean(0) - np.asarray(encode(eng), np.float64).mean(0)
             for src, eng in pairs]
  return np.stack([np.zeros_like(offsets[0])] + offsets)


def project(emb, U):
  e = np.asarray(emb, np.float64)
  if U is not None and U.shape[1]:
    e = e - (e @ U) @ U.T
  return e / np.linalg.norm(e, axis=1, keepdims=True)


def projected_scores(vt):
  """scores(q, c, r) for `rescoring.score`: q·c after removing the top r directions of vt (r = 0: plain)."""
  def scores(q, c, r):
    U = vt[:r].T if r else None
    return (project(q, U) @ project(c, U).T).astype(np.float32)
  return scores


def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("model")
  ap.add_argument("--xquad", help="an XQuAD-R export of the same model: evaluated once, at --xquad-rank")
  ap.add_argument("--xquad-rank", type=int, help="the rank chosen on the dev split")
  ap.add_argument("--ranks", default="0,1,2,3,4,5,6")
  ap.add_argument("--max-train", type=int, default=1500, help="mlqa-train: texts per language for the means")
  ap.add_argument("--means", choices=("mlqa-train", "tatoeba"), default="mlqa-train")
  ap.add_argument("--tatoeba-langs", default="ar,de,el,es,hi,ru,th,tr,vi,zh")
  a = ap.parse_args(argv)
  try:
    ranks = [int(r) for r in a.ranks.split(",")]
  except ValueError:
    raise JaxirError(f"--ranks must be comma-separated integers, got {a.ranks!r}") from None
  if a.max_train < 1:
    raise JaxirError(f"--max-train must be at least 1, got {a.max_train}")
  if (a.xquad is None) != (a.xquad_rank is None):
    raise JaxirError("--xquad and --xquad-rank go together (the rank is the one chosen on the dev split)")
  tatoeba_langs = [l for l in a.tatoeba_langs.split(",") if l]
  if a.means == "tatoeba" and (not tatoeba_langs or "en" in tatoeba_langs or len(set(tatoeba_langs)) < len(tatoeba_langs)):
    raise JaxirError(f"--tatoeba-langs must name one or more distinct languages other than en (English is the "
                     f"reference), got {a.tatoeba_langs!r}")
  from jaxir.encode import benchmark_texts, embed_texts
  xquad = rescoring.load_xquad(a.xquad) if a.xquad else None      # a bad export is refused before any encoding
  dev = rescoring.load_dev(a.model)
  pre, prompts, data, train_langs = dev.pre, dev.prompts, dev.data, dev.train_langs
  mean_langs = train_langs if a.means == "mlqa-train" else ["en"] + tatoeba_langs
  for r in ranks + ([a.xquad_rank] if xquad else []):
    if not 0 <= r < len(mean_langs):
      raise JaxirError(f"a rank must be in 0..{len(mean_langs) - 1} ({len(mean_langs)} languages), got {r}")
  t0 = time.time()
  if a.means == "tatoeba":
    from jaxir import config as config_lib
    from jaxir.data import tatoeba
    bitext = tatoeba.load_tatoeba(config_lib.build().data.data_dir, tatoeba_langs)
    first = {l: tatoeba.halves(len(bitext[l][0]))[0] for l in tatoeba_langs}
    pairs = [([bitext[l][0][i] for i in first[l]], [bitext[l][1][i] for i in first[l]]) for l in tatoeba_langs]
    vt, sv = subspace(tatoeba_offsets(lambda t: embed_texts(pre, [prompts[1] + x for x in t], pre.max_length), pairs))
    print(f"Tatoeba half-1 offsets of {len(tatoeba_langs)} languages from English, "
          f"{sum(len(p[0]) for p in pairs)} pairs, in {time.time() - t0:.0f}s", flush=True)
  else:
    texts, idx = benchmark_texts(data.corpora["train"], *prompts)
    rows = lang_rows(idx)
    rng = np.random.default_rng(0)
    pick = {l: sorted(rng.choice(r, min(a.max_train, len(r)), replace=False)) for l, r in rows.items()}
    allrows = sorted(set().union(*pick.values()))
    emb_tr = embed_texts(pre, [texts[i] for i in allrows], pre.max_length)
    where = {r: i for i, r in enumerate(allrows)}
    vt, sv = language_subspace(emb_tr, {l: [where[r] for r in pick[l]] for l in train_langs}, train_langs)
    print(f"train means from {len(allrows)} texts in {time.time() - t0:.0f}s", flush=True)
  print("singular values of the centered language means:", np.round(sv, 4).tolist(), flush=True)
  scores = projected_scores(vt)
  results = {"dev": rescoring.score(dev.index, dev.emb, scores, ranks, train_langs), "xquad": {}}
  for r in ranks:
    print(rescoring.line("dev  ", f"rank {r}", results["dev"][r]), flush=True)
  if xquad:
    index_x, emb_x = xquad
    rescoring.check_width(a.xquad, emb_x, dev.emb.shape[1])
    results["xquad"] = rescoring.score(index_x, emb_x, scores, [a.xquad_rank], train_langs)
    print(rescoring.line("xquad", f"rank {a.xquad_rank}", results["xquad"][a.xquad_rank]), flush=True)
  print(json.dumps(results))


if __name__ == "__main__":
  try:
    main()
  except JaxirError as e:
    sys.exit(f"language_subspace: error: {e}")

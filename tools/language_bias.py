"""Which languages' answers make the language bias (RD) of an exported XQuAD-R / MLQA-R / -R embedding set.

  PYTHONPATH=. python tools/language_bias.py SWEEP/cells/<cell>/emb/xquad-r [--train-langs ar,de,...]

RD is, per query, the pooled rank of its lowest-ranked parallel answer minus that of its highest-ranked one,
averaged over queries and then over query languages (`jaxir.eval.lareqa`). Per candidate language Y this prints:
  worst   the share of queries whose lowest-ranked answer is Y's (ties counted for each tied language)
  rank    the median pooled rank of Y's answer
  RD −Y   the RD with Y's answers left out of every query (the other languages' spread alone)
so "RD −Y" far below RD says that Y's answers are what the bias is made of. Prints the overall RD first, which
equals the summary's RD of `jaxir eval` on the same embeddings.

--segmentation Y (an -R benchmark whose folder holds <lang>.json with `sentences`, as the manifest says) splits
the queries by whether their paragraph has fewer sentences in Y than in English (Y's sentence splitter merged
some; XQuAD-R's Thai has 852 candidate sentences to English's 1180) and prints, per group, Y's median pooled rank,
how often Y's answer is the worst-placed, and RD with and without Y: is Y's low placement made by its segmentation?
"""
import argparse
import collections
import sys
from pathlib import Path

import numpy as np

from jaxir.data import squad_r
from jaxir.errors import JaxirError
from jaxir.eval import evaluate, lareqa


def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("embeddings", help="a `jaxir encode` output folder of an -R benchmark")
  ap.add_argument("--train-langs", help="comma-separated: marks the languages seen in training")
  ap.add_argument("--segmentation", metavar="Y", help="split queries by whether Y's paragraph has fewer sentences "
                  "than English's")
  args = ap.parse_args(argv)
  from jaxir.encode import load_embeddings
  manifest, index_json, emb = load_embeddings(args.embeddings)
  index = evaluate._index_from_export(index_json)
  ranks = lareqa.rank(index, np.asarray(emb))
  seen = set(args.train_langs.split(",")) if args.train_langs else set()

  counted = (ranks.mask.sum(1) >= 2).sum()
  if not counted:
    raise JaxirError(f"{args.embeddings}: no query has answers in two or more languages ({' '.join(ranks.langs)}), "
                     "so there is no language bias (RD) to break down")
  print(f"RD {lareqa.mean_rank_distance(ranks):.1f} over {counted} queries with two or more answers "
        f"({len(ranks.langs)} languages)")
  print(f"{'lang':<6}{'seen':<6}{'worst':>8}{'rank':>8}{'RD -Y':>9}")
  for y, lang in enumerate(ranks.langs):
    part = lareqa.language_part(ranks, lang)
    median = np.median(ranks.pooled[ranks.mask[:, y], y])
    print(f"{lang:<6}{'yes' if lang in seen else '':<6}{100 * part['worst']:7.1f}%{median:8.0f}"
          f"{part['RD_without'] or float('nan'):9.1f}")
  if args.segmentation:
    segmentation(ranks, index, manifest.get("folder"), args.segmentation)


def fewer_sentences(folder, lang, question_ids):
  """[Q] bool per query id: its paragraph has fewer sentences in `lang`'s -R file than in English's."""
  def sentences_per_question(l):
    corpus = squad_r.read_r_file(Path(folder or "") / f"{l}.json", l)
    count = collections.Counter(corpus.candidate_context)
    return {q.id: count[corpus.candidate_context[q.answer]] for q in corpus.questions}
  en, other = sentences_per_question("en"), sentences_per_question(lang)
  missing = [q for q in question_ids if q not in en or q not in other]
  if missing:
    raise JaxirError(f"--segmentation: question {missing[0]} is not in both {lang}.json and en.json")
  return np.array([other[q] < en[q] for q in question_ids])


def segmentation(ranks, index, folder, lang):
  if lang not in ranks.langs or "en" not in ranks.langs:
    raise JaxirError(f"--segmentation {lang}: these embeddings need both {lang} and en (they have "
                     f"{' '.join(ranks.langs)})")
  y, en = ranks.langs.index(lang), ranks.langs.index("en")
  merged = fewer_sentences(folder, lang, [q for l in ranks.langs for q in index.question_ids[l]])
  mask = ranks.mask
  worst = np.where(mask, ranks.pooled, 0).max(1)             # per query; `lareqa.worst_placed` says whose it is
  keep = mask.copy()
  keep[:, y] = False
  spread, spread_without = lareqa.rank_distance(ranks.pooled, mask), lareqa.rank_distance(ranks.pooled, keep)
  print(f"\n{lang}'s paragraph has fewer sentences than English's (queries pooled over query languages):")
  print(f"{'':<10}{'queries':>8}{'rank ' + lang:>9}{'rank en':>9}{'worst':>8}{'RD':>8}{'RD -' + lang:>9}")
  for name, group in (("fewer", merged), ("others", ~merged)):
    g = group & mask[:, y]
    if not g.any():
      print(f"{name:<10}{0:8d}")
      continue
    print(f"{name:<10}{g.sum():8d}{np.median(ranks.pooled[g, y]):9.0f}{np.median(ranks.pooled[g & mask[:, en], en]):9.0f}"
          f"{100 * np.mean(ranks.pooled[g, y] == worst[g]):7.1f}%{np.nanmean(spread[g]):8.1f}"
          f"{np.nanmean(spread_without[g]):9.1f}")


if __name__ == "__main__":
  try:
    main()
  except JaxirError as e:
    sys.exit(f"language_bias: error: {e}")

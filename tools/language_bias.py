"""Which languages' answers make the language bias (RD) of an exported XQuAD-R / MLQA-R / -R embedding set.

  PYTHONPATH=. python tools/language_bias.py SWEEP/cells/<cell>/emb/xquad-r [--train-langs ar,de,...]

RD is, per query, the pooled rank of its lowest-ranked parallel answer minus that of its highest-ranked one,
averaged over queries and then over query languages (`jaxir.eval.lareqa`). Per candidate language Y this prints:
  worst   the share of queries whose lowest-ranked answer is Y's (ties counted for each tied language)
  rank    the median pooled rank of Y's answer
  RD −Y   the RD with Y's answers left out of every query (the other languages' spread alone)
so "RD −Y" far below RD says that Y's answers are what the bias is made of. Prints the overall RD first, which
equals the summary's RD of `jaxir eval` on the same embeddings.
"""
import argparse
import sys

import numpy as np

from jaxir.errors import JaxirError
from jaxir.eval import evaluate, lareqa


def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("embeddings", help="a `jaxir encode` output folder of an -R benchmark")
  ap.add_argument("--train-langs", help="comma-separated: marks the languages seen in training")
  args = ap.parse_args(argv)
  from jaxir.encode import load_embeddings
  _, index_json, emb = load_embeddings(args.embeddings)
  index = evaluate._index_from_export(index_json)
  ranks = lareqa.rank(index, np.asarray(emb))
  seen = set(args.train_langs.split(",")) if args.train_langs else set()

  def rd(mask):
    per_lang = [np.nanmean(lareqa.rank_distance(ranks.pooled[ranks.query_lang == x], mask[ranks.query_lang == x]))
                for x in range(len(ranks.langs))]
    return float(np.mean(per_lang))

  mask = ranks.mask
  worst = np.where(mask, ranks.pooled, 0).max(1, keepdims=True)
  last = mask & (ranks.pooled == worst) & (mask.sum(1, keepdims=True) >= 2)
  counted = (mask.sum(1) >= 2).sum()
  print(f"RD {rd(mask):.1f} over {counted} queries with two or more answers ({len(ranks.langs)} languages)")
  print(f"{'lang':<6}{'seen':<6}{'worst':>8}{'rank':>8}{'RD -Y':>9}")
  for y, lang in enumerate(ranks.langs):
    keep = mask.copy()
    keep[:, y] = False
    median = np.median(ranks.pooled[mask[:, y], y])
    print(f"{lang:<6}{'yes' if lang in seen else '':<6}{100 * last[:, y].sum() / counted:7.1f}%{median:8.0f}"
          f"{rd(keep):9.1f}")


if __name__ == "__main__":
  try:
    main()
  except JaxirError as e:
    sys.exit(f"language_bias: error: {e}")

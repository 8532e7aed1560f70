"""Scoring speed: all of XQuAD-R (13,090 queries x 13,014 candidates; 121 pair settings + 11 pooled).

Random unit vectors stand in for the embeddings (the ranking cost does not depend on their values);
the index (ids, answers, candidate pools) is the real XQuAD-R one. Prints cold (with compilation)
and warm wall time and peak resident memory.

  python benchmarks/score_speed.py [--data-dir DIR] [--dim 384] [--chunk 128] [--repeats 3]
"""
import argparse
import json
import resource
import time

import numpy as np

from jaxir.data.squad_r import load_benchmark
from jaxir.encode import benchmark_texts
from jaxir.eval import lareqa


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument("--data-dir")
  ap.add_argument("--dim", type=int, default=384)
  ap.add_argument("--chunk", type=int, default=128)
  ap.add_argument("--repeats", type=int, default=3)
  args = ap.parse_args()
  corpora = load_benchmark("xquad-r", args.data_dir)
  texts, index_json = benchmark_texts(corpora, "query: ", "passage: ")
  index = lareqa.Index.from_json(index_json)
  emb = np.random.default_rng(0).normal(size=(len(texts), args.dim)).astype(np.float32)
  emb /= np.linalg.norm(emb, axis=1, keepdims=True)
  times = []
  for _ in range(args.repeats + 1):
    t = time.perf_counter()
    summary, _ = lareqa.metrics(lareqa.rank(index, emb, chunk=args.chunk))
    times.append(time.perf_counter() - t)
  n_q = sum(len(index.question_ids[l]) for l in index.langs)
  n_c = sum(len(index.candidate_rows[l]) for l in index.langs)
  print(json.dumps({"queries": n_q, "candidates": n_c, "pair_settings": len(index.langs) ** 2,
                    "pooled_settings": len(index.langs), "dim": args.dim, "chunk": args.chunk,
                    "cold_s": round(times[0], 3), "warm_s": round(min(times[1:]), 3),
                    "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                    "Mul_random": round(summary["Mul"], 4)}))


if __name__ == "__main__":
  main()

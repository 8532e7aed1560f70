"""Streamed exact top-k at corpus scale: queries per second and peak memory over on-disk shards.

Writes a synthetic corpus of random unit vectors (default 1,000,000 x 384, float16) as an embedding
store (`jaxir.shards`, the format `jaxir encode` writes), then searches it in a fresh process with
`jaxir.eval.topk.search` and reports queries/s at top-k and the peak resident memory
(`resource.getrusage`) next to the corpus size: the search maps one shard at a time, so its memory
stays bounded by a shard plus a block, whatever the corpus size.

  python benchmarks/topk_scale.py                          # 1M x 384 float16, 1000 queries, top-100
  python benchmarks/topk_scale.py --dtype float32 --n 2000000 --approx
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _rss_mb():
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_corpus(folder, n, dim, dtype, shard_rows, seed=0):
  from jaxir.shards import write_store
  rng = np.random.default_rng(seed)

  def embed(texts, bar):
    x = rng.standard_normal((len(texts), dim), dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)

  records = ((f"p{i}", "") for i in range(n))
  return write_store(folder, records, embed, dim, shard_rows, dtype, total=n, desc="write corpus")


def search_child(args):
  """Runs in a fresh process: its peak RSS is the search's own."""
  import jax
  from jaxir.eval import topk
  from jaxir.shards import Store
  store = Store(args.dir)
  rng = np.random.default_rng(1)
  q = rng.standard_normal((args.queries, store.dim)).astype(np.float32)
  q /= np.linalg.norm(q, axis=1, keepdims=True)
  base = _rss_mb()
  t0 = time.time()
  scores, rows = topk.search(q, store, args.k, args.block_rows, args.query_chunk)
  exact_s = time.time() - t0
  res = {"devices": f"{jax.device_count()} x {jax.devices()[0].platform}", "n": store.n, "dim": store.dim,
         "dtype": store.dtype, "queries": args.queries, "k": args.k, "block_rows": args.block_rows,
         "query_chunk": args.query_chunk, "seconds": round(exact_s, 2), "queries_per_s": round(args.queries / exact_s, 1),
         "rss_before_search_mb": round(base, 1), "peak_rss_mb": round(_rss_mb(), 1)}
  if args.check:       # a few queries against a plain numpy pass over the shards
    best = []
    for start, block in store.blocks(args.block_rows):
      s = q[:args.check] @ np.asarray(block, np.float32).T
      best.append((s, start))
    full = np.concatenate([s for s, _ in best], axis=1)
    ref = np.argsort(-full, axis=1, kind="stable")[:, :args.k]
    res["check_queries_equal"] = bool((ref == rows[:args.check]).all())
  if args.approx:
    t0 = time.time()
    _, arows = topk.search(q, store, args.k, args.block_rows, args.query_chunk, approx=True)
    res["approx_seconds"] = round(time.time() - t0, 2)
    res["approx_recall_vs_exact"] = topk.recall_vs_exact(arows, rows)
  res["peak_rss_with_checks_mb"] = round(_rss_mb(), 1)
  print(json.dumps(res))


def main():
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--n", type=int, default=1_000_000)
  p.add_argument("--dim", type=int, default=384)
  p.add_argument("--dtype", default="float16", choices=["float16", "float32"])
  p.add_argument("--shard-rows", type=int, default=100_000)
  p.add_argument("--queries", type=int, default=1000)
  p.add_argument("--k", type=int, default=100)
  p.add_argument("--block-rows", type=int, default=32768)
  p.add_argument("--query-chunk", type=int, default=256)
  p.add_argument("--approx", action="store_true", help="also time approx_max_k and report its recall against exact")
  p.add_argument("--check", type=int, default=5, help="queries checked against numpy (0: none)")
  p.add_argument("--dir", help="corpus store folder (default: a temporary one, removed afterwards)")
  p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
  args = p.parse_args()
  if args.child:
    return search_child(args)
  tmp = None
  if not args.dir:
    tmp = tempfile.TemporaryDirectory(prefix="topk-scale-")
    args.dir = str(Path(tmp.name) / "corpus")
  try:
    t0 = time.time()
    meta = write_corpus(args.dir, args.n, args.dim, args.dtype, args.shard_rows)
    write_s = time.time() - t0
    disk = sum(f.stat().st_size for f in Path(args.dir).glob("shard_*.npy"))
    argv = [sys.executable, __file__, "--child", *sys.argv[1:]]
    if "--dir" not in sys.argv:
      argv += ["--dir", args.dir]
    run = subprocess.run(argv, capture_output=True, text=True, env=os.environ)
    if run.returncode:
      sys.exit(run.stderr[-3000:])
    res = json.loads(run.stdout.strip().splitlines()[-1])
    res.update({"write_seconds": round(write_s, 1), "corpus_on_disk_mb": round(disk / 2**20, 1),
                "shards": len(meta["shards"]), "shard_rows": args.shard_rows})
    print(json.dumps(res, indent=2))
    print(f"\n{res['n']:,} x {res['dim']} {res['dtype']} ({res['corpus_on_disk_mb']:.0f} MiB on disk, {res['shards']} shards): "
          f"{res['queries_per_s']:.1f} queries/s at top-{res['k']} on {res['devices']}; peak RSS {res['peak_rss_mb']:.0f} MiB "
          f"({res['rss_before_search_mb']:.0f} MiB before the search)")
  finally:
    if tmp:
      tmp.cleanup()


if __name__ == "__main__":
  main()

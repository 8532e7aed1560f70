"""Predicted (`jaxir plan --topology cpu`) vs measured train-step time on this CPU.

    PYTHONPATH=. python benchmarks/plan_vs_measured.py [--model e5-small] [--batch 32] [--steps 3] [--gpu h200x1]

With `--gpu KINDxN` (on a host with N such GPUs) the prediction is `jaxir plan --gpu KINDxN`'s (compiled
deviceless, for the chip's datasheet figures), and the same step is compiled again for this host's real GPUs and
timed there: the check of the GPU roofline that the CPU cannot give.

The model is a random init from its config.json (`jaxir.model.known_configs`); the batch is the plan's
worst case (packed, every query 64 and passage 128 tokens, random ids). The plan's compiled step is the
one that runs, so prediction and measurement see the same program. Not part of the test suite.
"""
import argparse
import time

import jaxir  # noqa: F401  (first: settles the backend, so a host with libtpu runs on its CPU quietly)
import jax
import numpy as np


def main(argv=None):
  from jaxir import config as config_lib
  from jaxir import plan
  from jaxir.data import packed as packed_lib
  from jaxir.model.config import EncoderConfig
  from jaxir.model.known_configs import known_config
  from jaxir.train import mesh as mesh_lib
  from jaxir.train import state as state_lib

  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--model", default="e5-small")
  ap.add_argument("--batch", type=int, default=32)
  ap.add_argument("--steps", type=int, default=3)
  ap.add_argument("--gpu", help="KINDxN: predict for that GPU (deviceless) and measure on this host's GPUs")
  args = ap.parse_args(argv)
  cfg = config_lib.build(overrides=[f"batch.batch_size={args.batch}"])
  enc = EncoderConfig.from_hf(known_config(args.model), args.model)
  keep = {}
  if args.gpu:
    t = plan.target(gpu=args.gpu)
    real = [d for d in jax.devices() if d.platform == "gpu"]
    if len(real) < t.chips:      # before the deviceless compile: minutes spent for nothing otherwise
      raise SystemExit(f"--gpu {args.gpu}: this host has {len(real)} GPUs ({jax.devices()[0].device_kind})")
    r = plan.plan(cfg, t, enc, args.model, encode=False)
    print(f"measuring on {t.chips} x {real[0].device_kind}")
    t.devices = real[:t.chips]                 # the same figures, compiled again for the real devices
    plan.compile_train(cfg, enc, t, keep=keep)
    peaks = f"datasheet peaks: {t.peak_flops / 1e12:.0f} TFLOP/s, {t.hbm_bandwidth / 1e12:.2f} TB/s"
  else:
    t = plan.target("cpu")
    r = plan.plan(cfg, t, enc, args.model, encode=False, keep=keep)
    peaks = f"CPU peaks (measured): {t.peak_flops / 1e9:.1f} GFLOP/s matmul, {t.hbm_bandwidth / 1e9:.1f} GB/s copy"
  print(f"predicted: {plan.summary(r)}")
  print(f"  {peaks}; {r['flops_per_step'] / 1e12:.3f} TFLOP and {r['bytes_per_step'] / 1e9:.2f} GB per step")

  mesh, encoder = keep["mesh"], keep["encoder"]
  d = cfg.data
  rng = np.random.default_rng(0)
  texts = lambda n, length: [rng.integers(5, enc.vocab_size, length).astype(np.int32) for _ in range(n)]
  host = packed_lib.pack([(texts(args.batch, d.max_query_length), texts(args.batch, d.max_passage_length), [])], 0,
                         max(d.max_query_length, d.max_passage_length), enc.pad_token_id)
  assert {k: v.shape for k, v in host.items()} == {k: tuple(v) for k, v in keep["shapes"].items()}
  state = state_lib.create_train_state(encoder, cfg, mesh)
  times = []
  for _ in range(args.steps):
    batch = mesh_lib.host_batch_to_global(host, mesh)
    start = time.perf_counter()
    state, metrics = keep["compiled"](state, batch)
    jax.block_until_ready(metrics)
    times.append(time.perf_counter() - start)
  measured = float(np.median(times[1:] if len(times) > 1 else times))
  predicted = r["step_seconds_roofline"]
  print(f"measured: {measured:.3f} s/step (median of steps 2..{args.steps}: {', '.join(f'{x:.3f}' for x in times)})")
  print(f"predicted {predicted:.3f} s/step, measured {measured:.3f} s/step: measured / predicted = "
        f"{measured / predicted:.2f}")


if __name__ == "__main__":
  from jaxir.errors import JaxirError
  try:
    main()
  except JaxirError as e:       # a bad --gpu / --model: the one line, as the jaxir command says it
    raise SystemExit(f"plan_vs_measured: {e}") from None

"""`jaxir train --config experiments/X.py|yaml [key=value ...]`."""


def register(sub):
  p = sub.add_parser("train", help="train an encoder with hybrid batches (resumes an unfinished run)")
  p.add_argument("--config", help="experiments/*.py (get_config()) or *.yaml; defaults when omitted")
  p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="e.g. batch.alpha=0.25 steps=100")
  p.add_argument("--quiet", action="store_true", help="no log lines on stderr (log.jsonl is always written)")
  p.set_defaults(func=_run)


def _run(args):
  from jaxir import api, backends
  cfg = api.train_config(args.config, args.overrides)        # a bad setting is refused before waiting on peers
  from jaxir.train.trainer import maybe_initialize_distributed
  maybe_initialize_distributed()
  # JAX's persistent compilation cache, on this host: a resumed run (a TPU VM after preemption) or a run of the
  # same shapes loads its compiled steps instead of compiling them again. JAX_COMPILATION_CACHE_DIR chooses
  # another directory; JAX_ENABLE_COMPILATION_CACHE=false turns it off.
  with backends.compilation_cache(backends.host_cache_dir()):
    out = api.train(cfg, progress=not args.quiet)
  print(f"train: finished {out}")

"""`jaxir sweep --config experiments/X.py|yaml [key=value ...]`: run (or resume) an alpha sweep."""


def register(sub):
  p = sub.add_parser("sweep", help="grid of training runs over alpha x seeds (x models x batch types), each evaluated")
  p.add_argument("--config", help="experiments/*.py (get_config()) or *.yaml with train / grid / eval sections")
  p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                 help="e.g. grid.alphas=[0,0.5,1] grid.seeds=2 train.steps=20 eval.max_articles=2")
  p.add_argument("--out", help="sweep directory (default: the config's out_dir)")
  p.add_argument("--list", action="store_true", help="print the cells and exit")
  p.add_argument("--verbose", action="store_true", help="also the trainer's log lines and the encoder's progress bar")
  p.add_argument("--quiet", action="store_true", help="no progress lines")
  p.set_defaults(func=_run)


def _run(args):
  from jaxir.sweep import spec as spec_lib
  spec = spec_lib.build(args.config, args.overrides, args.out)
  cells = spec.cells()
  if args.list:
    for c in cells:
      print(c.name)
    print(f"{len(cells)} cells -> {spec.out_dir}")
    return
  from jaxir.sweep.runner import run_sweep
  out, status = run_sweep(spec, progress=not args.quiet, verbose=args.verbose)
  ran = sum(s == "ran" for s in status.values())
  print(f"sweep: {len(status)} cells finished ({ran} run now, {len(status) - ran} already done) in {out}; "
        f"next: jaxir report {out}")

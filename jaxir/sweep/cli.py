"""`jaxir sweep --config experiments/X.py|yaml [key=value ...]`: run (or resume) an alpha sweep."""
from jaxir.errors import some


def register(sub):
  p = sub.add_parser("sweep", help="grid of training runs over alpha x seeds (x models x batch types), each evaluated")
  p.add_argument("--config", help="experiments/*.py (get_config()) or *.yaml with train / grid / eval sections")
  p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                 help="e.g. grid.alphas=[0,0.5,1] grid.seeds=2 train.steps=20 eval.max_articles=2")
  p.add_argument("--out", help="sweep directory, local or gs://bucket/path (default: the config's out_dir)")
  p.add_argument("--cells", metavar="GLOB[,GLOB...]",
                 help="run only these cells, in this order (e.g. 'hybrid_a0.5_s2,mixed_*'); the sweep keeps the "
                      "whole grid")
  p.add_argument("--list", action="store_true", help="print the cells (those --cells picks) and exit")
  p.add_argument("--verbose", action="store_true", help="also the trainer's log lines and the encoder's progress bar")
  p.add_argument("--quiet", action="store_true", help="no progress lines")
  p.set_defaults(func=_run)


def _run(args):
  from jaxir import api
  spec = api.sweep_spec(args.config, args.overrides, out=args.out)
  if args.list:
    from jaxir.sweep.runner import select
    only = api._cell_globs(args.cells)
    cells = select(spec.cells(), only) if only else spec.cells()
    for c in cells:
      print(c.name)
    print(f"{len(cells)} cells -> {spec.out_dir}")
    return
  out, status = api._sweep(spec, args.cells, progress=not args.quiet, verbose=args.verbose)
  print(_summary(status, out))


def _summary(status, out):
  ran, held = sum(s == "ran" for s in status.values()), sum(s == "skipped" for s in status.values())
  busy = [c for c, s in status.items() if s == "busy"]
  text = f"sweep: {ran + held} cells finished ({ran} run now, {held} already done)"
  if busy:
    text += f", {len(busy)} left to the processes running them ({some(busy)})"
  from jaxir import storage
  if storage.is_cloud(out):                # the report reads a local copy (jaxir.report.load)
    return text + f" in {out}; next: gcloud storage cp -r {out} . && jaxir report {str(out).rstrip('/').rsplit('/', 1)[-1]}"
  return text + f" in {out}; next: jaxir report {out}"

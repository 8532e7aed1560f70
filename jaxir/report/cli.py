"""`jaxir report SWEEP_DIR`: statistics, figures and a Markdown + self-contained HTML report of a sweep."""


def register(sub):
  p = sub.add_parser("report", help="report of a sweep: curves over alpha, Pareto front, heatmaps, tests, tables")
  p.add_argument("sweep_dir", metavar="SWEEP_DIR", help="directory written by `jaxir sweep`")
  p.add_argument("--out", help="output directory (default: SWEEP_DIR/report)")
  p.add_argument("--resamples", type=int, default=9999,
                 help="sign-flip resamples per paired test (default 9999, as scipy; the smallest two-sided p is 2/(resamples+1), before Holm)")
  p.set_defaults(func=_run)


def _run(args):
  from jaxir.errors import JaxirError
  from jaxir.report.build import make_report
  if args.resamples < 99:
    raise JaxirError("--resamples must be at least 99")
  out = make_report(args.sweep_dir, args.out, resamples=args.resamples)
  print(f"report: wrote {out / 'report.md'} and {out / 'report.html'}")

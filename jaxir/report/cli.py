"""`jaxir report SWEEP_DIR`: statistics, figures and a Markdown + self-contained HTML report of a sweep (or of
its recorded scores: `jaxir report FILE.yaml --out DIR`);
`jaxir expected write|check SWEEP_DIR FILE`: a sweep's scores recorded, or checked against a record."""


def register(sub):
  p = sub.add_parser("report", help="report of a sweep: curves over alpha, Pareto front, heatmaps, tests, tables")
  p.add_argument("sweep_dir", metavar="SWEEP_DIR", help="directory written by `jaxir sweep`, or an expected-scores "
                 "file (`jaxir expected write`): the report of its recorded scores, with tests over seeds only")
  p.add_argument("--out", help="output directory (default: SWEEP_DIR/report; required for an expected-scores file)")
  p.add_argument("--resamples", type=int, default=9999,
                 help="sign-flip resamples per paired test (default 9999, as scipy; the smallest two-sided p is 2/(resamples+1), before Holm)")
  p.add_argument("--baseline", metavar="FILE.yaml:CONFIG",
                 help="compare every curve point, seed by seed, with the cells CONFIG_s<seed> of an expected-scores "
                      "file (e.g. experiments/expected/full.yaml:hybrid_a0.5)")
  p.set_defaults(func=_run)
  e = sub.add_parser("expected", help="record a sweep's scores in a YAML file, or check a sweep against one")
  e.add_argument("action", choices=("write", "check"))
  e.add_argument("sweep_dir", metavar="SWEEP_DIR", help="directory written by `jaxir sweep`")
  e.add_argument("file", metavar="FILE", help="expected-scores YAML (e.g. experiments/expected/quick.yaml)")
  e.add_argument("--note", help="write: where and how the scores were measured (kept in the file)")
  e.add_argument("--force", action="store_true",
                 help="write: replace FILE whole, even when it is not an expected-scores file or records other options"
                      " (without it, FILE's cells the sweep has not finished are kept)")
  e.set_defaults(func=_expected)


def _run(args):
  from jaxir import api
  from jaxir.errors import JaxirError
  if args.resamples < 99:
    raise JaxirError("--resamples must be at least 99")
  md = api.report(args.sweep_dir, args.out, resamples=args.resamples, baseline=args.baseline)
  print(f"report: wrote {md} and {md.with_name('report.html')}")


def _expected(args):
  import sys
  from jaxir.report import expected
  if args.action == "write":
    n, kept = expected.write(args.sweep_dir, args.file, args.note, force=args.force)
    also = f", and kept {kept} recorded cells the sweep has not finished" if kept else ""
    print(f"expected: wrote the scores of {n} cells to {args.file}{also}")
    return 0
  _, problems = expected.check(args.sweep_dir, args.file, sys.stdout)
  return 1 if problems else 0

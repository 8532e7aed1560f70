"""`jaxir data ...`: convert SQuAD files to -R, benchmark statistics, TFDS builds, training pairs.

Each subcommand is added by one `_add_*` function below. Handlers import their module lazily, so `jaxir --help` never loads TensorFlow.
"""
import importlib
import json
import os
import sys

from jaxir.data.squad_r import BENCHMARK_LANGS, BENCHMARKS


def _make_r(args):
  from jaxir.data import make_r
  counts = make_r.make_r(args.input, args.output, args.lang)
  print(f"wrote {args.output}: {make_r.format_counts(counts)}")


def _stats(args):
  from jaxir.data import stats
  result = stats.stats(args.benchmark, args.data_dir, args.langs)
  print(json.dumps(result, indent=2, ensure_ascii=False) if args.json else stats.format_stats(result))


def _pairs(args):
  from jaxir import api
  from jaxir.data import hybrid, pairs
  overrides = list(args.overrides) + ([f"data.data_dir={args.data_dir}"] if args.data_dir else [])
  cfg = api.cell_train_config(args.config, overrides)
  data = pairs.load_pairs(cfg.data)
  hybrid.check(data.train, cfg.batch)  # e.g. cross-lingual batches from one language
  s = pairs.pair_stats(data)
  print(json.dumps(s, indent=2, ensure_ascii=False) if args.json else pairs.format_pair_stats(s))


def _import_quietly(name):
  """Imports `name` with TensorFlow's C++ start-up chatter (written to fd 2 before logging is set up) muted."""
  sys.stderr.flush()
  saved = os.dup(2)
  try:
    with open(os.devnull, "w") as devnull:
      os.dup2(devnull.fileno(), 2)
      try:
        return importlib.import_module(name)
      finally:
        os.dup2(saved, 2)
  finally:
    os.close(saved)


def _prepare(args):
  from jaxir.data import squad_r
  langs = squad_r.check_langs(args.benchmark, args.langs)  # before the slow TensorFlow import
  tfds_builders = _import_quietly("jaxir.data.tfds_builders")
  tfds_builders.tfds.disable_progress_bar()
  root = tfds_builders.tfds_root(args.tfds_dir)
  for lang in langs:
    builder = tfds_builders.prepare(args.benchmark, lang, args.data_dir, args.tfds_dir, args.download)
    split = tfds_builders.SPLITS[args.benchmark]
    print(f"{args.benchmark} {lang}: {builder.info.splits[split].num_examples} {split} examples in {builder.data_dir}")
  print(f"load with jaxir.data.tfds_builders.load_tfds(..., tfds_dir={str(root)!r})")


def _add_make_r(sub):
  p = sub.add_parser("make-r", help="convert SQuAD v1.1 JSON without sentence breaks into the -R format")
  p.add_argument("input", metavar="IN.json")
  p.add_argument("output", metavar="OUT.json")
  p.add_argument("--lang", required=True, help="ISO 639-1 code of the text (sentence segmentation rules)")
  p.set_defaults(func=_make_r)


def _add_stats(sub):
  p = sub.add_parser("stats", help="per-language question/candidate counts and parallel-id overlap")
  p.add_argument("benchmark", choices=sorted(BENCHMARKS), help="squad-r: any folder of <lang>.json -R files (--data-dir)")
  p.add_argument("--data-dir", help="data root (default: $JAXIR_DATA, else ../shared/data); squad-r: the folder")
  p.add_argument("--langs", nargs="+", metavar="LANG", help="languages (default: all of the benchmark)")
  p.add_argument("--json", action="store_true", help="print JSON instead of tables")
  p.set_defaults(func=_stats)


def _add_prepare(sub):
  p = sub.add_parser("prepare", help="build the TFDS datasets (one config per language)")
  p.add_argument("benchmark", choices=sorted(BENCHMARK_LANGS))
  p.add_argument("--data-dir", help="data root (default: $JAXIR_DATA, else ../shared/data)")
  p.add_argument("--tfds-dir", help="TFDS cache (default: $JAXIR_TFDS_DIR, else ~/.cache/jaxir/tfds)")
  p.add_argument("--langs", nargs="+", metavar="LANG", help="languages (default: all of the benchmark)")
  p.add_argument("--download", action="store_true",
                 help="without local files, fetch the pinned public files (sha256-checked; needs network)")
  p.set_defaults(func=_prepare)


def _add_pairs(sub):
  p = sub.add_parser("pairs", help="training pairs of a config: train/dev split, x_x and x_y pair counts")
  p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                 help="config overrides, e.g. data.langs=[de,en]; your own pairs: data.source=pairs data.path=FILE|DIR; "
                      "an -R folder: data.source=squad-r data.path=DIR")
  p.add_argument("--config", help="experiment config (.py with get_config() or .yaml), or a sweep preset: its training")
  p.add_argument("--data-dir", help="data root (default: data.data_dir, $JAXIR_DATA, else ../shared/data)")
  p.add_argument("--stats", action="store_true", help="print pair counts per language and language pair (the default)")
  p.add_argument("--json", action="store_true", help="print JSON instead of tables")
  p.set_defaults(func=_pairs)


def _download(args):
  from jaxir.data import download
  counts = download.download(args.names, args.data_dir, force=args.force)
  root = download.data_target(args.data_dir)
  for name, (fetched, held) in counts.items():
    print(f"{name}: {fetched} files downloaded, {held} already there (sha256 checked) in {root}")


def _add_download(sub):
  from jaxir.data.download import REGISTRY
  p = sub.add_parser("download", help="fetch public datasets (pinned commits, sha256-checked) into the data root")
  p.add_argument("names", nargs="+", metavar="NAME", help=f"{', '.join(REGISTRY)} or all")
  p.add_argument("--data-dir", help="data root to write (default: $JAXIR_DATA)")
  p.add_argument("--force", action="store_true", help="replace present files whose sha256 is not the pinned one")
  p.set_defaults(func=_download)


def register(subparsers):
  parser = subparsers.add_parser("data", help="data: -R conversion, statistics, TFDS builds, training pairs")
  sub = parser.add_subparsers(dest="data_command", required=True, metavar="SUBCOMMAND")
  for add in (_add_make_r, _add_stats, _add_prepare, _add_pairs, _add_download):
    add(sub)
  return sub

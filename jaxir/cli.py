"""The `jaxir` console command. It only parses arguments and calls the Python API.

Each area registers its own subcommands (``register(subparsers)`` in ``jaxir/*/cli.py``);
any ``JaxirError`` becomes one line on stderr and exit status 2, and so does an ``OSError`` (a
read-only or full disk, a file where a folder should be): the path and the system's reason.
"""
import argparse
import importlib
import os
import sys

from jaxir.errors import JaxirError

# Modules that register subcommands, in the order of the data flow.
_AREAS = ("jaxir.data.cli", "jaxir.model.cli", "jaxir.model.merge", "jaxir.plan", "jaxir.train.cli", "jaxir.launch",
          "jaxir.encode_cli", "jaxir.export_cli", "jaxir.eval.cli", "jaxir.sweep.cli", "jaxir.report.cli")


def build_parser():
  import jaxir
  parser = argparse.ArgumentParser(prog="jaxir", description=__doc__.splitlines()[0])
  parser.add_argument("--version", action="version", version=f"jaxir {jaxir.version()}")
  sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
  for name in _AREAS:
    importlib.import_module(name).register(sub)
  return parser


def main(argv=None):
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")   # tf.data only; also silences its start-up notice
  parser = build_parser()
  args = parser.parse_args(argv)
  try:
    result = args.func(args)
  except JaxirError as e:
    print(f"jaxir {args.command}: error: {e}", file=sys.stderr)
    return 2
  except OSError as e:       # read-only or full disk, a file where a folder should be: what failed, where
    print(f"jaxir {args.command}: error: {os_error(e)}", file=sys.stderr)
    return 2
  except KeyboardInterrupt:
    print(f"jaxir {args.command}: interrupted; finished work is kept, rerun to resume", file=sys.stderr)
    return 130
  return 0 if result is None else int(result)


def os_error(e):
  """ "PATH: REASON" of an OSError (its message when it names no path)."""
  if e.filename is None or not e.strerror:
    return str(e)
  return f"{e.filename}: {e.strerror}"


if __name__ == "__main__":
  sys.exit(main())

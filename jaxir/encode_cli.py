"""`jaxir encode`: export a benchmark's embeddings (see jaxir.encode)."""


def register(sub):
  p = sub.add_parser("encode", help="export embeddings of a benchmark's questions and candidates")
  p.add_argument("--model", required=True, help="Hugging Face directory or hub id")
  p.add_argument("--benchmark", required=True, choices=["xquad-r", "mlqa-r"])
  p.add_argument("--data-dir", help="data root or benchmark folder (default $JAXIR_DATA, else ../shared/data)")
  p.add_argument("--out", required=True, help="output directory (resumed if interrupted)")
  p.add_argument("--langs", type=lambda s: s.split(","), help="comma-separated subset of languages")
  p.add_argument("--max-articles", type=int, help="keep the first K articles of every language")
  p.add_argument("--tokens-per-batch", type=int, default=8192)
  p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
  p.set_defaults(func=_run)


def _run(args):
  from jaxir.encode import encode_benchmark
  from jaxir.errors import JaxirError
  if args.max_articles is not None and args.max_articles < 1:
    raise JaxirError("--max-articles must be at least 1")
  out = encode_benchmark(args.model, args.benchmark, args.out, args.data_dir, args.langs, args.max_articles,
                         args.tokens_per_batch, args.dtype)
  print(f"encode: wrote {out}")

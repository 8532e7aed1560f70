"""`jaxir encode`: export a benchmark's embeddings. The LAReQA benchmarks (xquad-r, mlqa-r, squad-r) go
through jaxir.encode; the sets benchmarks of the registry (`jaxir.benchmarks`: tatoeba, beir, miracl, xnli, ...)
through jaxir.encode_sets, sharded on disk."""

import os

from jaxir import benchmarks

OPTION_FLAGS = ("langs", "datasets", "max_pairs")       # the flags that fill a sets benchmark's options


def register(sub):
  p = sub.add_parser("encode", help="export embeddings of a benchmark's questions and candidates")
  p.add_argument("--model", required=True, help="Hugging Face directory or hub id")
  p.add_argument("--benchmark", required=True, choices=benchmarks.names(tool="encode"),
                 help="squad-r: any folder of <lang>.json -R files (--data-dir), its languages from the file names")
  p.add_argument("--data-dir", help="data root or benchmark folder (default $JAXIR_DATA, else ../shared/data); "
                                    "squad-r: the folder of -R files (required)")
  p.add_argument("--out", required=True, help="output directory, local or gs://bucket/path (resumed if interrupted)")
  p.add_argument("--langs", type=lambda s: s.split(","), help="comma-separated subset of languages")
  p.add_argument("--max-articles", type=int, help="keep the first K articles of every language")
  p.add_argument("--query-prompt", help="prefix of every query, instead of the model's own (\"\": none)")
  p.add_argument("--passage-prompt", help="prefix of every passage / candidate, instead of the model's own (\"\": none)")
  p.add_argument("--tokens-per-batch", type=int, default=8192)
  p.add_argument("--chunk-texts", type=int,
                 help="xquad-r/mlqa-r/squad-r: texts per resumable chunk, the unit that several processes share (default 2048)")
  p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
  p.add_argument("--datasets", type=lambda s: [x for x in s.split(",") if x],
                 help="beir: comma-separated dataset names under <data>/beir, or folders (default: all there)")
  p.add_argument("--max-pairs", type=int,
                 help="tatoeba: the first N pairs of every language (a quick subset, not comparable to the full test)")
  p.add_argument("--shard-rows", type=int, default=100_000, help="tatoeba/beir/miracl/xnli/...: rows per embedding shard")
  p.add_argument("--shard-dtype", default="float32", choices=["float32", "float16"],
                 help="tatoeba/beir/miracl/xnli/...: dtype of the shards on disk")
  p.set_defaults(func=_run)


def _run(args):
  from jaxir.encode import encode_benchmark
  from jaxir.errors import JaxirError
  from jaxir.train.trainer import distributed_env, maybe_initialize_distributed
  if benchmarks.get(args.benchmark).kind == "sets":
    if distributed_env() or os.environ.get("JAXIR_DISTRIBUTED"):
      raise JaxirError(f"--benchmark {args.benchmark} runs in one process; several processes (JAXIR_COORDINATOR or "
                       "JAXIR_DISTRIBUTED) apply to xquad-r, mlqa-r and squad-r")
    from jaxir.benchmarks import pipeline
    if args.max_articles is not None:
      raise JaxirError(f"--max-articles applies to xquad-r, mlqa-r and squad-r, not {args.benchmark}")
    if args.chunk_texts is not None:
      raise JaxirError(f"--chunk-texts applies to xquad-r, mlqa-r and squad-r, not {args.benchmark}")
    given = {f: getattr(args, f) for f in OPTION_FLAGS}
    out = pipeline.encode(args.model, args.benchmark, args.out, args.data_dir, given,
                          tokens_per_batch=args.tokens_per_batch, dtype=args.dtype, rows_per_shard=args.shard_rows,
                          shard_dtype=args.shard_dtype, query_prompt=args.query_prompt,
                          passage_prompt=args.passage_prompt)
    print(f"encode: wrote {out}")
    return
  if args.max_articles is not None and args.max_articles < 1:
    raise JaxirError("--max-articles must be at least 1")
  for f in OPTION_FLAGS[1:]:           # options of sets benchmarks alone (--langs is LAReQA's too)
    if getattr(args, f) is not None:
      raise JaxirError(f"--{f.replace('_', '-')} applies to --benchmark {', '.join(benchmarks.registry.takers(f))}, "
                       f"not {args.benchmark}")
  if args.chunk_texts is not None and args.chunk_texts < 1:
    raise JaxirError(f"--chunk-texts must be at least 1, got {args.chunk_texts}")
  maybe_initialize_distributed()        # several processes: each embeds its share of the chunks
  out = encode_benchmark(args.model, args.benchmark, args.out, args.data_dir, args.langs, args.max_articles,
                         args.tokens_per_batch, args.dtype, chunk_texts=args.chunk_texts or 2048,
                         query_prompt=args.query_prompt, passage_prompt=args.passage_prompt)
  print(f"encode: wrote {out}")

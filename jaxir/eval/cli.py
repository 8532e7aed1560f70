"""`jaxir eval`: LAReQA metrics from exported embeddings, or the BM25 baseline from the data; exports of the
sets benchmarks (tatoeba, beir, miracl, xnli, ...) are evaluated by their own benchmark (jaxir.benchmarks)."""
import sys


def _langs(s):
  return [x for x in s.split(",") if x]


def register(sub):
  p = sub.add_parser("eval", help="Mo / Cr / Mul mAP and language bias from exported embeddings")
  src = p.add_mutually_exclusive_group(required=True)
  src.add_argument("--embeddings", help="directory written by `jaxir encode`")
  src.add_argument("--baseline", choices=["bm25"], help="lexical baseline on the Mo settings (reads the data)")
  p.add_argument("--benchmark", choices=["xquad-r", "mlqa-r", "squad-r"], help="with --baseline")
  p.add_argument("--data-dir", help="with --baseline: data root or benchmark folder (squad-r: the folder of -R files)")
  p.add_argument("--out", required=True, help="output directory (summary.json, CSVs, per_query.npz, table.txt)")
  p.add_argument("--langs", type=_langs, help="comma-separated subset of languages")
  p.add_argument("--train-langs", type=_langs,
                 help="languages seen in training: report seen and zero-shot apart (default: from the model's jaxir.json)")
  p.add_argument("--max-articles", type=int, help="keep the first K articles (questions and candidates alike)")
  p.add_argument("--chunk", type=int, default=128, help="queries ranked at once (memory ~ chunk x 11 x candidates)")
  p.add_argument("--datasets", type=_langs, help="beir: comma-separated subset of the exported datasets")
  p.add_argument("--top-k", type=int, default=100, help="beir/miracl: documents retrieved per query (>= 100)")
  p.add_argument("--block-rows", type=int, default=32768, help="beir/miracl: corpus rows scored at once")
  p.add_argument("--query-chunk", type=int, default=256, help="beir/miracl: queries scored at once")
  p.add_argument("--approx", action="store_true",
                 help="beir/miracl: jax.lax.approx_max_k per block (TPU); also reports its recall against exact")
  p.add_argument("--recall-target", type=float, default=0.95, help="with --approx")
  p.add_argument("--feedback", metavar="K:W[:T]",
                 help="rank by a second search, each query moved toward its k first results: (1-w)q + w*mean, or "
                      "softmax(q.c/t)-weighted with T (the best recipe's: 5:0.5:0.02; it pays on pools of parallel "
                      "answers, docs/benchmarks.md); xquad-r, mlqa-r, beir, miracl")
  p.add_argument("--probe-c", type=float,
                 help="xnli: inverse regularisation of the logistic probe (default: 5-fold CV on the English train pairs)")
  p.set_defaults(func=_run)


def _run(args):
  from jaxir import api
  summary, text = api._evaluate(args.embeddings, baseline=args.baseline, benchmark=args.benchmark,
                                data_dir=args.data_dir, out=args.out, langs=args.langs, train_langs=args.train_langs,
                                max_articles=args.max_articles, chunk=args.chunk, datasets=args.datasets,
                                top_k=args.top_k, block_rows=args.block_rows, query_chunk=args.query_chunk,
                                approx=args.approx, recall_target=args.recall_target, probe_c=args.probe_c,
                                feedback=args.feedback)
  print(text)
  print(f"eval: wrote {args.out}/summary.json", file=sys.stderr)

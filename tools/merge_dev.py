"""Weight interpolations of an untrained model A and its fine-tuned descendant B, scored on the MLQA-R dev split
without writing a model: the selection side of `jaxir merge` (uniform λ, WiSE-FT, or λ_first:λ_last linear in
layer depth, LiNeS; `jaxir.model.merge`). One line per weight, then all of them as JSON.

  PYTHONPATH=. python tools/merge_dev.py runs/e5-small SWEEP/cells/<cell>/train/export --weights 0.75,0.5:1,1:0.5

The dev split is the training data config's (`data.*` overrides after `--`, as `jaxir train` takes them); B's
training languages are its jaxir.json's. A finalist is then written with `jaxir merge A B --weight W --out DIR`
and scored once on XQuAD-R with `jaxir encode` and `jaxir eval`. docs/results/best/README.md (section 8) has what
it measured.
"""
import argparse
import json
import sys
import time

from jaxir.errors import JaxirError


def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("a", metavar="A", help="the untrained model (share 1 - λ)")
  ap.add_argument("b", metavar="B", help="its fine-tuned export (share λ)")
  ap.add_argument("--weights", required=True, help="comma-separated: λ or λ_first:λ_last each")
  ap.add_argument("overrides", nargs="*", help="data.* config overrides (the dev split's data config)")
  args = ap.parse_args(argv)
  from jaxir import config as config_lib
  from jaxir.data.pairs import evaluate_dev, load_pairs
  from jaxir.model.hf_io import load_pretrained, with_prompts
  from jaxir.model.merge import interpolate, parse_weight
  weights = [w for w in args.weights.split(",") if w]
  if not weights:
    raise JaxirError("--weights names no weight")
  for w in weights:
    parse_weight(w)                      # every weight checked before two models are loaded
  b = load_pretrained(args.b)
  a = with_prompts(load_pretrained(args.a), b.meta.get("query_prompt"), b.meta.get("passage_prompt"))
  cfg = config_lib.build(overrides=["data.hard_negatives=0", *args.overrides])
  data = load_pairs(cfg.data)
  train_langs = b.meta.get("train_langs") or sorted(data.corpora["train"])
  results = {}
  for w in weights:
    t0 = time.time()
    summary, _ = evaluate_dev(interpolate(a, b, w, (args.a, args.b)), data, train_langs)
    results[w] = {k: summary[k] for k in ("Mo", "Cr", "Mul", "RD")}
    r = results[w]
    print(f"λ {w}: Mo {100 * r['Mo']:.2f} Cr {100 * r['Cr']:.2f} Mul {100 * r['Mul']:.2f} RD {r['RD']:.1f} "
          f"mean {100 * (r['Mo'] + r['Cr'] + r['Mul']) / 3:.2f} ({time.time() - t0:.0f}s)", flush=True)
  print(json.dumps(results))


if __name__ == "__main__":
  try:
    main()
  except JaxirError as e:
    sys.exit(f"merge_dev: error: {e}")

"""Half of some Tatoeba languages' bitext as a pair file for `data.extra_pairs`: x_y training for languages the
MLQA-R train split lacks (el, ru, th, tr are XQuAD-R's zero-shot languages).

  PYTHONPATH=. python tools/tatoeba_pairs.py --langs th,el,ru,tr --out runs/tatoeba-half1.jsonl
  jaxir train ... 'data.extra_pairs=[runs/tatoeba-half1.jsonl]'

Each language's line pairs (1000; Thai 548) are split into two seeded halves (`jaxir.data.tatoeba.halves`);
`--half 1` (the default) writes the first. Evaluate Tatoeba on the other half afterwards (`eval.tatoeba.half=2`):
a model trained on a half has seen those sentences, and the languages it adds are no longer zero-shot, so
report them apart. Rows go both ways (`--directions both`: xx -> en and en -> xx, one group per line pair so a batch never holds
both), or one way (`xx-en`, `en-xx`). The file is written atomically and never over a file jaxir did not write.
"""
import argparse
import json
import sys
from pathlib import Path

from jaxir import storage
from jaxir.data import tatoeba
from jaxir.errors import JaxirError

MARK = "tatoeba_pairs"


def rows(langs, half=1, directions="both", data_dir=None):
  """The pair rows (dicts in `data.source=pairs` format) of one half of each language's Tatoeba bitext."""
  out = []
  for lang, (src, eng) in tatoeba.load_tatoeba(data_dir, langs).items():
    for i in tatoeba.halves(len(src))[half - 1]:
      group = f"tatoeba:{lang}:{i}"
      if directions in ("both", "xx-en"):
        out.append({"query": src[i], "positive": eng[i], "query_lang": lang, "positive_lang": "en", "group": group})
      if directions in ("both", "en-xx"):
        out.append({"query": eng[i], "positive": src[i], "query_lang": "en", "positive_lang": lang, "group": group})
  return out


def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--langs", required=True, help="comma-separated ISO 639-1 codes (th,el,ru,tr)")
  ap.add_argument("--out", required=True, help="the JSONL pair file to write")
  ap.add_argument("--half", type=int, choices=(1, 2), default=1)
  ap.add_argument("--directions", choices=("both", "xx-en", "en-xx"), default="both")
  ap.add_argument("--data-dir", help="default: $JAXIR_DATA, else ../shared/data")
  args = ap.parse_args(argv)
  try:
    out = Path(args.out)
    if out.exists() and not _ours(out):
      raise JaxirError(f"{out} exists and was not written by this tool; choose another --out")
    found = rows(args.langs.split(","), args.half, args.directions, args.data_dir)
    text = "".join(json.dumps({**r, MARK: args.half}, ensure_ascii=False) + "\n" for r in found)
    storage.write_text(out, text)
  except JaxirError as e:
    print(f"tatoeba_pairs: {e}", file=sys.stderr)
    return 2
  print(f"tatoeba_pairs: wrote {len(found)} pairs ({args.langs}, half {args.half}, {args.directions}) to {out}")
  return 0


def _ours(path):
  try:
    with open(path, encoding="utf-8") as f:
      first = f.readline()                       # the first row carries the mark; no need to read the rest
    row = json.loads(first) if first.strip() else None
    return isinstance(row, dict) and MARK in row
  except (OSError, ValueError, UnicodeDecodeError):
    return False


if __name__ == "__main__":
  sys.exit(main())

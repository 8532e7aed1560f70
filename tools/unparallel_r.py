"""A parallel -R benchmark (XQuAD-R) as a multilingual pool without parallel copies: paragraph g (in reading order,
the same paragraph in every language) is kept in one language only, the (g mod L)-th of the L languages in sorted
order, with its questions. Every question then has its answer in its own language alone, among candidates of all
L languages: the question the issue 20 note left open, whether query feedback (`jaxir eval --feedback`) still helps
when the first results cannot be the answer's translations.

  PYTHONPATH=. python tools/unparallel_r.py --benchmark xquad-r --out /tmp/xquad-r-unparallel
  jaxir encode --model MODEL --benchmark squad-r --data-dir /tmp/xquad-r-unparallel --out EMB
  jaxir eval --embeddings EMB --out EVAL [--feedback 5:0.5:0.02]

Mo and Mul are defined there (Cr and RD are not: no question has an answer in another language). The benchmark must
be parallel by position (every language has the same paragraphs with the same question ids, as XQuAD-R has); the
folder is written atomically and never over a folder jaxir did not write.
"""
import argparse
import sys

from jaxir import storage
from jaxir.data import squad_r
from jaxir.errors import JaxirError

MARK = "UNPARALLEL_R"


def _paragraphs(obj):
  return [p for article in obj["data"] for p in article["paragraphs"]]


def _ids(paragraph):
  return sorted(qa["id"] for qa in paragraph["qas"])


def split(objs):
  """{lang: -R JSON} keeping paragraph g only in sorted(objs)[g mod L]; JaxirError unless the languages hold the
  same paragraphs (question ids) in the same order."""
  langs = sorted(objs)
  first = [_ids(p) for p in _paragraphs(objs[langs[0]])]
  for lang in langs[1:]:
    if [_ids(p) for p in _paragraphs(objs[lang])] != first:
      raise JaxirError(f"{lang} and {langs[0]} do not hold the same paragraphs and questions in the same order: "
                       "the benchmark is not parallel by position (XQuAD-R is; MLQA-R is not)")
  out = {}
  for i, lang in enumerate(langs):
    g, data = 0, []
    for article in objs[lang]["data"]:
      kept = []
      for p in article["paragraphs"]:
        if g % len(langs) == i:
          kept.append(p)
        g += 1
      if kept:
        data.append({**article, "paragraphs": kept})
    out[lang] = {**objs[lang], "data": data}
  return out


def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--benchmark", default="xquad-r", help="xquad-r (default), or squad-r with --data-dir")
  ap.add_argument("--data-dir", help="data root or benchmark folder (default $JAXIR_DATA, else ../shared/data)")
  ap.add_argument("--out", required=True, help="the new -R folder (<lang>.json files)")
  a = ap.parse_args(argv)
  storage.check_replaceable(a.out, MARK)              # before anything is read
  root, langs = squad_r.locate(a.benchmark, a.data_dir)
  if len(langs) < 2:
    raise JaxirError(f"{root}: {len(langs)} language; a pool without parallel copies needs two or more")
  parts = split({lang: squad_r.load_json(root / f"{lang}.json") for lang in langs})
  with storage.atomic_dir(a.out, MARK) as tmp:
    for lang, obj in parts.items():
      storage.write_json(tmp / f"{lang}.json", obj)
      print(f"{lang}: {len(_paragraphs(obj))} paragraphs, {sum(len(p['qas']) for p in _paragraphs(obj))} questions")
    storage.write_text(tmp / MARK, f"{a.benchmark} split by paragraph, one language each (tools/unparallel_r.py)\n")
  print(f"wrote {a.out}")


if __name__ == "__main__":
  try:
    main()
  except JaxirError as e:
    sys.exit(f"unparallel_r: {e}")

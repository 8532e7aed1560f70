"""MIRACL (monolingual retrieval over Wikipedia passages, 18 languages) in its released layout.

Topics and qrels (the `miracl/miracl` dataset repository) and the corpus (`miracl/miracl-corpus`):

  <root>/miracl-v1.0-<lang>/topics/topics.miracl-v1.0-<lang>-<split>.tsv   qid <TAB> query, no header
  <root>/miracl-v1.0-<lang>/qrels/qrels.miracl-v1.0-<lang>-<split>.tsv     qid Q0 docid rel (TREC)
  <root>/miracl-corpus-v1.0-<lang>/docs-<i>.jsonl.gz                       `docid`, `title`, `text`

`<root>` is `<data>/miracl` or the data root itself; `<root>/<lang>/` may stand for
`miracl-v1.0-<lang>/`, and the corpus may also sit in `<root>/miracl-corpus/` or inside the
language folder; plain `.jsonl` corpus files are read too. Passages are `title + " " + text`,
like BEIR documents.
"""
import re
from pathlib import Path

from jaxir.data.beir import Collection, check_ids, read_qrels
from jaxir.errors import JaxirError

LANGS = ("ar", "bn", "de", "en", "es", "fa", "fi", "fr", "hi", "id", "ja", "ko", "ru", "sw", "te", "th", "yo", "zh")


def miracl_root(data_dir=None):
  from jaxir.data.sources import data_root
  root = data_root(data_dir)
  for cand in (root / "miracl", root):
    if cand.is_dir() and (any(cand.glob("miracl-v1.0-*")) or any((cand / l / "topics").is_dir() for l in LANGS)):
      return cand
  raise JaxirError(f"no MIRACL data under {root} (expected {root / 'miracl'}/miracl-v1.0-<lang>/topics/...)")


def available(root):
  """Languages that have a topics folder under `root`."""
  root = Path(root)
  found = {p.name[len("miracl-v1.0-"):] for p in root.glob("miracl-v1.0-*") if (p / "topics").is_dir()}
  found |= {l for l in LANGS if (root / l / "topics").is_dir()}
  return sorted(found)


def _lang_dir(root, lang):
  for cand in (root / f"miracl-v1.0-{lang}", root / lang):
    if (cand / "topics").is_dir():
      return cand
  raise JaxirError(f"MIRACL language {lang!r} not under {root} (it has {' '.join(available(root)) or 'none'})")


def _corpus_files(root, lang):
  name = f"miracl-corpus-v1.0-{lang}"
  for cand in (root / name, root / "miracl-corpus" / name, root / lang / name, root / lang / "corpus",
               root / f"miracl-v1.0-{lang}" / name):
    files = [p for p in cand.glob("docs-*.jsonl*") if p.name.endswith((".jsonl", ".jsonl.gz"))]
    if files:
      number = lambda p: int(re.search(r"docs-(\d+)", p.name).group(1)) if re.search(r"docs-(\d+)", p.name) else 0
      return sorted(files, key=lambda p: (number(p), p.name))
  raise JaxirError(f"no MIRACL corpus for {lang!r}: expected {root / name}/docs-<i>.jsonl.gz")


def read_topics(path):
  topics = {}
  with open(path, encoding="utf-8") as f:
    for lineno, line in enumerate(f, 1):
      line = line.rstrip("\n").rstrip("\r")
      if not line.strip():
        continue
      fields = line.split("\t")
      if len(fields) != 2:
        raise JaxirError(f"{path}:{lineno}: expected 2 tab-separated columns (qid, query), got {len(fields)}")
      topics[fields[0]] = fields[1]
  if not topics:
    raise JaxirError(f"{path}: no topics")
  return topics


def load_miracl(data_dir, lang, split="dev"):
  """A checked `Collection` for one language (the monolingual setting: its own corpus)."""
  root = miracl_root(data_dir)
  d = _lang_dir(root, lang)
  topics = d / "topics" / f"topics.miracl-v1.0-{lang}-{split}.tsv"
  qrels = d / "qrels" / f"qrels.miracl-v1.0-{lang}-{split}.tsv"
  missing = [str(p.relative_to(root)) for p in (topics, qrels) if not p.is_file()]
  if missing:
    raise JaxirError(f"MIRACL {lang} {split}: missing {', '.join(missing)} under {root}")
  files = _corpus_files(root, lang)
  judged = read_qrels(qrels)
  queries, n_docs = check_ids(f"MIRACL {lang}", read_topics(topics), judged, files, "docid")
  return Collection(f"miracl-{lang}", queries, judged, files, n_docs, id_key="docid")

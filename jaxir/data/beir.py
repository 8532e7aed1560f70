"""BEIR-format retrieval collections: `corpus.jsonl`, `queries.jsonl`, `qrels/<split>.tsv`.

  corpus.jsonl     one JSON object a line: `_id`, `title`, `text` (`.jsonl.gz` is read too)
  queries.jsonl    `_id`, `text`
  qrels/test.tsv   `query-id corpus-id score`, tab-separated, with or without a header line
                   (4-column TREC qrels `qid 0 docid rel` are read too)

As in BEIR, the evaluated queries are those named in the qrels; a document's text is
`(title + " " + text).strip()`. Loading checks every qrels id against the queries and the corpus
(one streaming pass over the corpus: only ids are kept, so any corpus size works).
"""
import dataclasses
import gzip
import json
from pathlib import Path

from jaxir import storage
from jaxir.errors import JaxirError


@dataclasses.dataclass
class Collection:
  """Queries and qrels in memory; the corpus stays on disk and is streamed by `docs()`."""
  name: str
  queries: dict          # qid -> text, judged queries only, in file order
  qrels: dict            # qid -> {docid: grade}
  corpus_files: list     # [Path] read in this order
  n_docs: int
  id_key: str = "_id"    # the corpus' id field (`docid` in MIRACL)

  def docs(self):
    """Yields (docid, text) over the corpus, text = (title + " " + text).strip()."""
    for path in self.corpus_files:
      for lineno, obj in read_jsonl(path):
        yield str(obj[self.id_key]), doc_text(obj)


def doc_text(obj):
  title = obj.get("title") or ""
  return (title + " " + (obj.get("text") or "")).strip()


def _open(path):
  if storage.is_cloud(path):               # qrels copied into a gs:// export (`jaxir eval` of a sweep's cell)
    path = storage.as_path(path)
    return gzip.open(path.open("rb"), "rt", encoding="utf-8") if path.suffix == ".gz" else path.open(encoding="utf-8")
  path = Path(path)
  return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8")


def read_jsonl(path):
  """Yields (line number, object) of a JSON-lines file (plain or gzip); blank lines are skipped."""
  try:
    with _open(path) as f:
      for lineno, line in enumerate(f, 1):
        if not line.strip():
          continue
        try:
          obj = json.loads(line)
        except json.JSONDecodeError as e:
          raise JaxirError(f"{path}:{lineno}: malformed JSON ({e.msg})") from None
        if not isinstance(obj, dict):
          raise JaxirError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
        yield lineno, obj
  except (OSError, EOFError, UnicodeDecodeError) as e:
    raise JaxirError(f"{path}: unreadable ({e})") from None


def read_queries(path, id_key="_id"):
  queries = {}
  for lineno, obj in read_jsonl(path):
    if id_key not in obj or "text" not in obj:
      raise JaxirError(f"{path}:{lineno}: a query needs {id_key!r} and 'text' (has {', '.join(obj) or 'nothing'})")
    queries[str(obj[id_key])] = str(obj["text"])
  return queries


def read_qrels(path):
  """{qid: {docid: grade}} from a qrels TSV: 3 columns (BEIR, optional header) or 4 (TREC: qid iter docid rel)."""
  qrels = {}
  with _open(path) as f:
    for lineno, line in enumerate(f, 1):
      fields = line.split()
      if not fields:
        continue
      if len(fields) == 4:
        fields = [fields[0], fields[2], fields[3]]
      if len(fields) != 3:
        raise JaxirError(f"{path}:{lineno}: expected 3 columns (query-id corpus-id score) or 4 (qid Q0 docid rel), "
                         f"got {len(line.split())}: {line.strip()[:80]!r}")
      qid, docid, grade = fields
      try:
        grade = int(float(grade))
      except ValueError:
        if lineno == 1:        # a header line such as `query-id corpus-id score`
          continue
        raise JaxirError(f"{path}:{lineno}: relevance {grade!r} is not a number") from None
      qrels.setdefault(qid, {})[docid] = grade
  if not qrels:
    raise JaxirError(f"{path}: no relevance judgements")
  return qrels


def check_ids(name, queries, qrels, corpus_files, id_key):
  """(judged queries, number of documents); JaxirError when the qrels name unknown queries or documents."""
  unknown_q = [q for q in qrels if q not in queries]
  if unknown_q:
    raise JaxirError(f"{name}: qrels name {len(unknown_q)} query id(s) not in the queries "
                     f"(e.g. {', '.join(map(repr, unknown_q[:3]))})")
  wanted = {d for judged in qrels.values() for d in judged}
  n_docs = 0
  for path in corpus_files:
    for lineno, obj in read_jsonl(path):
      if id_key not in obj:
        raise JaxirError(f"{path}:{lineno}: a document needs {id_key!r} (has {', '.join(obj) or 'nothing'})")
      docid = str(obj[id_key])
      if any(c.isspace() for c in docid):
        raise JaxirError(f"{path}:{lineno}: document id {docid!r} contains whitespace (TREC run files cannot hold it)")
      wanted.discard(docid)
      n_docs += 1
  if wanted:
    raise JaxirError(f"{name}: qrels name {len(wanted)} document id(s) not in the corpus "
                     f"(e.g. {', '.join(map(repr, sorted(wanted)[:3]))})")
  if n_docs == 0:
    raise JaxirError(f"{name}: the corpus is empty")
  bad = [q for q in qrels if any(c.isspace() for c in q)]
  if bad:
    raise JaxirError(f"{name}: query id {bad[0]!r} contains whitespace (TREC run files cannot hold it)")
  return {q: queries[q] for q in queries if q in qrels}, n_docs


def _first(folder, names):
  for n in names:
    if (folder / n).is_file():
      return folder / n
  return None


def load_beir(folder, split="test", name=None):
  """A checked `Collection` from a BEIR dataset folder."""
  folder = Path(folder)
  name = name or folder.name
  if not folder.is_dir():
    raise JaxirError(f"BEIR dataset folder not found: {folder}")
  corpus = _first(folder, ("corpus.jsonl", "corpus.jsonl.gz"))
  queries = _first(folder, ("queries.jsonl", "queries.jsonl.gz"))
  qrels = _first(folder / "qrels", (f"{split}.tsv",))
  missing = [n for n, p in (("corpus.jsonl", corpus), ("queries.jsonl", queries), (f"qrels/{split}.tsv", qrels)) if p is None]
  if missing:
    raise JaxirError(f"{folder} is not a BEIR dataset: missing {', '.join(missing)}")
  qs = read_queries(queries)
  judged = read_qrels(qrels)
  qs, n_docs = check_ids(name, qs, judged, [corpus], "_id")
  return Collection(name, qs, judged, [corpus], n_docs)


def beir_dir(data_dir, dataset):
  """The folder of `dataset`: `<root>/beir/<dataset>`, `<root>/<dataset>`, or `dataset` as a path."""
  if Path(dataset).is_dir() and (Path(dataset) / "queries.jsonl").exists():
    return Path(dataset)
  from jaxir.data.sources import data_root
  root = data_root(data_dir)
  for cand in (root / "beir" / dataset, root / dataset):
    if cand.is_dir():
      return cand
  have = sorted(p.name for p in (root / "beir").iterdir() if p.is_dir()) if (root / "beir").is_dir() else []
  raise JaxirError(f"BEIR dataset {dataset!r} not found under {root} (looked in {root / 'beir'}; "
                   f"there: {' '.join(have) or 'nothing'})")

"""Readers of Tatoeba, BEIR, MIRACL (its released layout, built here) and XNLI: real files and bad input."""
import gzip
import json

import numpy as np
import pytest

from jaxir.data import beir, miracl, tatoeba, xnli
from jaxir.errors import JaxirError

from conftest import DATA


def write_beir(folder, docs, queries, qrels, header=True):
  """A BEIR dataset folder: docs {id: (title, text)}, queries {id: text}, qrels [(qid, docid, grade)]."""
  (folder / "qrels").mkdir(parents=True)
  (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": i, "title": t, "text": x}) + "\n"
                                              for i, (t, x) in docs.items()))
  (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": i, "text": t}) + "\n" for i, t in queries.items()))
  lines = ["query-id\tcorpus-id\tscore\n"] if header else []
  (folder / "qrels" / "test.tsv").write_text("".join(lines + [f"{q}\t{d}\t{g}\n" for q, d, g in qrels]))
  return folder


def write_miracl(root, lang, docs, topics, qrels, split="dev", files=2):
  """MIRACL's released layout: miracl-v1.0-<lang>/{topics,qrels}/..., miracl-corpus-v1.0-<lang>/docs-<i>.jsonl.gz."""
  d = root / f"miracl-v1.0-{lang}"
  (d / "topics").mkdir(parents=True)
  (d / "qrels").mkdir()
  (d / "topics" / f"topics.miracl-v1.0-{lang}-{split}.tsv").write_text("".join(f"{q}\t{t}\n" for q, t in topics.items()))
  (d / "qrels" / f"qrels.miracl-v1.0-{lang}-{split}.tsv").write_text("".join(f"{q}\tQ0\t{i}\t{g}\n" for q, i, g in qrels))
  c = root / f"miracl-corpus-v1.0-{lang}"
  c.mkdir()
  items = list(docs.items())
  for k in range(files):
    part = items[k::files]
    with gzip.open(c / f"docs-{k}.jsonl.gz", "wt", encoding="utf-8") as f:
      f.writelines(json.dumps({"docid": i, "title": t, "text": x}, ensure_ascii=False) + "\n" for i, (t, x) in part)
  return root


# ---------------------------------------------------------------- Tatoeba

def test_tatoeba_maps_iso_639_1_to_the_files():
  data = tatoeba.load_tatoeba(DATA, ["de", "zh", "yue"])
  assert list(data) == ["de", "zh", "yue"]
  src, eng = data["zh"]
  assert len(src) == len(eng) == 1000
  first = (DATA / "tatoeba" / "tatoeba.cmn-eng.cmn").read_text(encoding="utf-8").splitlines()[0]
  assert src[0] == first
  assert set(tatoeba.DEFAULT_LANGS) == {"ar", "de", "el", "es", "hi", "ru", "th", "tr", "vi", "zh"}
  assert all(tatoeba.ISO3[l] in tatoeba.available(DATA / "tatoeba") for l in tatoeba.DEFAULT_LANGS)


def test_tatoeba_unknown_language_is_one_clear_error():
  with pytest.raises(JaxirError, match="Tatoeba language.*xx"):
    tatoeba.load_tatoeba(DATA, ["de", "xx"])


# ---------------------------------------------------------------- BEIR

def test_real_beir_qrels_with_and_without_header():
  db = beir.load_beir(DATA / "beir" / "dbpedia-5k")
  ms = beir.load_beir(DATA / "beir" / "msmarco-5k")           # its qrels have no header line
  assert (db.n_docs, len(db.queries)) == (5000, 40) and (ms.n_docs, len(ms.queries)) == (5000, 43)
  assert "query-id" not in db.qrels and ms.qrels["19335"]["1720389"] == 1
  docid, text = next(ms.docs())
  assert isinstance(docid, str) and text == text.strip()


def test_beir_document_text_is_title_space_text(tmp_path):
  f = write_beir(tmp_path / "d", {"a": ("Title", "body"), "b": ("", "only body")}, {"q": "x"}, [("q", "a", 1)],
                 header=False)
  coll = beir.load_beir(f)
  assert list(coll.docs()) == [("a", "Title body"), ("b", "only body")]
  assert coll.queries == {"q": "x"}


def test_beir_missing_file_unknown_ids_and_wrong_columns(tmp_path):
  docs, queries = {"a": ("", "x"), "b": ("", "y")}, {"q1": "x", "q2": "y"}
  f = write_beir(tmp_path / "missing", docs, queries, [("q1", "a", 1)])
  (f / "queries.jsonl").unlink()
  with pytest.raises(JaxirError, match="not a BEIR dataset: missing queries.jsonl"):
    beir.load_beir(f)
  with pytest.raises(JaxirError, match="1 document id.*not in the corpus.*'zz'"):
    beir.load_beir(write_beir(tmp_path / "doc", docs, queries, [("q1", "a", 1), ("q2", "zz", 1)]))
  with pytest.raises(JaxirError, match="query id.*not in the queries.*'q9'"):
    beir.load_beir(write_beir(tmp_path / "query", docs, queries, [("q9", "a", 1)]))
  f = write_beir(tmp_path / "cols", docs, queries, [])
  (f / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\ta\n")
  with pytest.raises(JaxirError, match=r"test.tsv:2: expected 3 columns"):
    beir.load_beir(f)


# ---------------------------------------------------------------- MIRACL

def test_miracl_reads_the_released_layout(tmp_path):
  docs = {f"{i}#0": (f"T{i}", f"Text {i}") for i in range(7)}
  write_miracl(tmp_path / "miracl", "sw", docs, {"1": "swali", "2": "jingine"}, [("1", "3#0", 1), ("1", "4#0", 0),
                                                                                    ("2", "6#0", 1)])
  coll = miracl.load_miracl(tmp_path, "sw")
  assert coll.n_docs == 7 and coll.queries == {"1": "swali", "2": "jingine"}
  assert coll.qrels == {"1": {"3#0": 1, "4#0": 0}, "2": {"6#0": 1}}
  assert [p.name for p in coll.corpus_files] == ["docs-0.jsonl.gz", "docs-1.jsonl.gz"]
  assert sorted(coll.docs()) == sorted((i, f"{t} {x}") for i, (t, x) in docs.items())
  assert miracl.available(tmp_path / "miracl") == ["sw"]
  with pytest.raises(JaxirError, match="MIRACL language 'yo' not under.*it has sw"):
    miracl.load_miracl(tmp_path, "yo")


def test_miracl_bad_topics_and_unknown_docids(tmp_path):
  write_miracl(tmp_path, "th", {"1#0": ("", "a")}, {"1": "q"}, [("1", "9#9", 1)])
  with pytest.raises(JaxirError, match="MIRACL th: qrels name 1 document id.*'9#9'"):
    miracl.load_miracl(tmp_path, "th")
  (tmp_path / "miracl-v1.0-th" / "topics" / "topics.miracl-v1.0-th-dev.tsv").write_text("1\tq\textra\n")
  with pytest.raises(JaxirError, match="expected 2 tab-separated columns"):
    miracl.load_miracl(tmp_path, "th")


# ---------------------------------------------------------------- XNLI

def test_xnli_trains_on_english_dev_and_tests_on_test():
  folder = xnli.xnli_dir(DATA)
  train = xnli.load_train_en(folder)
  assert len(train) == 2490 and set(train.label.tolist()) == {0, 1, 2}
  assert train.premise[0] == "And he said, Mama, I'm home." and train.label[0] == xnli.LABELS.index("neutral")
  test = xnli.load_test(folder, ["en", "de"])
  assert len(test["de"]) == len(test["en"]) == 5010
  np.testing.assert_array_equal(test["de"].label, test["en"].label)          # aligned across languages
  assert not set(train.premise) & set(test["en"].premise)                     # train and test apart
  with pytest.raises(JaxirError, match="XNLI language.*xx not in"):
    xnli.load_test(folder, ["de", "xx"])


def test_xnli_reads_the_xnli_1_0_tsv_layout(tmp_path):
  cols = ["language", "gold_label", "sentence1_binary_parse", "sentence2_binary_parse", "sentence1_parse",
          "sentence2_parse", "sentence1", "sentence2", "promptID", "pairID", "genre"]
  rows = [("en", "entailment", "A man.", "A person."), ("en", "contradiction", "A dog.", "A cat \"x."),
          ("de", "neutral", "Ein Mann.", "Eine Person.")]
  body = lambda rs: "".join("\t".join([l, g, "", "", "", "", s1, s2, "1", "1e", "fiction"]) + "\n" for l, g, s1, s2 in rs)
  (tmp_path / "xnli.dev.tsv").write_text("\t".join(cols) + "\n" + body(rows[:2]))
  (tmp_path / "xnli.test.tsv").write_text("\t".join(cols) + "\n" + body(rows))
  assert xnli.xnli_dir(tmp_path) == tmp_path
  train = xnli.load_train_en(tmp_path)
  assert train.hypothesis == ["A person.", "A cat \"x."] and train.label.tolist() == [0, 2]
  test = xnli.load_test(tmp_path)
  assert sorted(test) == ["de", "en"] and test["de"].label.tolist() == [1]
  (tmp_path / "xnli.test.tsv").write_text("lang\tlabel\ts1\ts2\nen\tneutral\ta\tb\n")
  with pytest.raises(JaxirError, match="missing column.*language.*its header has: lang label s1 s2"):
    xnli.load_test(tmp_path, ["en"])

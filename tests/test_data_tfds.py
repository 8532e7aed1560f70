"""TFDS builders for XQuAD-R / MLQA-R, built offline from the shared data (a couple of configs)."""
import functools
import http.server
import shutil
import threading
from pathlib import Path

import pytest

from jaxir.data import squad_r
from jaxir.data import tfds_builders as tb
from jaxir.errors import JaxirError

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="module")
def tfds_dir(tmp_path_factory):
  tb.tfds.disable_progress_bar()
  return tmp_path_factory.mktemp("tfds")


def test_xquad_r_en_matches_parser(tfds_dir):
  ds = tb.load_tfds("xquad-r", "en", data_dir=DATA, tfds_dir=tfds_dir)
  examples = list(ds.as_numpy_iterator())
  corpus = squad_r.read_r_file(DATA / "xquad-r" / "en.json", "en")
  assert len(examples) == len(corpus.questions) == 1190
  for ex, q in zip(examples, corpus.questions):  # file order is kept
    assert ex["id"].decode() == q.id and ex["question"].decode() == q.text and ex["lang"] == b"en"
    assert ex["sentences"][ex["answer_sentence"]].decode() == corpus.candidates[q.answer]
    assert ex["title"].decode() == q.title
    assert ex["sentences"][ex["answer_sentence"]].decode() in ex["context"].decode()
  info = tb.XquadR(config="en", data_dir=str(tfds_dir)).info
  assert list(info.splits) == ["test"] and info.splits["test"].num_examples == 1190


def test_mlqa_r_de_count_and_reuse(tfds_dir):
  corpus = squad_r.read_r_file(DATA / "mlqa-r" / "de.json", "de")
  ds = tb.load_tfds("mlqa-r", "de", data_dir=DATA, tfds_dir=tfds_dir)
  assert sum(1 for _ in ds) == len(corpus.questions) == 512
  # already built: no data dir needed any more
  ds = tb.load_tfds("mlqa-r", "de", data_dir=tfds_dir / "nowhere", tfds_dir=tfds_dir)
  assert ds.cardinality().numpy() == 512


def test_examples_of_corpus_give_paragraph_indices():
  corpus = squad_r.read_r_file(DATA / "xquad-r" / "th.json", "th", max_articles=2)
  for ex, q in zip(tb.paragraph_examples(corpus), corpus.questions):
    assert ex["sentences"][ex["answer_sentence"]] == corpus.candidates[q.answer]
    assert 0 <= ex["answer_sentence"] < len(ex["sentences"])


def test_unknown_language_is_clear(tfds_dir):
  with pytest.raises(JaxirError, match="unknown language.*el for mlqa-r"):
    tb.load_tfds("mlqa-r", "el", data_dir=DATA, tfds_dir=tfds_dir)
  with pytest.raises(JaxirError, match="unknown benchmark"):
    tb.load_tfds("squad", "en", data_dir=DATA, tfds_dir=tfds_dir)


def test_no_data_offline(tfds_dir, tmp_path, monkeypatch):
  with pytest.raises(JaxirError, match="--data-dir.*JAXIR_DATA"):
    tb.load_tfds("xquad-r", "es", data_dir=tmp_path, tfds_dir=tfds_dir)
  for k in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
    monkeypatch.delenv(k, raising=False)
  monkeypatch.setattr(tb, "source_url", lambda b, l: "https://127.0.0.1:9/x.json")  # refused at once
  with pytest.raises(JaxirError, match="could not download .*--data-dir DIR or set JAXIR_DATA"):
    tb.load_tfds("xquad-r", "es", data_dir=tmp_path, tfds_dir=tfds_dir, download=True)


def test_download_checks_sha256(tfds_dir, tmp_path, monkeypatch):
  shutil.copy(DATA / "xquad-r" / "de.json", tmp_path / "de.json")
  (tmp_path / "vi.json").write_bytes((DATA / "xquad-r" / "vi.json").read_bytes() + b" ")
  handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
  handler.log_message = lambda *a: None
  server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
  threading.Thread(target=server.serve_forever, daemon=True).start()
  try:
    url = f"http://127.0.0.1:{server.server_address[1]}/{{lang}}.json"
    monkeypatch.setitem(tb._SOURCES, "xquad-r", (url, tb._SOURCES["xquad-r"][1]))
    monkeypatch.setattr(tb.XquadR, "url_infos", tb._url_infos("xquad-r"))
    empty = tmp_path / "empty"
    empty.mkdir()
    ds = tb.load_tfds("xquad-r", "de", data_dir=empty, tfds_dir=tfds_dir, download=True)
    assert ds.cardinality().numpy() == 1190
    with pytest.raises(JaxirError, match="does not match its pinned sha256"):
      tb.load_tfds("xquad-r", "vi", data_dir=empty, tfds_dir=tfds_dir, download=True)
  finally:
    server.shutdown()

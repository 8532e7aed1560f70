"""SQuAD -> -R conversion with sentencex: a hand-made fixture and the start of ARCD."""
import json
from pathlib import Path

import pytest

from jaxir.data import make_r
from jaxir.data import squad_r
from jaxir.errors import JaxirError

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

CONTEXT = "  Alpha is one. Beta is two. Gamma is three.\n\nDelta is four."


def _squad(context=CONTEXT, answers=((CONTEXT.index("Beta"), "Beta"),), extra=()):
  qas = [{"id": f"q{i}", "question": f"Q{i}?", "answers": [{"answer_start": s, "text": t}]}
         for i, (s, t) in enumerate(answers)]
  return {"version": "1.1", "data": [{"title": "T", "paragraphs": [{"context": context, "qas": qas + list(extra)}]}]}


def _write(path, obj):
  path.write_text(json.dumps(obj), encoding="utf-8")
  return path


def _check_r(paragraph):
  context, breaks, sentences = paragraph["context"], paragraph["sentence_breaks"], paragraph["sentences"]
  assert breaks[0][0] == 0 and breaks[-1][1] == len(context)
  assert all(a[1] == b[0] for a, b in zip(breaks, breaks[1:]))  # the spans tile the context
  assert sentences == [context[s:e].strip() for s, e in breaks] and all(sentences)


def test_fixture_segments_and_reads_back(tmp_path):
  out = tmp_path / "out.json"
  counts = make_r.make_r(_write(tmp_path / "in.json", _squad()), out, "en")
  assert counts == dict(articles=1, paragraphs=1, questions=1, sentences=4, merged=0, dropped_unanswerable=0,
                        unlocated_alternatives=0, text_mismatches=0)
  paragraph = json.loads(out.read_text(encoding="utf-8"))["data"][0]["paragraphs"][0]
  _check_r(paragraph)
  assert paragraph["sentences"] == ["Alpha is one.", "Beta is two.", "Gamma is three.", "Delta is four."]
  corpus = squad_r.read_r_file(out, "en")
  assert corpus.candidates[corpus.questions[0].answer] == "Beta is two."


def test_answer_across_a_boundary_merges(tmp_path):
  obj = _squad(answers=((8, "is one. Beta"), (29, "Gamma is three.\n\nDelta")),
               extra=[{"id": "u", "question": "?", "answers": []},
                      {"id": "c", "question": "?", "answers": [{"answer_start": 2, "text": "Alpha"},
                                                              {"answer_start": -1, "text": "elsewhere"}]}])
  out, counts = make_r.convert(obj, "en")
  assert obj["data"][0]["paragraphs"][0].keys() == {"context", "qas"}  # input untouched
  assert (counts["merged"], counts["sentences"], counts["questions"]) == (2, 2, 3)
  assert (counts["dropped_unanswerable"], counts["unlocated_alternatives"]) == (1, 1)
  paragraph = out["data"][0]["paragraphs"][0]
  _check_r(paragraph)
  assert paragraph["sentences"] == ["Alpha is one. Beta is two.", "Gamma is three.\n\nDelta is four."]
  assert "merged" in make_r.format_counts(counts) and "1 questions without answers dropped" in make_r.format_counts(counts)


@pytest.mark.parametrize("obj, match", [
    ([1, 2], "not SQuAD JSON"),
    ({"data": [{"title": "x"}]}, "no 'paragraphs'"),
    ({"data": [{"paragraphs": [{"qas": []}]}]}, "'context' string"),
    (_squad(answers=((len(CONTEXT), "x"),)), "answer offset 60 outside its context of 60"),
    (_squad(answers=((-1, "x"),)), "answer offset -1 outside"),
    (_squad(answers=(("3", "x"),)), "integer answer_start"),
])
def test_bad_input_is_one_line(tmp_path, obj, match):
  out = tmp_path / "out.json"
  with pytest.raises(JaxirError, match=match) as e:
    make_r.make_r(_write(tmp_path / "in.json", obj), out, "en")
  assert "\n" not in str(e.value) and not out.exists()


def test_bad_file_and_language(tmp_path):
  with pytest.raises(JaxirError, match="file not found"):
    make_r.make_r(tmp_path / "missing.json", tmp_path / "o.json", "en")
  (tmp_path / "bad.json").write_text('{"data": [', encoding="utf-8")
  with pytest.raises(JaxirError, match="malformed JSON"):
    make_r.make_r(tmp_path / "bad.json", tmp_path / "o.json", "en")
  for lang in ("xx", "english", ""):
    with pytest.raises(JaxirError, match="unknown or unsupported language"):
      make_r.make_r(_write(tmp_path / "in.json", _squad()), tmp_path / "o.json", lang)


def test_real_arcd_start(tmp_path):
  obj = json.loads((DATA / "mono-qa" / "arcd.ar.json").read_text(encoding="utf-8"))
  obj["data"] = obj["data"][:8]
  counts = make_r.make_r(_write(tmp_path / "arcd8.json", obj), tmp_path / "out.json", "ar")
  out = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
  corpus = squad_r.read_r_file(tmp_path / "out.json", "ar")
  assert counts["articles"] == 8 and counts["questions"] == len(corpus.questions) > 50
  assert counts["sentences"] == len(corpus.candidates) > counts["paragraphs"]
  qas = [qa for a in out["data"] for p in a["paragraphs"] for qa in p["qas"]]
  for paragraph in (p for a in out["data"] for p in a["paragraphs"]):
    _check_r(paragraph)
  for qa, q in zip(qas, corpus.questions):  # the whole first answer lies in its sentence
    answer = qa["answers"][0]
    assert answer["text"].strip() in corpus.candidates[q.answer]

"""`jaxir data ...` through the real dispatcher (`jaxir.cli.main`): return codes, one-line errors."""
import json
import shutil
from pathlib import Path

import pytest

from jaxir import cli

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SQUAD = {"data": [{"title": "T", "paragraphs": [{"context": "One here. Two there.", "qas": [
    {"id": "q", "question": "Which?", "answers": [{"answer_start": 10, "text": "Two"}]}]}]}]}


@pytest.fixture(autouse=True)
def data_area_only(monkeypatch):
  monkeypatch.setattr(cli, "_AREAS", ("jaxir.data.cli",))  # other areas are tested on their own


def _error(capsys, argv):
  assert cli.main(argv) == 2
  err = capsys.readouterr().err
  assert err.startswith("jaxir data: error: ") and err.count("\n") == 1
  return err


def test_make_r(tmp_path, capsys):
  (tmp_path / "in.json").write_text(json.dumps(SQUAD), encoding="utf-8")
  assert cli.main(["data", "make-r", str(tmp_path / "in.json"), str(tmp_path / "out.json"), "--lang", "en"]) == 0
  out = capsys.readouterr().out
  assert "1 articles, 1 paragraphs, 1 questions, 2 sentences, 0 merged" in out
  assert json.loads((tmp_path / "out.json").read_text())["data"][0]["paragraphs"][0]["sentence_breaks"] == [[0, 10], [10, 20]]


def test_make_r_bad_inputs(tmp_path, capsys):
  (tmp_path / "in.json").write_text(json.dumps(SQUAD), encoding="utf-8")
  (tmp_path / "bad.json").write_text("{", encoding="utf-8")
  out = str(tmp_path / "out.json")
  assert "file not found" in _error(capsys, ["data", "make-r", str(tmp_path / "none.json"), out, "--lang", "en"])
  assert "malformed JSON" in _error(capsys, ["data", "make-r", str(tmp_path / "bad.json"), out, "--lang", "en"])
  assert "unknown or unsupported language" in _error(capsys, ["data", "make-r", str(tmp_path / "in.json"), out, "--lang", "xx"])
  assert not (tmp_path / "out.json").exists()


def test_stats(capsys):
  assert cli.main(["data", "stats", "mlqa-r", "--data-dir", str(DATA)]) == 0
  assert "820 in 4, 263 in 3, 65 in 2" in capsys.readouterr().out
  assert cli.main(["data", "stats", "xquad-r", "--data-dir", str(DATA), "--langs", "en", "th", "--json"]) == 0
  s = json.loads(capsys.readouterr().out)
  assert s["candidates"] == {"en": 1180, "th": 852} and s["ids_in_k"] == {"2": 1190}


def test_stats_bad_inputs(tmp_path, capsys):
  assert "unknown language(s) el for mlqa-r" in _error(capsys, ["data", "stats", "mlqa-r", "--data-dir", str(DATA), "--langs", "el"])
  assert "data directory not found" in _error(capsys, ["data", "stats", "mlqa-r", "--data-dir", str(tmp_path / "none")])
  (tmp_path / "mlqa-r").mkdir()
  (tmp_path / "mlqa-r" / "de.json").write_text(json.dumps(SQUAD), encoding="utf-8")  # no sentences
  assert "no 'sentences'" in _error(capsys, ["data", "stats", "mlqa-r", "--data-dir", str(tmp_path), "--langs", "de"])
  (tmp_path / "mlqa-r" / "de.json").write_text("[", encoding="utf-8")
  assert "malformed JSON" in _error(capsys, ["data", "stats", "mlqa-r", "--data-dir", str(tmp_path), "--langs", "de"])
  assert "file not found" in _error(capsys, ["data", "stats", "mlqa-r", "--data-dir", str(tmp_path), "--langs", "en"])


def test_prepare(tmp_path, capsys):
  (tmp_path / "mlqa-r").mkdir()
  shutil.copy(DATA / "mlqa-r" / "es.json", tmp_path / "mlqa-r" / "es.json")
  argv = ["data", "prepare", "mlqa-r", "--data-dir", str(tmp_path), "--tfds-dir", str(tmp_path / "tfds")]
  assert cli.main(argv + ["--langs", "es"]) == 0
  assert "mlqa-r es: 500 validation examples" in capsys.readouterr().out
  assert "unknown language(s) xx" in _error(capsys, argv + ["--langs", "xx"])
  assert "es.json" not in _error(capsys, argv + ["--langs", "zh"])  # zh.json is missing

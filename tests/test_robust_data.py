"""Bad data is refused in one line naming the file and the field, never scored or read as something
plausible: -R files, SQuAD input, exported indexes and embeddings, model metadata, sweep summaries,
embedding stores and cell locks."""
import copy
import json
import os
import shutil
import socket

import numpy as np
import pytest

from conftest import hand_export
from jaxir.errors import JaxirError


def _one_line(excinfo, *parts):
  msg = str(excinfo.value)
  assert "\n" not in msg, msg
  for part in parts:
    assert str(part) in msg, msg
  return msg


# ---------------------------------------------------------------------------------------------
# -R data

def _r_obj():
  """Two articles, one paragraph each, two sentences; questions a0/a1 and b0."""
  def paragraph(s1, s2, qas):
    context = f"{s1} {s2}"
    breaks = [[0, len(s1)], [len(s1) + 1, len(context)]]
    return {"context": context, "sentences": [s1, s2], "sentence_breaks": breaks,
            "qas": [{"id": i, "question": q, "answers": [{"answer_start": breaks[k][0], "text": "x"}]}
                    for i, q, k in qas]}
  return {"version": "1.1", "data": [
      {"title": "A", "paragraphs": [paragraph("Alpha one.", "Alpha two.", [("a0", "Q a0?", 0), ("a1", "Q a1?", 1)])]},
      {"title": "B", "paragraphs": [paragraph("Beta one.", "Beta two.", [("b0", "Q b0?", 1)])]}]}


def _set(path, value):
  def edit(obj):
    node = obj
    for k in path[:-1]:
      node = node[k]
    if value is KeyError:
      del node[path[-1]]
    else:
      node[path[-1]] = value
  return edit


P0 = ("data", 0, "paragraphs", 0)
Q0 = P0 + ("qas", 0)


@pytest.mark.parametrize("edit, field", [
    (_set(("data", 0), "an article as a string"), "data[0]"),
    (_set(("data",), []), "'data'"),
    (_set(P0 + ("sentence_breaks",), [[0, 10, 11], [11, 21]]), "sentence_breaks'[0]"),
    (_set(P0 + ("sentence_breaks",), [0, 10]), "sentence_breaks'[0]"),
    (_set(P0 + ("sentence_breaks",), [["0", "10"], [11, 21]]), "sentence_breaks'[0]"),
    (_set(P0 + ("sentence_breaks",), {"0": 10}), "sentence_breaks'"),
    (_set(P0 + ("sentences",), None), "sentences'"),
    (_set(P0 + ("sentences", 1), None), "sentences'[1]"),
    (_set(P0 + ("context",), 5), "'context'"),
    (_set(Q0 + ("question",), 7), "'question'"),
    (_set(Q0 + ("answers",), {"answer_start": 0, "text": "x"}), "'answers'"),
    (_set(Q0 + ("answers", 0, "answer_start"), "0"), "'answer_start'"),
    (_set(Q0 + ("id",), KeyError), "'id'"),
    (_set(Q0 + ("id",), 3), "'id'"),
    (_set(("data", 1, "paragraphs"), KeyError), "'paragraphs'"),
    (_set(("data", 1, "title"), ["B"]), "'title'"),
    (_set(("data", 1, "paragraphs", 0, "qas", 0, "id"), "a0"), "'id' 'a0' is a duplicate"),
])
def test_bad_r_file_is_one_line_naming_file_and_field(tmp_path, edit, field):
  from jaxir.data import squad_r
  obj = _r_obj()
  squad_r.parse_r(copy.deepcopy(obj), "en")          # the unedited file reads
  edit(obj)
  path = tmp_path / "en.json"
  path.write_text(json.dumps(obj), encoding="utf-8")
  with pytest.raises(JaxirError) as e:
    squad_r.read_r_file(path, "en")
  _one_line(e, path, field)


@pytest.mark.parametrize("edit, field", [
    (_set(Q0 + ("answers",), {}), "'answers'"),
    (_set(Q0 + ("answers",), KeyError), "'answers'"),
    (_set(Q0 + ("id",), 5), "'id'"),
    (_set(("data", 1, "paragraphs", 0, "qas", 0, "id"), "a0"), "duplicate"),
])
def test_bad_squad_input_to_make_r_is_one_line(tmp_path, edit, field):
  from jaxir.data import make_r
  obj = _r_obj()
  for a in obj["data"]:
    for p in a["paragraphs"]:
      del p["sentences"], p["sentence_breaks"]
  edit(obj)
  src, out = tmp_path / "in.json", tmp_path / "out.json"
  src.write_text(json.dumps(obj), encoding="utf-8")
  with pytest.raises(JaxirError) as e:
    make_r.make_r(src, out, "en")
  _one_line(e, src, field)
  assert not out.exists()


# ---------------------------------------------------------------------------------------------
# Exported embeddings: index.json, manifest.json, embeddings.npy

def test_a_valid_hand_written_export_evaluates(tmp_path):
  from jaxir.eval.evaluate import evaluate
  summary, _ = evaluate(hand_export(tmp_path / "e"))
  assert summary["queries"] == {"en": 2, "de": 2} and summary["Mo"] is not None
  assert evaluate(tmp_path / "e", max_articles=1)[0]["queries"] == {"en": 2, "de": 2}


def _index_edit(lang, key, value):
  def edit(index):
    index["per_lang"][lang][key] = value
    return index
  return edit


@pytest.mark.parametrize("edit, field", [
    (_index_edit("en", "question_ids", ["q0", "q0"]), "per_lang.en.question_ids"),
    (_index_edit("en", "question_rows", [0, -1]), "per_lang.en.question_rows[1] = -1"),
    (_index_edit("de", "question_rows", [5, 10]), "per_lang.de.question_rows[1] = 10"),
    (_index_edit("en", "candidate_rows", [2, 3, 10]), "per_lang.en.candidate_rows[2] = 10"),
    (_index_edit("en", "answer", [0, 3]), "per_lang.en.answer[1] = 3"),
    (_index_edit("de", "answer", [-1, 0]), "per_lang.de.answer[0] = -1"),
    (_index_edit("en", "answer", [0]), "per_lang.en.answer"),
    (_index_edit("en", "question_rows", [0, 1.5]), "per_lang.en.question_rows"),
    (_index_edit("en", "question_ids", ["q0", 1]), "per_lang.en.question_ids[1]"),
    (_index_edit("en", "candidate_article", [0, 0]), "per_lang.en.candidate_article"),
    (lambda index: {**index, "langs": "en"}, "'langs'"),
    (lambda index: {**index, "per_lang": {"en": index["per_lang"]["en"]}}, "'de'"),
])
def test_bad_index_is_refused_where_it_is_loaded(tmp_path, edit, field):
  from jaxir.eval.evaluate import evaluate
  root = hand_export(tmp_path / "e")
  index = edit(json.loads((root / "index.json").read_text()))
  hand_export(root, index=index)
  with pytest.raises(JaxirError) as e:
    evaluate(root)
  _one_line(e, root / "index.json", field)


def test_duplicated_question_ids_are_refused_by_the_index(tmp_path):
  """Index.from_json itself (also used for in-memory indexes) refuses a repeated id: relevant_matrix would
  otherwise look every q0 up by the last one."""
  from jaxir.eval import lareqa
  index = json.loads((hand_export(tmp_path / "e") / "index.json").read_text())
  index["per_lang"]["en"]["question_ids"] = ["q0", "q0"]
  with pytest.raises(JaxirError, match="repeats the id 'q0'"):
    lareqa.Index.from_json(index)


@pytest.mark.parametrize("emb, what", [
    (np.arange(40, dtype=np.int8).reshape(10, 4), "int8"),
    (np.arange(40, dtype=np.int64).reshape(10, 4), "int64"),
    (np.ones((10, 4), bool), "bool"),
])
def test_non_float_embeddings_are_refused(tmp_path, emb, what):
  from jaxir.eval.evaluate import evaluate
  root = hand_export(tmp_path / "e", emb=emb)
  with pytest.raises(JaxirError) as e:
    evaluate(root)
  _one_line(e, root / "embeddings.npy", what)


@pytest.mark.parametrize("edit, field", [
    (lambda m: {**m, "n_texts": "10"}, "'n_texts'"),
    (lambda m: {k: v for k, v in m.items() if k != "dim"}, "'dim'"),
    (lambda m: {**m, "langs": "en de"}, "'langs'"),
    (lambda m: {**m, "train_langs": "en"}, "'train_langs'"),
    (lambda m: {**m, "max_articles": "2"}, "'max_articles'"),
    (lambda m: [m], "JSON object"),
])
def test_bad_manifest_is_one_line(tmp_path, edit, field):
  from jaxir.encode import load_embeddings
  root = hand_export(tmp_path / "e", manifest=edit)
  with pytest.raises(JaxirError) as e:
    load_embeddings(root)
  _one_line(e, root / "manifest.json", field)


# ---------------------------------------------------------------------------------------------
# Embedding stores (store.json)

@pytest.mark.parametrize("edit, field", [
    (lambda m: {**m, "n": "abc"}, "'n'"),
    (lambda m: {**m, "dim": 4.5}, "'dim'"),
    (lambda m: {**m, "shards": [{"file": "shard_00000.npy"}]}, "'rows'"),
    (lambda m: {**m, "shards": {"file": "x"}}, "'shards'"),
    (lambda m: [m], "mapping"),
])
def test_bad_store_json_is_one_line(tmp_path, edit, field):
  from jaxir import storage, shards
  good = {"format": shards.FORMAT, "n": 2, "dim": 4, "dtype": "float32", "rows_per_shard": 2,
          "shards": [{"file": "shard_00000.npy", "rows": 2}]}
  storage.write_json(tmp_path / "store.json", good)
  assert shards.Store(tmp_path).n == 2
  storage.write_json(tmp_path / "store.json", edit(good))
  with pytest.raises(JaxirError) as e:
    shards.Store(tmp_path)
  _one_line(e, tmp_path / "store.json", field)


# ---------------------------------------------------------------------------------------------
# Model metadata: jaxir.json, config.json, safetensors

TINY_CONFIG = {"model_type": "bert", "vocab_size": 100, "hidden_size": 16, "num_hidden_layers": 1,
               "num_attention_heads": 2, "intermediate_size": 32, "max_position_embeddings": 128}


def _model_dir(d):
  """config.json, a (dummy) model.safetensors and a jaxir.json: enough for the metadata to be read."""
  from safetensors.numpy import save_file
  from jaxir.model.config import EncoderConfig
  from jaxir.model.hf_io import default_meta
  d.mkdir()
  (d / "config.json").write_text(json.dumps(TINY_CONFIG))
  save_file({"x": np.zeros((64, 64), np.float32)}, str(d / "model.safetensors"))
  (d / "jaxir.json").write_text(json.dumps({"format": 1, **default_meta(EncoderConfig.from_hf(TINY_CONFIG))}))
  return d


def _json_edit(name, **changes):
  def edit(d):
    obj = json.loads((d / name).read_text())
    obj.update(changes)
    (d / name).write_text(json.dumps(obj))
    return d / name
  return edit


def _truncate(d):
  f = d / "model.safetensors"
  f.write_bytes(f.read_bytes()[:f.stat().st_size // 2])
  return f


@pytest.mark.parametrize("edit, field", [
    (_json_edit("config.json", hidden_size="abc"), "'hidden_size'"),
    (_json_edit("config.json", num_attention_heads=0), "'num_attention_heads'"),
    (_json_edit("config.json", vocab_size=3.5), "'vocab_size'"),
    (_json_edit("config.json", num_hidden_layers=True), "'num_hidden_layers'"),
    (_json_edit("config.json", layer_norm_eps="1e-12"), "'layer_norm_eps'"),
    (_truncate, "truncated"),
])
def test_bad_config_or_weights_file_is_one_line(tmp_path, edit, field):
  from jaxir.model.hf_io import load_pretrained
  d = _model_dir(tmp_path / "m")
  bad_file = edit(d)
  with pytest.raises(JaxirError) as e:
    load_pretrained(d)
  _one_line(e, bad_file, field)


@pytest.mark.parametrize("edit, field", [
    (_json_edit("jaxir.json", max_length=-1), "'max_length'"),
    (_json_edit("jaxir.json", max_length="512"), "'max_length'"),
    (_json_edit("jaxir.json", query_prompt=5), "'query_prompt'"),
    (_json_edit("jaxir.json", passage_prompt=["passage: "]), "'passage_prompt'"),
    (_json_edit("jaxir.json", pooling=1), "'pooling'"),
    (_json_edit("jaxir.json", normalize="yes"), "'normalize'"),
    (_json_edit("jaxir.json", train_langs="en"), "'train_langs'"),
])
def test_bad_jaxir_json_is_one_line(tmp_path, edit, field):
  from jaxir.model.config import EncoderConfig
  from jaxir.model.hf_io import infer_meta
  d = _model_dir(tmp_path / "m")
  config = EncoderConfig.from_hf(TINY_CONFIG)
  assert infer_meta(d, config, None, "src")["max_length"] == 128
  bad_file = edit(d)
  with pytest.raises(JaxirError) as e:
    infer_meta(d, config, None, "src")
  _one_line(e, bad_file, field)


# ---------------------------------------------------------------------------------------------
# Sweep summaries read by the report

@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
  from test_report import make_sweep
  root = tmp_path_factory.mktemp("sweep") / "sw"
  _, cells = make_sweep(root, alphas=(0.0,), seeds=1, batch_types=("hybrid",))
  return root, [c.name for c in cells]


def _summary_edit(**changes):
  def edit(s):
    s.update(changes)
    return s
  return edit


@pytest.mark.parametrize("file, edit, field", [
    ("eval/xquad-r/summary.json", lambda s: {}, "'langs'"),
    ("eval/xquad-r/summary.json", _summary_edit(Mo="0.9"), "'Mo'"),
    ("eval/mlqa-r-dev/summary.json", _summary_edit(Cr=[0.5]), "'Cr'"),
    ("eval/xquad-r/summary.json", lambda s: {k: v for k, v in s.items() if k != "RD"}, "'RD'"),
    ("eval/xquad-r/summary.json", lambda s: {**s, "seen": {**s["seen"], "Mul": "x"}}, "'seen'"),
    ("eval/xquad-r/summary.json", lambda s: {**s, "queries": {"en": "20"}}, "queries.en"),
    ("eval/xquad-r/summary.json", lambda s: {**s, "pairs_mAP": {**s["pairs_mAP"], "en": {"en": "1"}}}, "pairs_mAP.en"),
    ("eval/xquad-r/summary.json", lambda s: [s], "not a JSON object"),
    ("cell.json", lambda c: {**c, "train_langs": "en"}, "'train_langs'"),
    ("cell.json", lambda c: "done", "not a JSON object"),
])
def test_bad_summary_or_cell_record_is_one_line(sweep, tmp_path, file, edit, field):
  from jaxir.report.load import load_sweep
  root, names = sweep
  copy_root = shutil.copytree(root, tmp_path / "sw")
  load_sweep(copy_root)
  path = copy_root / "cells" / names[-1] / file
  path.write_text(json.dumps(edit(json.loads(path.read_text()))))
  with pytest.raises(JaxirError) as e:
    load_sweep(copy_root)
  _one_line(e, path, field)


# ---------------------------------------------------------------------------------------------
# Cell locks

@pytest.mark.parametrize("content, field", [
    (None, "is a directory"),
    ([1, 2], "mapping"),
    ({"host": "elsewhere"}, "'pid'"),
    ({"pid": 1}, "'host'"),
    ({"host": socket.gethostname(), "pid": str(os.getpid())}, "'pid'"),
    ({"host": socket.gethostname(), "pid": os.getpid(), "since": 5}, "'since'"),
])
def test_foreign_lock_is_one_line(tmp_path, content, field):
  from jaxir.sweep import lock
  cell = tmp_path / "cell"
  path = cell / lock.NAME
  if content is None:
    path.mkdir(parents=True)
  else:
    cell.mkdir()
    path.write_text(json.dumps(content))
  with pytest.raises(JaxirError) as e:
    lock.acquire(cell)
  _one_line(e, path, field)
  assert path.exists() and not lock._beats        # left as it was, not taken over

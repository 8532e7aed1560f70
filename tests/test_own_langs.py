"""Evaluating on your own languages (`--benchmark squad-r`: any folder of <lang>.json -R files) and prompt
overrides (`model.query_prompt` / `model.passage_prompt`, `--query-prompt` / `--passage-prompt`)."""
import json
import math
import types

import pytest

from jaxir import cli, config
from jaxir.data import squad_r
from jaxir.errors import JaxirError

from conftest import DATA, tiny_model

XQUAD = DATA / "xquad-r"
NEW = "sw"    # the made language: English questions and contexts relabelled (make-r needs an ISO 639-1 code)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
  return tiny_model(tmp_path_factory.mktemp("m") / "tiny", 0)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
  """de.json and en.json of XQuAD-R (linked, never copied into the repo) beside sw.json, made with
  `jaxir data make-r` from the first English article (its question ids, so the questions are parallel)."""
  tmp = tmp_path_factory.mktemp("own")
  root = tmp / "r"
  root.mkdir()
  for lang in ("de", "en"):
    (root / f"{lang}.json").symlink_to(XQUAD / f"{lang}.json")
  article = json.loads((XQUAD / "en.json").read_text(encoding="utf-8"))["data"][0]
  squad = {"version": "1.1", "data": [{"title": article["title"], "paragraphs": [
      {"context": p["context"], "qas": p["qas"]} for p in article["paragraphs"]]}]}
  (tmp / "squad.json").write_text(json.dumps(squad), encoding="utf-8")
  assert cli.main(["data", "make-r", str(tmp / "squad.json"), str(root / f"{NEW}.json"), "--lang", NEW]) == 0
  return root


def _first_article_questions(path):
  article = json.loads(path.read_text(encoding="utf-8"))["data"][0]
  return [qa["id"] for p in article["paragraphs"] for qa in p["qas"]]


def test_own_language_encodes_and_evaluates(model, folder, tmp_path, capsys):
  emb, ev = tmp_path / "emb", tmp_path / "eval"
  assert cli.main(["encode", "--model", str(model), "--benchmark", "squad-r", "--data-dir", str(folder),
                   "--out", str(emb), "--max-articles", "1"]) == 0
  manifest = json.loads((emb / "manifest.json").read_text())
  assert manifest["benchmark"] == "squad-r" and manifest["langs"] == ["de", "en", NEW]
  assert manifest["folder"] == str(folder.absolute()) and manifest["max_articles"] == 1
  capsys.readouterr()
  assert cli.main(["eval", "--embeddings", str(emb), "--out", str(ev)]) == 0
  out = capsys.readouterr().out
  assert f"squad-r {folder.absolute()}: 3 languages (de en {NEW})" in out
  summary = json.loads((ev / "summary.json").read_text())
  assert summary["langs"] == ["de", "en", NEW] and summary["folder"] == str(folder.absolute())
  ids = {l: _first_article_questions(folder / f"{l}.json") for l in ("de", "en", NEW)}
  assert ids[NEW] == ids["en"] and set(ids["de"]) == set(ids["en"])      # parallel by id
  assert summary["queries"] == {l: len(v) for l, v in ids.items()}
  for key in ("Mo", "Cr", "Mul"):
    assert math.isfinite(summary[key]) and 0.0 <= summary[key] <= 1.0, key
  assert math.isfinite(summary["RD"]) and summary["RD"] >= 0.0
  assert summary["pairs_mAP"][NEW]["en"] is not None
  # Not given: the model's own prompts (tiny_model's "query: " / "passage: ").
  assert (manifest["query_prompt"], manifest["passage_prompt"]) == ("query: ", "passage: ")


def test_folder_languages_subset_and_presets(folder, tmp_path):
  corpora = squad_r.load_benchmark("squad-r", folder, ["en", NEW], max_articles=1)
  assert list(corpora) == ["en", NEW]
  assert [q.id for q in corpora[NEW].questions] == [q.id for q in corpora["en"].questions]
  assert squad_r.locate("squad-r", folder) == (folder, ("de", "en", NEW))
  root, langs = squad_r.locate("xquad-r", DATA)                  # a preset: its folder and languages
  assert root == XQUAD and langs == squad_r.XQUAD_R_LANGS
  assert squad_r.locate("xquad-r", XQUAD, ["de"]) == (XQUAD, ("de",))
  with pytest.raises(JaxirError, match="unknown language.*xquad-r; it has ar de"):
    squad_r.locate("xquad-r", DATA, [NEW])


def _one_line_error(capsys, argv, match):
  assert cli.main(argv) == 2
  err = capsys.readouterr().err.strip()
  assert "\n" not in err and err.startswith("jaxir ") and match in err, err


def test_bad_folders_are_one_line(model, folder, tmp_path, capsys):
  enc = ["encode", "--model", str(model), "--benchmark", "squad-r", "--out", str(tmp_path / "o")]
  _one_line_error(capsys, enc + ["--data-dir", str(folder), "--langs", "en,fr"],
                  f"unknown language(s) fr for squad-r folder {folder}; it has de en {NEW}")
  _one_line_error(capsys, enc, "squad-r needs its folder of <lang>.json -R files (--data-dir DIR)")
  _one_line_error(capsys, enc + ["--data-dir", str(tmp_path / "nowhere")], "squad-r folder not found")
  empty = tmp_path / "empty"
  empty.mkdir()
  (empty / "README.txt").write_text("no -R files here")
  _one_line_error(capsys, enc + ["--data-dir", str(empty)], f"{empty}: no -R files in it")
  odd = tmp_path / "odd"
  odd.mkdir()
  (odd / "en.json").symlink_to(XQUAD / "en.json")
  (odd / "English.json").symlink_to(XQUAD / "en.json")
  _one_line_error(capsys, enc + ["--data-dir", str(odd)], "file name 'English.json' is not a language code")
  _one_line_error(capsys, ["data", "stats", "squad-r", "--data-dir", str(odd)], "'English.json' is not a language code")
  assert not (tmp_path / "o").exists()


def test_prompt_override_beats_meta_and_is_recorded(model, folder, tmp_path, capsys):
  from jaxir.model.hf_io import load_pretrained, with_prompts
  pre = load_pretrained(model)
  assert with_prompts(pre) is pre
  over = with_prompts(pre, query_prompt="", passage_prompt="doc: ")
  assert (over.meta["query_prompt"], over.meta["passage_prompt"]) == ("", "doc: ")
  assert pre.meta["query_prompt"] == "query: "          # the loaded model is untouched
  emb = tmp_path / "emb"
  argv = ["encode", "--model", str(model), "--benchmark", "squad-r", "--data-dir", str(folder), "--langs", NEW,
          "--max-articles", "1", "--out", str(emb)]
  assert cli.main(argv + ["--query-prompt", "Q> ", "--passage-prompt", ""]) == 0
  manifest = json.loads((emb / "manifest.json").read_text())
  assert (manifest["query_prompt"], manifest["passage_prompt"]) == ("Q> ", "")
  texts = json.loads((emb / "texts.json").read_text())
  corpus = squad_r.read_r_file(folder / f"{NEW}.json", NEW, max_articles=1)
  assert "Q> " + corpus.questions[0].text in texts and corpus.candidates[0] in texts   # empty: no prompt
  assert not any(t.startswith(("query: ", "passage: ")) for t in texts)
  capsys.readouterr()
  # The same folder with the model's own prompts is another export: refused, not mixed up.
  _one_line_error(capsys, argv, "already holds a different export")


def test_prompt_config_keys(model, tmp_path):
  from jaxir.train import trainer
  cfg = config.build(overrides=[f"model.name={model}", 'model.query_prompt="Frage: "', 'model.passage_prompt=""'])
  assert (cfg.model.query_prompt, cfg.model.passage_prompt) == ("Frage: ", "")
  meta = trainer._load_model(cfg).meta
  assert (meta["query_prompt"], meta["passage_prompt"]) == ("Frage: ", "")
  assert trainer._load_model(config.build(overrides=[f"model.name={model}"])).meta["query_prompt"] == "query: "
  with pytest.raises(JaxirError, match="config key 'model.query_prompt' must be a string or null, got"):
    config.build(overrides=["model.query_prompt=[a, b]"])


def test_tiny_train_exports_overridden_prompts(model, tmp_path):
  from jaxir.model.hf_io import load_pretrained
  out = tmp_path / "run"
  args = {"out_dir": out, "model.name": model, "data.data_dir": DATA, "data.langs": "[de,en]", "steps": 2,
          "log_every": 1, "checkpoint_every": 2, "eval_every": 0, "batch.batch_size": 4,
          "optim.warmup_steps": 1, "data.max_passage_length": 32, "data.max_query_length": 16,
          "model.query_prompt": '"Q: "', "model.passage_prompt": '""'}
  assert cli.main(["train", "--quiet", *[f"{k}={v}" for k, v in args.items()]]) == 0
  export = out / "export"
  meta = json.loads((export / "jaxir.json").read_text())
  assert (meta["query_prompt"], meta["passage_prompt"]) == ("Q: ", "")
  st = json.loads((export / "config_sentence_transformers.json").read_text())["prompts"]
  assert st["query"] == "Q: " and st["document"] == st["passage"] == ""
  loaded = load_pretrained(export).meta
  assert (loaded["query_prompt"], loaded["passage_prompt"]) == ("Q: ", "")


def test_sweep_squad_r_options(model, folder, tmp_path):
  from jaxir.sweep import cell, spec as spec_lib
  base = [f"train.model.name={model}", f"train.data.data_dir={DATA}", "grid.alphas=[0.5]", "grid.seeds=1"]
  spec = spec_lib.build(overrides=base + ["eval.benchmarks=[squad-r]", f"eval.squad_r.path={folder}",
                                          "eval.squad_r.max_articles=1", 'train.model.query_prompt="Q: "'],
                        out_dir=tmp_path / "sweep")
  assert spec.eval.squad_r.langs == ["de", "en", NEW]               # resolved from the folder, recorded
  assert spec_lib.result_options(spec.to_json()["eval"], "squad-r") == {
      "eval.squad_r.langs": ["de", "en", NEW], "eval.squad_r.max_articles": 1}
  assert spec.train_config(spec.cells()[-1], tmp_path / "run").model.query_prompt == "Q: "
  for extra, match in ((["eval.benchmarks=[squad-r]"], "eval.benchmarks has squad-r: set eval.squad_r.path=DIR"),
                       (["eval.benchmarks=[squad-r]", f"eval.squad_r.path={tmp_path / 'nowhere'}"],
                        "eval.squad_r: squad-r folder not found"),
                       (["eval.benchmarks=[squad-r]", f"eval.squad_r.path={folder}", "eval.squad_r.langs=[fr]"],
                        "eval.squad_r: unknown language(s) fr"),
                       (["eval.squad_r.max_articles=0"], "eval.squad_r.max_articles must be a positive integer")):
    with pytest.raises(JaxirError, match=match.replace("(", r"\(").replace(")", r"\)")) as e:
      spec_lib.build(overrides=base + extra, out_dir=tmp_path / "sweep")
    assert "\n" not in str(e.value)
  # A cell evaluates squad-r with the sweep's prompts (the zero-shot reference too).
  pretrained = cell._load_model(model, spec)
  assert pretrained.meta["query_prompt"] == "Q: "
  ctx = types.SimpleNamespace(spec=spec)
  summary, per_query = cell._evaluate("squad-r", pretrained, tmp_path / "c", ["de", "en"], ctx, False)
  assert summary["benchmark"] == "squad-r" and summary["langs"] == ["de", "en", NEW]
  assert summary["zero_shot_langs"] == [NEW] and 0.0 <= summary["Mul"] <= 1.0
  manifest = json.loads((tmp_path / "c" / "emb" / "squad-r" / "manifest.json").read_text())
  assert manifest["query_prompt"] == "Q: " and manifest["folder"] == str(folder.absolute())


def test_records_from_before_the_prompt_keys_still_match():
  """A run's config.json or a sweep.json written before model.query_prompt, data.path and data.on_bad_rows
  existed is the same config when they are unset or at their defaults (so it resumes), and another one
  when they are set."""
  new = config.to_dict(config.TrainConfig())
  old = json.loads(json.dumps(new))
  del old["model"]["query_prompt"], old["model"]["passage_prompt"], old["data"]["path"], old["data"]["on_bad_rows"]
  assert config.differing(old, new) == []
  assert config.differing({"train": old}, {"train": new}) == []          # a sweep spec's train section
  new["model"]["query_prompt"] = ""
  new["data"]["on_bad_rows"] = "skip"
  assert config.differing(old, new) == ["data.on_bad_rows", "model.query_prompt"]
  assert config.differing({"train": old}, {"train": new}) == ["train.data.on_bad_rows", "train.model.query_prompt"]

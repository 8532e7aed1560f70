"""Installing jaxir as a package: every import declared in pyproject.toml, the lock files inside its ranges,
`jaxir --version`, and `jaxir data download` (offline, through file:// URLs)."""
import ast
import hashlib
import importlib.metadata as md
import re
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import jaxir
from jaxir import cli
from jaxir.data import download
from jaxir.errors import JaxirError
from conftest import DATA

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _norm(name):
  return re.sub(r"[-_.]+", "-", name).lower()


def _declared():
  reqs = list(PROJECT["dependencies"]) + [r for extra in PROJECT["optional-dependencies"].values() for r in extra]
  return {_norm(Requirement(r).name) for r in reqs}


def _third_party_imports():
  names = {}
  for path in (ROOT / "jaxir").rglob("*.py"):
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
      if isinstance(node, ast.Import):
        found = [a.name for a in node.names]
      elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        found = [node.module]
      else:
        continue
      for name in found:
        top = name.split(".")[0]
        if top != "jaxir" and top not in sys.stdlib_module_names:
          names.setdefault(top, path.relative_to(ROOT))
  return names


def test_every_third_party_import_is_declared():
  dists = md.packages_distributions()
  declared = _declared()
  missing = []
  for top, where in sorted(_third_party_imports().items()):
    provided = {_norm(d) for d in dists.get(top, [])}
    if not provided and _norm(top) in declared:
      continue        # an optional extra not installed here (libtpu: `.[tpu]`), declared under its own name
    if not provided:
      missing.append(f"{top} ({where}): no installed distribution provides it")
    elif not provided & declared:
      missing.append(f"{top} ({where}): from {', '.join(sorted(provided))}, not in pyproject.toml")
  assert not missing, missing


def test_lock_files_pin_inside_the_ranges_and_extras_exist():
  assert {"test", "tpu", "gpu", "gcs"} <= set(PROJECT["optional-dependencies"])
  ranges = {}
  for r in list(PROJECT["dependencies"]) + PROJECT["optional-dependencies"]["test"]:
    req = Requirement(r)
    if req.marker is None or req.marker.evaluate():
      ranges[_norm(req.name)] = req
  for lock in ("requirements.txt", "requirements-test.txt"):
    for line in (ROOT / lock).read_text().splitlines():
      line = line.split("#")[0].strip()
      if not line or line.startswith("-r"):
        continue
      pin = Requirement(line)
      name, version = _norm(pin.name), next(iter(pin.specifier)).version
      assert name in ranges, f"{lock}: {pin.name} is pinned but not declared in pyproject.toml"
      assert ranges[name].specifier.contains(version, prereleases=True), f"{lock}: {line} outside {ranges[name]}"
  runtime = {_norm(Requirement(r).name) for r in PROJECT["dependencies"] if Requirement(r).marker is None
             or Requirement(r).marker.evaluate()}
  pinned = {_norm(Requirement(l.split("#")[0]).name) for l in (ROOT / "requirements.txt").read_text().splitlines()
            if l.split("#")[0].strip()}
  assert runtime <= pinned, runtime - pinned


def test_version_matches_pyproject(capsys):
  assert PROJECT["version"] == jaxir.__version__
  with pytest.raises(SystemExit):
    cli.main(["--version"])
  assert capsys.readouterr().out == f"jaxir {jaxir.version()}\n"


# ---------------------------------------------------------------- jaxir data download

def test_registry_pins_the_files_jaxir_reads():
  """Every registry file is the very file in the shared data dir (same path in the layout, same sha256)."""
  for name, ds in download.REGISTRY.items():
    assert ds.files and ds.licence and ds.source
    for f in ds.files:
      assert f.url.startswith("https://raw.githubusercontent.com/"), f.url
      assert download.sha256_of(DATA / f.dest) == f.sha256, f"{name}: {f.dest}"
  assert len(download.REGISTRY["tatoeba"].files) == 224


def _registry(tmp_path, corrupt=False):
  src = tmp_path / "upstream"
  src.mkdir(exist_ok=True)
  files = []
  for i, dest in enumerate(["toy/a.json", "toy/sub/b.tsv"]):
    body = f"file {i}\n".encode()
    (src / f"f{i}").write_bytes(body)
    sha = hashlib.sha256(b"other" if corrupt and i == 1 else body).hexdigest()
    files.append(download.File((src / f"f{i}").as_uri(), sha, dest))
  return {"toy": download.Dataset("a toy", "nowhere @0", "none", tuple(files))}


def test_download_fetches_checks_and_skips(tmp_path, monkeypatch, capsys):
  monkeypatch.setattr(download, "REGISTRY", _registry(tmp_path))
  root = tmp_path / "data"
  assert cli.main(["data", "download", "toy", "--data-dir", str(root)]) == 0
  assert (root / "toy/a.json").read_bytes() == b"file 0\n" and (root / "toy/sub/b.tsv").read_bytes() == b"file 1\n"
  assert "toy: 2 files downloaded, 0 already there" in capsys.readouterr().out
  monkeypatch.setenv("JAXIR_DATA", str(root))
  assert cli.main(["data", "download", "all"]) == 0
  assert "toy: 0 files downloaded, 2 already there" in capsys.readouterr().out
  (root / "toy/a.json").write_text("mine\n")                      # a file that is not the pinned one
  assert cli.main(["data", "download", "toy"]) == 2
  assert "toy/a.json exists and is not the pinned toy file" in capsys.readouterr().err
  assert (root / "toy/a.json").read_text() == "mine\n"
  assert cli.main(["data", "download", "toy", "--force"]) == 0
  assert (root / "toy/a.json").read_bytes() == b"file 0\n"
  assert sorted(p.name for p in root.rglob("*")) == ["a.json", "b.tsv", "sub", "toy"]   # no temporary files


def test_download_wrong_checksum_writes_nothing(tmp_path, monkeypatch, capsys):
  monkeypatch.setattr(download, "REGISTRY", _registry(tmp_path, corrupt=True))
  root = tmp_path / "data"
  assert cli.main(["data", "download", "toy", "--data-dir", str(root)]) == 2
  err = capsys.readouterr().err.strip().splitlines()[-1]       # after the progress line of a.json
  assert err.startswith("jaxir data: error: ") and "f1 does not match its pinned sha256" in err
  assert "nothing of toy was written" in err
  assert [p for p in root.rglob("*") if p.is_file()] == []


def test_download_offline_names_the_url_and_data_dir(tmp_path, monkeypatch, capsys):
  reg = _registry(tmp_path)
  gone = download.File((tmp_path / "missing").as_uri(), "0" * 64, "toy/c.json")
  monkeypatch.setattr(download, "REGISTRY", {"toy": download.Dataset("a", "b", "c", reg["toy"].files + (gone,))})
  assert cli.main(["data", "download", "toy", "--data-dir", str(tmp_path / "data")]) == 2
  err = capsys.readouterr().err.strip().splitlines()[-1]
  assert err.startswith("jaxir data: error: ") and f"could not download {gone.url}" in err and "--data-dir" in err
  assert [p for p in (tmp_path / "data").rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("argv, message", [
    (["data", "download", "nope", "--data-dir", "x"], "unknown dataset nope; choose from xquad-r"),
    (["data", "download", "xquad-r"], "pass --data-dir DIR or set JAXIR_DATA"),
])
def test_download_bad_input_is_one_line(argv, message, monkeypatch, capsys):
  monkeypatch.delenv("JAXIR_DATA", raising=False)
  assert cli.main(argv) == 2
  err = capsys.readouterr().err.strip()
  assert err.startswith("jaxir data: error: ") and message in err and len(err.splitlines()) == 1


def test_download_into_a_file_is_refused(tmp_path):
  (tmp_path / "f").write_text("")
  with pytest.raises(JaxirError, match="is a file, not a folder"):
    download.download(["xquad-r"], tmp_path / "f")

"""`jaxir merge`: (1 - λ)·A + λ·B tensor by tensor, written as a normal exported model; incompatible inputs refused."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from conftest import tiny_model
from jaxir import cli


def _tensors(d):
  return load_file(str(d / "model.safetensors"))


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
  root = tmp_path_factory.mktemp("merge")
  return tiny_model(root / "a", 0), tiny_model(root / "b", 1), root


@pytest.mark.parametrize("weight", [0.0, 0.25, 1.0])
def test_merge_is_the_weighted_mean_of_every_tensor(pair, weight, capsys):
  a, b, root = pair
  out = root / f"m{weight}"
  assert cli.main(["merge", str(a), str(b), "--weight", str(weight), "--out", str(out)]) in (0, None)
  assert "fingerprint" in capsys.readouterr().out
  ta, tb, tm = _tensors(a), _tensors(b), _tensors(out)
  assert set(tm) == set(ta) and tm
  for k in ta:   # the reference in float64, then the one rounding to float32 the merge does
    want = ((1 - weight) * ta[k].astype(np.float64) + weight * tb[k].astype(np.float64)).astype(np.float32)
    np.testing.assert_array_equal(tm[k], want, err_msg=k)
  meta = json.loads((out / "jaxir.json").read_text())
  assert meta["merged_from"]["weight"] == weight
  assert meta["pooling"] == json.loads((b / "jaxir.json").read_text())["pooling"]


def test_merge_records_relative_parents_by_their_absolute_path(pair, monkeypatch, capsys):
  """A and B given relative to the current directory are recorded absolute in jaxir.json's merged_from, so a card
  written later from another directory does not resolve them against that one."""
  a, b, root = pair
  monkeypatch.chdir(root)
  assert cli.main(["merge", "a", "b", "--weight", "0.5", "--out", "rel"]) in (0, None)
  capsys.readouterr()
  got = json.loads((root / "rel" / "jaxir.json").read_text())["merged_from"]
  assert (got["a"], got["b"]) == (os.path.abspath(a), os.path.abspath(b))


def test_merged_model_encodes_between_its_parents(pair):
  """The merged directory loads through the Python API like any model, and λ = 1 encodes exactly as B."""
  import jaxir
  a, b, root = pair
  out = root / "m1-api"
  assert cli.main(["merge", str(a), str(b), "--weight", "1", "--out", str(out)]) in (0, None)
  texts = ["a question", "eine Antwort"]
  eb, em = jaxir.load(str(b)).encode(texts), jaxir.load(str(out)).encode(texts)
  np.testing.assert_allclose(em, eb, atol=1e-6)


def _depth_share(name, first, last, layers):
  """B's share of an HF tensor name under a λ_first:λ_last schedule, written out from the rule (LiNeS)."""
  for i in range(layers):
    if name.startswith(f"encoder.layer.{i}."):
      return first + (last - first) * i / (layers - 1)
  return first if name.startswith("embeddings.") else last


def test_weight_by_depth_is_linear_over_the_layers(tmp_path, capsys):
  """`--weight 0.2:1` on a 3-layer model: layer i takes 0.2 + 0.8·i/2 of B, the embeddings 0.2, the rest 1."""
  a, b = tiny_model(tmp_path / "a", 0, layers=3), tiny_model(tmp_path / "b", 1, layers=3)
  out = tmp_path / "m"
  assert cli.main(["merge", str(a), str(b), "--weight", "0.2:1", "--out", str(out)]) in (0, None)
  assert "0.2 → 1 by depth" in capsys.readouterr().out
  ta, tb, tm = _tensors(a), _tensors(b), _tensors(out)
  shares = {k: _depth_share(k, 0.2, 1.0, 3) for k in ta}
  assert {0.2, 0.6, 1.0} <= {round(s, 6) for s in shares.values()}      # every depth is present
  for k in ta:
    s = shares[k]
    want = ((1 - s) * ta[k].astype(np.float64) + s * tb[k].astype(np.float64)).astype(np.float32)
    np.testing.assert_array_equal(tm[k], want, err_msg=k)
  assert json.loads((out / "jaxir.json").read_text())["merged_from"]["weight"] == "0.2:1"


def test_a_flat_schedule_is_the_uniform_weight(pair):
  from jaxir.model.hf_io import load_pretrained
  from jaxir.model.merge import _flat, interpolate
  a, b, _ = pair
  ma, mb = load_pretrained(str(a)), load_pretrained(str(b))
  flat, uniform = _flat(interpolate(ma, mb, "0.75:0.75").params), _flat(interpolate(ma, mb, 0.75).params)
  for k in uniform:
    np.testing.assert_array_equal(flat[k], uniform[k], err_msg=k)


@pytest.mark.parametrize("weight", ["0.5:2", "x:1", "0.1:0.5:1", "0.5:"])
def test_bad_schedule_is_refused(pair, weight, capsys):
  a, b, root = pair
  out = root / "bad-schedule"
  assert cli.main(["merge", str(a), str(b), "--weight", weight, "--out", str(out)]) == 2
  err = capsys.readouterr().err.strip()
  assert err.count("\n") == 0 and "λ_first:λ_last" in err and "Traceback" not in err
  assert not out.exists()


@pytest.mark.parametrize("weight", ["-0.1", "1.5", "nan"])
def test_weight_outside_unit_interval_is_refused(pair, weight, capsys):
  a, b, root = pair
  out = root / "bad"
  assert cli.main(["merge", str(a), str(b), "--weight", weight, "--out", str(out)]) == 2
  err = capsys.readouterr().err.strip()
  assert err.count("\n") == 0 and "--weight must be a number in [0, 1]" in err
  assert not out.exists()


def test_different_architectures_are_refused(pair, tmp_path, capsys):
  a, _, _ = pair
  other = tmp_path / "c"
  tiny_model(other, 2, head_out=8)   # a Dense head: a tensor A lacks and a different way to embed
  assert cli.main(["merge", str(a), str(other), "--weight", "0.5", "--out", str(tmp_path / "m")]) == 2
  err = capsys.readouterr().err
  assert "cannot merge" in err and "Traceback" not in err
  assert not (tmp_path / "m").exists()


def test_different_config_is_refused(pair, tmp_path, capsys):
  a, b, _ = pair
  c = tmp_path / "c"
  import shutil
  shutil.copytree(b, c)
  cfg = json.loads((c / "config.json").read_text())
  cfg["layer_norm_eps"] = 1e-5
  (c / "config.json").write_text(json.dumps(cfg))
  assert cli.main(["merge", str(a), str(c), "--weight", "0.5", "--out", str(tmp_path / "m")]) == 2
  assert "config.json layer_norm_eps" in capsys.readouterr().err


def test_never_replaces_what_jaxir_did_not_write(pair, tmp_path, capsys):
  a, b, _ = pair
  out = tmp_path / "mine"
  out.mkdir()
  (out / "notes.txt").write_text("keep")
  assert cli.main(["merge", str(a), str(b), "--weight", "0.5", "--out", str(out)]) == 2
  assert (out / "notes.txt").read_text() == "keep"
  capsys.readouterr()


def test_non_finite_weights_are_an_error(pair, tmp_path, capsys):
  import shutil
  from safetensors.numpy import save_file
  a, b, _ = pair
  c = tmp_path / "nan"
  shutil.copytree(b, c)
  t = _tensors(c)
  name = sorted(t)[0]
  t[name] = np.full_like(t[name], np.nan)
  save_file(t, str(c / "model.safetensors"), metadata={"format": "pt"})
  assert cli.main(["merge", str(a), str(c), "--weight", "0.5", "--out", str(tmp_path / "m")]) == 2
  err = capsys.readouterr().err
  assert "not finite" in err and err.count("\n") == 1
  assert not (tmp_path / "m").exists()


def test_merge_dev_refuses_a_bad_weight_before_loading_anything(tmp_path):
  """tools/merge_dev.py: a bad --weights entry is one line and exit 1, before two models (here: none) are read."""
  tool = Path(__file__).parents[1] / "tools" / "merge_dev.py"
  r = subprocess.run([sys.executable, str(tool), str(tmp_path / "no-a"), str(tmp_path / "no-b"), "--weights",
                      "0.75,0.5:2"], capture_output=True, text=True,
                     env={**os.environ, "PYTHONPATH": str(tool.parents[1])})
  assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
  assert r.stderr.startswith("merge_dev: error: --weight must be") and "0.5:2" in r.stderr

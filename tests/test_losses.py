"""The loss table (`jaxir.loss_registry`): `loss.name` picks a loss, the step checks the batch against the
towers it needs, and a new loss is one file (`toy_loss.py`) plus one table line, trained end to end."""
import json

import numpy as np
import pytest

import train_worker as tw
from conftest import tiny_model, train_argv
from jaxir import cli, config, loss_registry
from jaxir.errors import JaxirError
from jaxir.train import losses
from jaxir.train import mesh as mesh_lib
from jaxir.train import state as state_lib
from jaxir.train import step as step_lib

TOY = loss_registry.Loss("toy_loss:margin_loss", needs=("queries", "passages"))   # the one table line


def test_every_entry_loads_and_default_is_info_nce():
  assert config.TrainConfig().loss.name == "info_nce"
  for name, entry in loss_registry.LOSSES.items():
    assert callable(entry.load()), name
  assert loss_registry.get("info_nce").load() is losses.info_nce_loss
  with pytest.raises(ValueError, match="towers must be among"):
    loss_registry.Loss("toy_loss:margin_loss", needs=("queries", "positives"))


def test_loss_name_is_validated_with_the_names(monkeypatch):
  with pytest.raises(JaxirError, match=r"^unknown loss.name 'toy'; choose from info_nce$"):
    config.build(None, ["loss.name=toy"])
  monkeypatch.setitem(loss_registry.LOSSES, "toy", TOY)
  assert config.build(None, ["loss.name=toy"]).loss.name == "toy"
  with pytest.raises(JaxirError, match="loss.name=toy does not use hard negatives: set data.hard_negatives=0"):
    config.build(None, ["loss.name=toy", "data.hard_negatives=1"])
  monkeypatch.setitem(loss_registry.LOSSES, "toy_neg", loss_registry.Loss("toy_loss:margin_loss",
                                                                          needs=("queries", "passages", "negatives")))
  with pytest.raises(JaxirError, match="loss.name=toy_neg needs hard negatives: set data.hard_negatives"):
    config.build(None, ["loss.name=toy_neg"])


def test_info_nce_entry_is_the_kernel():
  rs = np.random.RandomState(0)
  q, p, n = (rs.randn(k, 8).astype(np.float32) for k in (4, 4, 8))
  cfg = config.TrainConfig().loss
  cfg.symmetric = True
  got = losses.info_nce_loss({"queries": q, "passages": p, "negatives": n}, 0.5, cfg)
  want = losses.info_nce(q, p, 0.5, symmetric=True, negatives=n)
  np.testing.assert_allclose(float(got[0]), float(want[0]), rtol=1e-6)
  assert got[1].keys() == want[1].keys()


def test_step_checks_the_batch_against_the_loss(monkeypatch):
  """Before tracing: a tower the loss would ignore (hard negatives for the toy loss) or one it needs and the batch
  lacks is one line, padded or packed; a batch that fits trains with the toy loss's metrics."""
  encoder, cfg = tw.tiny_encoder(), tw.tiny_config()
  mesh = mesh_lib.make_mesh(cfg.mesh)
  state = state_lib.create_train_state(encoder, cfg, mesh, seed=0)
  monkeypatch.setitem(loss_registry.LOSSES, "toy", TOY)
  monkeypatch.setitem(loss_registry.LOSSES, "toy_neg", loss_registry.Loss("toy_loss:margin_loss",
                                                                          needs=("queries", "passages", "negatives")))
  cfg.loss.name = "toy"
  step = step_lib.make_grad_fn(encoder, cfg, mesh)
  with pytest.raises(JaxirError, match=r"^loss toy does not use negatives, but the batch holds them \(negative_ids\)"):
    step(state, tw.make_batch(k=1))
  with pytest.raises(JaxirError, match=r"\(negative_slot\)"):
    step(state, mesh_lib.host_batch_to_global(tw.packed_batch()[0], mesh))
  _, m = step(state, tw.make_batch(k=0))
  assert set(m) == {"loss", "margin_violated"} and np.isfinite(float(m["loss"]))
  cfg.loss.name = "toy_neg"
  with pytest.raises(JaxirError, match=r"^loss toy_neg needs negatives \(negative_ids\) but the batch has none"):
    step_lib.make_grad_fn(encoder, cfg, mesh)(state, tw.make_batch(k=0))


def test_a_new_loss_is_one_file_and_one_table_line(monkeypatch, tmp_path):
  """`jaxir train loss.name=toy` on the tiny model and real MLQA-R: the toy loss's own metric is logged."""
  monkeypatch.setitem(loss_registry.LOSSES, "toy", TOY)
  model = tiny_model(tmp_path / "tiny", 0)
  out = tmp_path / "run"
  settings = {"steps": 3, "log_every": 1, "checkpoint_every": 3, "batch.batch_size": 8, "optim.warmup_steps": 0,
              "data.max_query_length": 16, "data.max_passage_length": 32, "export": "false", "loss.name": "toy"}
  assert cli.main(train_argv(model, out, settings)) == 0
  rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
  steps = [r for r in rows if "margin_violated" in r]
  assert len(steps) == 3 and all(np.isfinite(r["loss"]) and 0 <= r["margin_violated"] <= 1 for r in steps), rows
  assert not any("accuracy" in r for r in rows)
  assert json.loads((out / "config.json").read_text())["loss"]["name"] == "toy"

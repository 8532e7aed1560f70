"""The trainer core: InfoNCE kernels, sharded / gradient-cached / multi-process steps, frozen embeddings.

A tiny random BERT (H=16, 1 layer, vocab 100) from `train_worker`. The multi-device runs need
their device count fixed before jax is imported, so they run `train_worker.py` in subprocesses
(time-bounded) and are compared here against the single-device results of this process.
Gradients are compared leaf by leaf relative to the leaf's scale (max |a - b| <= TOL * max |a|),
which is stricter than an absolute TOL: the tiny model's gradients are ~1e-2..1e-5.
"""
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import train_worker as tw
from conftest import free_port, xla_flags
from jaxir.errors import JaxirError
from jaxir.train import losses
from jaxir.train import mesh as mesh_lib
from jaxir.train import state as state_lib
from jaxir.train import step as step_lib

TOL = 1e-5
WORKER = Path(__file__).with_name("train_worker.py")
ROOT = WORKER.parent.parent


def _max_rel_diff(a, b):
  """Largest per-leaf max |a - b| / max |a| over two {path: array} dicts (1e-10 absolute slack for
  gradients that are zero in exact arithmetic, e.g. the attention key bias)."""
  assert a.keys() == b.keys()
  assert all(np.isfinite(x[k]).all() for x in (a, b) for k in x), "non-finite values"
  return max(max(float(np.max(np.abs(a[k] - b[k]))) - 1e-10, 0.0) / max(float(np.max(np.abs(a[k]))), 1e-30)
             for k in a)


def _max_abs_diff(a, b):
  assert all(np.isfinite(x[k]).all() for x in (a, b) for k in x), "non-finite values"
  return max(float(np.max(np.abs(a[k] - b[k]))) for k in a)


def _env(**extra):
  env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
  env["XLA_FLAGS"] = xla_flags()
  env.update(extra)
  return env


# ---------------------------------------------------------------- loss kernels

def _log_softmax(x, axis):
  x = x - x.max(axis=axis, keepdims=True)
  return x - np.log(np.exp(x).sum(axis=axis, keepdims=True))


def _numpy_info_nce(q, p, t, symmetric=False, negatives=None):
  cand = p if negatives is None else np.concatenate([p, negatives])
  s = q.astype(np.float64) @ cand.T.astype(np.float64)
  b = len(q)
  loss = -np.mean([_log_softmax(s / t, 1)[i, i] for i in range(b)])
  if symmetric:
    loss = 0.5 * (loss - np.mean([_log_softmax(s[:, :b] / t, 0)[i, i] for i in range(b)]))
  hardest = [max(s[i, j] for j in range(s.shape[1]) if j != i) for i in range(b)]
  acc = np.mean([np.argmax(s[i]) == i for i in range(b)])
  return loss, {"loss": loss, "accuracy": acc, "pos_score": np.mean(np.diag(s[:, :b])),
                "hardest_neg_score": np.mean(hardest)}


def _unit(rs, n, h=8):
  x = rs.randn(n, h)
  return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_info_nce_by_hand():
  # q0 = p0 and q1 = p1 (orthonormal): scores [[1, 0], [0, 1]]; t = 0.5 -> logits [[2, 0], [0, 2]].
  eye = jnp.eye(2)
  loss, m = losses.info_nce(eye, eye, 0.5)
  assert float(loss) == pytest.approx(np.log1p(np.exp(-2.0)), abs=1e-6)
  assert float(m["accuracy"]) == 1.0 and float(m["pos_score"]) == 1.0 and float(m["hardest_neg_score"]) == 0.0
  # A hard negative equal to q0's positive: query 0 now has a tie at its top (argmax keeps the
  # positive), its hardest negative scores 1, and the loss grows.
  loss_n, m_n = losses.info_nce(eye, eye, 0.5, negatives=eye[:1])
  assert float(loss_n) > float(loss)
  assert float(m_n["hardest_neg_score"]) == pytest.approx(0.5)
  assert float(m_n["accuracy"]) == 1.0


@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("k", [0, 2])
def test_info_nce_matches_numpy(symmetric, k):
  rs = np.random.RandomState(k + 3 * symmetric)
  q, p = _unit(rs, 6), _unit(rs, 6)
  p[:3] = q[:3]                               # some queries right, some wrong
  neg = _unit(rs, 6 * k) if k else None
  want_loss, want = _numpy_info_nce(q, p, 0.1, symmetric, neg)
  loss, got = jax.jit(losses.info_nce, static_argnames="symmetric")(q, p, 0.1, symmetric=symmetric, negatives=neg)
  assert float(loss) == pytest.approx(want_loss, rel=1e-5)
  for key in ("loss", "accuracy", "pos_score", "hardest_neg_score"):
    assert float(got[key]) == pytest.approx(want[key], rel=1e-5, abs=1e-6), key
  assert 0 < float(got["accuracy"]) < 1


def test_similarity_is_float32_highest_precision():
  rs = np.random.RandomState(0)
  q, p = rs.randn(3, 5).astype(np.float32), rs.randn(4, 5).astype(np.float32)
  s = losses.similarity(jnp.asarray(q, jnp.bfloat16), jnp.asarray(p, jnp.bfloat16))
  assert s.dtype == jnp.float32 and s.shape == (3, 4)
  np.testing.assert_allclose(losses.similarity(q, p), q @ p.T, rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------- single device

@pytest.fixture(scope="module")
def single():
  """Single-device state and gradients with the sharded runs' config (symmetric, learnt temperature, negatives)."""
  encoder, cfg = tw.tiny_encoder(), tw.sharded_config()
  mesh = mesh_lib.make_mesh(cfg.mesh)
  state = state_lib.create_train_state(encoder, cfg, mesh, seed=0)
  grads, metrics = step_lib.make_grad_fn(encoder, cfg, mesh)(state, tw.make_batch())
  return {"encoder": encoder, "cfg": cfg, "mesh": mesh, "state": state,
          "grads": tw.flat(grads), "metrics": {k: float(v) for k, v in metrics.items()}}


def test_grad_cache_equals_plain(single):
  cfg = tw.sharded_config()
  cfg.loss.grad_cache_chunk = 2
  grads, metrics = step_lib.make_grad_fn(single["encoder"], cfg, single["mesh"])(single["state"], tw.make_batch())
  grads = tw.flat(grads)
  diff = _max_rel_diff(single["grads"], grads)
  print(f"GradCache vs plain: max relative grad diff {diff:.2e}, max abs {_max_abs_diff(single['grads'], grads):.2e},"
        f" loss diff {abs(float(metrics['loss']) - single['metrics']['loss']):.2e}")
  assert diff < TOL
  assert float(metrics["loss"]) == pytest.approx(single["metrics"]["loss"], abs=TOL)
  assert "log_temperature" in grads and abs(float(grads["log_temperature"])) > 1e-4
  assert np.abs(grads["params/encoder/layer_0/intermediate/dense/kernel"]).max() > 1e-4


@pytest.fixture(scope="module")
def packed_single(single):
  """Single-device gradients of `make_prefix_batch`, padded and packed (the 4-device run packs it too)."""
  grad_fn = step_lib.make_grad_fn(single["encoder"], single["cfg"], single["mesh"])
  out = {}
  for tag, batch in (("padded", tw.make_prefix_batch()), ("packed", tw.packed_batch()[0])):
    grads, metrics = grad_fn(single["state"], batch)
    out[tag] = {"grads": tw.flat(grads), "metrics": {k: float(v) for k, v in metrics.items()}}
  return out


def test_packed_step_equals_padded(packed_single):
  padded, packed = packed_single["padded"], packed_single["packed"]
  diff = _max_rel_diff(padded["grads"], packed["grads"])
  print(f"packed vs padded: max relative grad diff {diff:.2e}, loss {packed['metrics']['loss']:.6f}"
        f" vs {padded['metrics']['loss']:.6f}")
  assert diff < TOL
  assert packed["metrics"]["loss"] == pytest.approx(padded["metrics"]["loss"], abs=TOL)
  assert packed["metrics"]["accuracy"] == padded["metrics"]["accuracy"]
  b = tw.packed_batch()[0]
  assert b["packed_ids"].size < 0.8 * sum(v.size for k, v in tw.make_prefix_batch().items() if k.endswith("_ids"))


def test_grad_cache_on_packed_rows_equals_the_plain_packed_step(single, packed_single):
  """GradCache on a packed batch: the packed rows in batch / chunk chunks (8 / 2 = 4, rows padded to a multiple of
  4, as the pipeline pads them), gradients and loss those of the plain packed step."""
  cfg = tw.sharded_config()
  cfg.loss.grad_cache_chunk = 2
  grad_fn = step_lib.make_grad_fn(single["encoder"], cfg, single["mesh"])
  batch = tw.packed_batch(row_multiple=4)[0]
  assert batch["packed_ids"].shape[0] % 4 == 0 and batch["packed_ids"].shape[0] > 4      # several rows per chunk
  grads, metrics = grad_fn(single["state"], batch)
  grads, ref = tw.flat(grads), packed_single["packed"]
  diff = _max_rel_diff(ref["grads"], grads)
  print(f"GradCache vs plain, packed: max relative grad diff {diff:.2e}")
  assert diff < TOL
  assert float(metrics["loss"]) == pytest.approx(ref["metrics"]["loss"], abs=TOL)
  assert np.abs(grads["params/encoder/layer_0/intermediate/dense/kernel"]).max() > 1e-4
  # Rows that the chunks cannot split evenly are one line, before anything is traced.
  odd = dict(batch, **{k: np.concatenate([batch[k], batch[k][:1] * 0]) for k in step_lib.PACKED[:3]})
  with pytest.raises(JaxirError, match=r"not a multiple of the 4 GradCache chunks times the 1 devices"):
    grad_fn(single["state"], odd)


def test_packed_slots_matter(single, packed_single):
  """The slots choose the texts: swapping two passages' slots changes the loss."""
  b = tw.packed_batch()[0]
  b["passage_slot"] = b["passage_slot"][[1, 0, *range(2, 8)]]
  _, metrics = step_lib.make_grad_fn(single["encoder"], single["cfg"], single["mesh"])(single["state"], b)
  assert abs(float(metrics["loss"]) - packed_single["packed"]["metrics"]["loss"]) > 10 * TOL


def test_grad_cache_dropout_recomputes_the_same_masks(single):
  """With dropout, GradCache gives the gradient of the chunked forward pass with per-chunk keys.

  The reference applies dropout, so a GradCache step that dropped it, or drew other masks when
  recomputing a chunk than when embedding it, fails here.
  """
  state, batch, chunk = single["state"], tw.make_batch(k=0), 4
  # Hidden dropout only: attention dropout draws through the same keys and doubles compile time.
  encoder = tw.tiny_encoder(attention_dropout=0.0)
  cfg = tw.sharded_config()
  cfg.model.dropout, cfg.loss.grad_cache_chunk = True, chunk
  grads, _ = step_lib.make_grad_fn(encoder, cfg, single["mesh"])(state, batch)

  @jax.jit
  def reference(trainable):
    def loss(trainable):
      emb = []
      for t, (ids, mask) in enumerate(step_lib.TOWERS[:2]):
        rng = step_lib.tower_rng(state.rng, state.step, t)
        n = batch[ids].shape[0] // chunk
        per_chunk = lambda a: encoder.apply({"params": trainable["params"]}, a[0], a[1], deterministic=False,
                                            rngs={"dropout": jax.random.fold_in(rng, a[2])})
        e = jax.lax.map(per_chunk, (batch[ids].reshape(n, chunk, -1), batch[mask].reshape(n, chunk, -1),
                                    jnp.arange(n)))
        emb.append(e.reshape(n * chunk, -1))       # chunk i = rows i*chunk .. on one device
      temperature = step_lib.temperature_of(cfg, trainable["log_temperature"])
      return losses.info_nce(emb[0], emb[1], temperature, symmetric=True)[0]
    return jax.grad(loss)(trainable)

  want = tw.flat(reference(state.trainable()))
  got = tw.flat(grads)
  assert _max_rel_diff(want, got) < TOL, _max_rel_diff(want, got)


def test_grad_cache_chunks_take_rows_from_every_data_shard():
  x = jnp.arange(16)
  chunks = step_lib._to_chunks(x, 4, 2)      # 2 data shards of 8 rows: chunk i = rows 2i, 2i+1 of each
  np.testing.assert_array_equal(chunks[1], [2, 3, 10, 11])
  np.testing.assert_array_equal(step_lib._from_chunks(chunks, 2), x)
  np.testing.assert_array_equal(step_lib._to_chunks(x, 4, 1)[1], [4, 5, 6, 7])


def test_freeze_embeddings():
  encoder, cfg = tw.tiny_encoder(), tw.tiny_config()
  free = state_lib.abstract_state(encoder, cfg)
  cfg.model.freeze_embeddings = True
  frozen_abs = state_lib.abstract_state(encoder, cfg)
  size = lambda tree: sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree))
  emb = size(free.params["embeddings"])
  assert size(free.opt_state) - size(frozen_abs.opt_state) == 2 * emb     # no mu / nu for embeddings
  emb_paths = [mesh_lib.path_str(p) for p, _ in jax.tree_util.tree_leaves_with_path(frozen_abs.opt_state)]
  assert not any("embeddings/" in p for p in emb_paths)

  mesh = mesh_lib.make_mesh(cfg.mesh)
  state = state_lib.create_train_state(encoder, cfg, mesh, seed=0)
  before = tw.flat(state.params)
  state, metrics = step_lib.make_train_step(encoder, cfg, mesh)(state, tw.make_batch())
  after = tw.flat(state.params)
  changed = {k for k in before if not np.array_equal(before[k], after[k])}
  assert not any(k.startswith("embeddings/") for k in changed)
  assert "encoder/layer_0/intermediate/dense/kernel" in changed
  assert int(state.step) == 1 and np.isfinite(float(metrics["grad_norm"]))


def test_the_learnt_temperature_has_its_own_learning_rate():
  """Shared with AdamW the log-temperature moves about the encoder's learning rate a step (so it cannot move at
  fine-tuning rates); `loss.temperature_learning_rate` gives it its own Adam, outside the encoder's clipping."""
  from jaxir.config import OptimConfig
  optim = OptimConfig(learning_rate=1e-3, warmup_steps=0, weight_decay=0.01, clip_norm=1.0)
  tree = {"params": {"w": jnp.ones((2, 2)), "emb": jnp.ones((3, 2))}, "log_temperature": jnp.asarray(np.log(0.05))}
  grads = {"params": {"w": jnp.asarray([[5.0, -2.0], [0.5, 1.0]]), "emb": jnp.ones((3, 2))},
           "log_temperature": jnp.asarray(-30.0)}           # a large gradient: the loss wants a higher temperature
  def first_update(tx, t=tree, g=grads):
    return tx.update(g, tx.init(t), t)[0]
  shared = first_update(state_lib.make_optimizer(optim, 10, frozen=("emb",)))
  own = first_update(state_lib.make_optimizer(optim, 10, frozen=("emb",), temperature_lr=0.1))
  # Adam's first step is lr * g / (|g| + eps): the learning rate, whatever the gradient's size
  assert float(shared["log_temperature"]) == pytest.approx(1e-3, rel=1e-4)
  assert float(own["log_temperature"]) == pytest.approx(0.1, rel=1e-4)
  assert not np.any(np.asarray(own["params"]["emb"]))        # still frozen
  # the encoder's update is what AdamW gives it alone: the temperature's gradient is outside its clipping
  alone = first_update(state_lib.make_optimizer(optim, 10, frozen=("emb",)),
                       {"params": tree["params"], "log_temperature": None},
                       {"params": grads["params"], "log_temperature": None})
  np.testing.assert_allclose(np.asarray(own["params"]["w"]), np.asarray(alone["params"]["w"]), rtol=1e-6)
  # through the train step: three steps at 0.05 a step move the temperature, shared at 1e-3 they barely do
  moved = {}
  for lr in (None, 0.05):
    encoder, cfg = tw.tiny_encoder(), tw.tiny_config(learn_temperature=True, temperature_learning_rate=lr)
    mesh = mesh_lib.make_mesh(cfg.mesh)
    state, step = state_lib.create_train_state(encoder, cfg, mesh, seed=0), step_lib.make_train_step(encoder, cfg, mesh)
    for i in range(3):
      state, metrics = step(state, tw.make_batch(seed=i))
    moved[lr] = abs(float(state.log_temperature) - np.log(cfg.loss.temperature))
  assert moved[None] < 3 * 1e-3 * 1.01 and 0.1 < moved[0.05] < 0.15 * 1.01, moved


def test_train_state_orbax_round_trip(single, tmp_path):
  import orbax.checkpoint as ocp
  state = single["state"]
  with ocp.StandardCheckpointer() as ckpt:
    ckpt.save(tmp_path / "ckpt", state)
    ckpt.wait_until_finished()
    target = jax.tree.map(ocp.utils.to_shape_dtype_struct, state)
    restored = ckpt.restore(tmp_path / "ckpt", target)
  assert isinstance(restored, state_lib.TrainState)
  a, b = tw.flat(state), tw.flat(restored)
  assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_create_train_state_from_given_params(single):
  encoder, cfg, mesh = single["encoder"], single["cfg"], single["mesh"]
  params = jax.tree.map(np.asarray, single["state"].params)     # host arrays, as load_pretrained gives
  state = state_lib.create_train_state(encoder, cfg, mesh, params=params, seed=0)
  a, b = tw.flat(single["state"]), tw.flat(state)
  assert all(np.array_equal(a[k], b[k]) for k in a)
  assert float(state.log_temperature) == pytest.approx(np.log(cfg.loss.temperature))
  del params["encoder"]["layer_0"]["output"]
  with pytest.raises(JaxirError, match="do not match the encoder's parameter tree"):
    state_lib.create_train_state(encoder, cfg, mesh, params=params)


def test_bad_batches_are_one_line_errors(single):
  encoder, mesh = single["encoder"], single["mesh"]
  cfg = tw.sharded_config()
  cfg.loss.grad_cache_chunk = 3
  step = step_lib.make_grad_fn(encoder, cfg, mesh)
  with pytest.raises(JaxirError, match="grad_cache_chunk=3 does not divide the 8 rows"):
    step(single["state"], tw.make_batch())
  batch = tw.make_batch()
  del batch["passage_mask"]
  with pytest.raises(JaxirError, match="batch lacks passage_mask"):
    step(single["state"], batch)
  with pytest.raises(JaxirError, match="must use all 1 devices"):
    mesh_lib.make_mesh(type(cfg.mesh)(data=2, model=1))


# ---------------------------------------------------------------- several devices, several processes

def test_sharded_step_equals_single_device(single, packed_single, tmp_path):
  out = tmp_path / "sharded.npz"
  env = _env(XLA_FLAGS=xla_flags("--xla_force_host_platform_device_count=4"))
  run = subprocess.run([sys.executable, str(WORKER), "sharded", str(out)], env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=150)
  assert run.returncode == 0, run.stderr[-3000:]
  res = np.load(out)
  for tag in ("4x1", "2x2gc"):
    grads = {k[len(f"{tag}/grad/"):]: res[k] for k in res.files if k.startswith(f"{tag}/grad/")}
    diff = _max_rel_diff(single["grads"], grads)
    loss = float(res[f"{tag}/metric/loss"])
    print(f"{tag} mesh vs 1 device: max relative grad diff {diff:.2e}, max abs {_max_abs_diff(single['grads'], grads):.2e},"
          f" loss diff {abs(loss - single['metrics']['loss']):.2e}")
    assert diff < TOL, tag
    assert loss == pytest.approx(single["metrics"]["loss"], abs=TOL)
    assert float(res[f"{tag}/metric/accuracy"]) == single["metrics"]["accuracy"]
  ref = packed_single["packed"]
  for tag in ("4x1packed", "2x2gcpacked"):     # rows padded to a multiple of 4; of 2 shards x 4 GradCache chunks
    grads = {k[len(f"{tag}/grad/"):]: res[k] for k in res.files if k.startswith(f"{tag}/grad/")}
    diff = _max_rel_diff(ref["grads"], grads)
    print(f"{tag} mesh vs 1 device packed: max relative grad diff {diff:.2e}")
    assert diff < TOL, tag
    assert float(res[f"{tag}/metric/loss"]) == pytest.approx(ref["metrics"]["loss"], abs=TOL)
  specs = set(res["2x2gc/specs"])
  assert "embeddings/word_embeddings/embedding=P('model', None)" in specs, specs
  assert "encoder/layer_0/intermediate/dense/kernel=P(None, 'model')" in specs, specs
  for key in ("error/step", "error/host"):
    msg = str(res[key])
    assert "not divisible" in msg or "do not split" in msg, msg
    assert "\n" not in msg


@pytest.mark.parametrize("layout", ["padded", "packed"])
def test_two_processes_train_like_one(tmp_path, layout):
  """Two processes, each feeding its half of every global batch, train as one process on the whole
  batch (packed: each host packs its own half into its rows; one process packs it all)."""
  port, out = free_port(), tmp_path / "multihost.npz"
  procs = [subprocess.Popen([sys.executable, str(WORKER), "multihost", str(out), str(port), str(i), layout],
                            env=_env(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
           for i in range(2)]
  logs = []
  try:
    for p in procs:
      logs.append(p.communicate(timeout=150)[0])
  except subprocess.TimeoutExpired:
    for p in procs:
      p.kill()
    pytest.fail("the two-process run timed out (a hang in jax.distributed?)")
  assert all(p.returncode == 0 for p in procs), "\n".join(log[-2000:] for log in logs)
  res = np.load(out)
  one = (lambda i, mesh: tw.packed_batch(seed=i)[0]) if layout == "packed" else (lambda i, mesh: tw.make_batch(seed=i))
  losses_1, params_1 = tw.train_run(one)
  params_2 = {k[len("param/"):]: res[k] for k in res.files if k.startswith("param/")}
  diff = _max_abs_diff(params_1, params_2)
  print(f"2 processes vs 1: losses {res['losses']} vs {losses_1}, max abs param diff {diff:.2e}")
  np.testing.assert_allclose(res["losses"], losses_1, atol=TOL)
  # Per-leaf relative errors mean nothing for params that start at zero (biases), so: absolute,
  # 1000x below the ~1e-3 that three AdamW steps at lr 1e-3 move a weight.
  assert diff < 1e-6
  init = tw.flat(state_lib.create_train_state(tw.tiny_encoder(), tw.tiny_config(learn_temperature=True),
                                              mesh_lib.make_mesh(tw.tiny_config().mesh)).params)
  assert _max_abs_diff(params_1, init) > 1e-3       # it trained

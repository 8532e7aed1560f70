"""XNLI sentence pairs (premise, hypothesis, label) for zero-shot cross-lingual transfer.

Two layouts are read, from `<data>/xnli` (or the data root, or `<data>/XNLI-1.0`):

  split files   test/<lang>.jsonl   `premise`, `hypothesis`, `label` (0 entailment, 1 neutral, 2 contradiction)
                dev/en-*.genre.dev.tsv  header `genre label sentence1_en sentence2_en ...` (string labels)
  XNLI-1.0      xnli.dev.tsv, xnli.test.tsv  header `language gold_label ... sentence1 sentence2 ...`,
                one row per language and pair (the download from the XNLI authors)

Training data is the English dev set only (the split files' `sentence1_en`/`sentence2_en`
columns, or the `en` rows of xnli.dev.tsv); evaluation uses the test sets, English included.
The two XNLI splits hold different sentence pairs, so the probe never sees a test pair.
"""
import csv
import dataclasses
import sys
from pathlib import Path

import numpy as np

from jaxir.errors import JaxirError

LABELS = ("entailment", "neutral", "contradiction")


@dataclasses.dataclass
class Pairs:
  premise: list
  hypothesis: list
  label: np.ndarray     # int, index into LABELS

  def __len__(self):
    return len(self.premise)


def xnli_dir(data_dir=None):
  from jaxir.data.sources import data_root
  root = data_root(data_dir)
  for cand in (root / "xnli", root / "XNLI-1.0", root):
    if (cand / "test").is_dir() or (cand / "xnli.test.tsv").is_file():
      return cand
  raise JaxirError(f"no XNLI data under {root} (expected {root / 'xnli'}/test/<lang>.jsonl or xnli.test.tsv)")


def _label(value, where):
  v = str(value).strip()
  if v in LABELS:
    return LABELS.index(v)
  if v in ("0", "1", "2"):
    return int(v)
  raise JaxirError(f"{where}: label {value!r} is none of {', '.join(LABELS)} (or 0/1/2)")


def _read_tsv(path, need):
  """Rows (dicts) of a TSV with a header holding the columns `need`; JaxirError otherwise."""
  csv.field_size_limit(sys.maxsize)
  with open(path, encoding="utf-8", newline="") as f:
    reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
    header = reader.fieldnames or []
    missing = [c for c in need if c not in header]
    if missing:
      raise JaxirError(f"{path}: missing column(s) {', '.join(missing)} (its header has: {' '.join(header) or 'nothing'})")
    rows = list(reader)
  for i, row in enumerate(rows, 2):
    if None in row or any(row[c] is None for c in need):
      raise JaxirError(f"{path}:{i}: {len([v for v in row.values() if v is not None])} columns, header has {len(header)}")
  return rows


def _pairs(rows, s1, s2, label, where):
  return Pairs([r[s1] for r in rows], [r[s2] for r in rows],
               np.asarray([_label(r[label], where) for r in rows], np.int64))


def load_train_en(folder):
  """English training pairs: the English dev set."""
  folder = Path(folder)
  for path in sorted((folder / "dev").glob("*.tsv")):
    with open(path, encoding="utf-8") as f:
      header = f.readline().rstrip("\n").split("\t")
    if "sentence1_en" in header:
      rows = _read_tsv(path, ("label", "sentence1_en", "sentence2_en"))
      return _pairs(rows, "sentence1_en", "sentence2_en", "label", str(path))
  if (folder / "xnli.dev.tsv").is_file():
    rows = _read_tsv(folder / "xnli.dev.tsv", ("language", "gold_label", "sentence1", "sentence2"))
    rows = [r for r in rows if r["language"] == "en"]
    if rows:
      return _pairs(rows, "sentence1", "sentence2", "gold_label", str(folder / "xnli.dev.tsv"))
  raise JaxirError(f"no English XNLI dev data in {folder} (expected dev/*.tsv with sentence1_en/sentence2_en "
                   "columns, or xnli.dev.tsv with 'en' rows)")


def _standard_test(folder):
  path = folder / "xnli.test.tsv"
  if not path.is_file():
    return {}
  rows = _read_tsv(path, ("language", "gold_label", "sentence1", "sentence2"))
  by_lang = {}
  for r in rows:
    by_lang.setdefault(r["language"], []).append(r)
  return {l: _pairs(rs, "sentence1", "sentence2", "gold_label", str(path)) for l, rs in by_lang.items()}


def test_langs(folder):
  folder = Path(folder)
  langs = {p.stem for p in (folder / "test").glob("*.jsonl")}
  if not langs and (folder / "xnli.test.tsv").is_file():
    with open(folder / "xnli.test.tsv", encoding="utf-8") as f:
      header = f.readline().rstrip("\n").split("\t")
      col = header.index("language") if "language" in header else 0
      langs = {line.split("\t")[col] for line in f if line.strip()}
  return sorted(langs)


def _read_jsonl_pairs(path):
  from jaxir.data.beir import read_jsonl
  p, h, y = [], [], []
  for lineno, obj in read_jsonl(path):
    missing = [k for k in ("premise", "hypothesis", "label") if k not in obj]
    if missing:
      raise JaxirError(f"{path}:{lineno}: missing field(s) {', '.join(missing)}")
    p.append(str(obj["premise"]))
    h.append(str(obj["hypothesis"]))
    y.append(_label(obj["label"], f"{path}:{lineno}"))
  return Pairs(p, h, np.asarray(y, np.int64))


def load_test(folder, langs=None):
  """{lang: Pairs} test sets; all available languages when `langs` is None."""
  folder = Path(folder)
  have = test_langs(folder)
  langs = list(langs or have)
  missing = [l for l in langs if l not in have]
  if missing:
    raise JaxirError(f"XNLI language(s) {', '.join(missing)} not in {folder} (it has {' '.join(have) or 'none'})")
  standard = None
  out = {}
  for lang in langs:
    path = folder / "test" / f"{lang}.jsonl"
    if path.is_file():
      out[lang] = _read_jsonl_pairs(path)
    else:
      standard = standard if standard is not None else _standard_test(folder)
      out[lang] = standard[lang]
  return out

"""Benchmark statistics on the shared XQuAD-R and MLQA-R files."""
from pathlib import Path

import pytest

from jaxir.data import stats
from jaxir.errors import JaxirError

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

XQUAD_R_CANDIDATES = dict(ar=1222, de=1276, el=1234, en=1180, es=1215, hi=1244, ru=1219, th=852, tr=1167,
                          vi=1209, zh=1196)


def test_xquad_r():
  s = stats.stats("xquad-r", DATA)
  assert s["questions"] == {l: 1190 for l in XQUAD_R_CANDIDATES}
  assert s["candidates"] == XQUAD_R_CANDIDATES
  assert s["ids_in_k"] == {11: 1190} and s["ids"] == 1190
  assert all(n == 1190 for row in s["shared_ids"].values() for n in row.values())
  text = stats.format_stats(s)
  assert "th         1190         852" in text and "1190 in 11" in text


def test_mlqa_r():
  s = stats.stats("mlqa-r", DATA)
  assert s["ids_in_k"] == {4: 820, 3: 263, 2: 65}
  assert s["questions"]["en"] == 1148 and s["shared_ids"]["en"]["de"] == s["questions"]["de"] == 512
  # every id is asked in English, and the k-counts add up to the distinct ids
  assert s["ids"] == sum(s["ids_in_k"].values()) == 1148
  assert "820 in 4, 263 in 3, 65 in 2" in stats.format_stats(s)


def test_langs_subset_and_unknown():
  s = stats.stats("mlqa-r", DATA, ["de", "es"])
  assert s["langs"] == ["de", "es"] and s["shared_ids"]["de"]["es"] == s["ids_in_k"][2] == 196
  with pytest.raises(JaxirError, match="unknown language"):
    stats.stats("mlqa-r", DATA, ["th"])

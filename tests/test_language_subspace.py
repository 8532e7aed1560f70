"""tools/language_subspace.py: the language subspace is spanned by the centered language means, and the projection
removes it (exactly, checked in float64)."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

TOOLS = Path(__file__).parents[1] / "tools"
sys.path.insert(0, str(TOOLS))                               # the tool imports tools/rescoring.py as its neighbour
spec = importlib.util.spec_from_file_location("language_subspace",
                                              Path(__file__).parents[1] / "tools" / "language_subspace.py")
ls = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ls)


def test_the_projection_removes_the_language_means_and_keeps_the_rest():
  rng = np.random.default_rng(0)
  d, langs = 16, ["ar", "de", "en"]
  offsets = {l: rng.normal(size=d) for l in langs}
  content = rng.normal(size=(10, d))                 # the same 10 "sentences" in each language
  emb = np.concatenate([content + offsets[l] for l in langs])
  rows = {l: list(range(i * 10, (i + 1) * 10)) for i, l in enumerate(langs)}
  vt, sv = ls.language_subspace(emb, rows, langs)
  assert sv[0] > 0 and sv[-1] < 1e-9                 # 3 languages: 2 directions, the third singular value is 0
  U = vt[:2].T
  diffs = np.stack([offsets[l] - offsets["en"] for l in langs])
  assert np.allclose(diffs - diffs @ U @ U.T, 0, atol=1e-9)        # U spans the differences of the language means
  out = ls.project(emb, U)
  assert np.allclose(np.linalg.norm(out, axis=1), 1) and np.allclose(out @ U, 0, atol=1e-12)
  # with the language directions gone, a sentence's three translations become one vector (up to the shared mean)
  assert np.allclose(out[rows["ar"]], out[rows["de"]], atol=1e-9) and np.allclose(out[rows["de"]], out[rows["en"]], atol=1e-9)
  assert np.allclose(ls.project(emb, None), emb / np.linalg.norm(emb, axis=1, keepdims=True))   # rank 0: as is


def test_tatoeba_offsets_are_the_language_and_not_the_content():
  """Rows from parallel text: English 0, each language its offset from English whatever the sentences say, so at
  full rank the projection maps a sentence's translations onto one vector."""
  rng = np.random.default_rng(1)
  d, langs = 12, ["th", "el", "ru"]
  offsets = {"en": rng.normal(size=d), **{l: rng.normal(size=d) for l in langs}}
  content = {l: rng.normal(size=(7, d)) for l in langs}        # each file its own English sentences
  code = {}                                                    # a fake encoder: text -> content + language offset
  for l in langs:
    for i in range(7):
      code[f"{l}{i}"] = content[l][i] + offsets[l]
      code[f"en:{l}{i}"] = content[l][i] + offsets["en"]
  pairs = [([f"{l}{i}" for i in range(7)], [f"en:{l}{i}" for i in range(7)]) for l in langs]
  rows = ls.tatoeba_offsets(lambda texts: np.stack([code[t] for t in texts]), pairs)
  assert rows.shape == (4, d) and not rows[0].any()
  for j, l in enumerate(langs, 1):
    assert np.allclose(rows[j], offsets[l] - offsets["en"], atol=1e-12)
  vt, sv = ls.subspace(rows)
  assert sv[2] > 1e-6 and sv[-1] < 1e-9                        # 4 languages: 3 directions
  U = vt[:3].T
  th = np.stack([code[f"th{i}"] for i in range(7)])
  th_en = np.stack([code[f"en:th{i}"] for i in range(7)])
  assert np.allclose(ls.project(th, U), ls.project(th_en, U), atol=1e-9)
  assert not np.allclose(ls.project(th, vt[:2].T), ls.project(th_en, vt[:2].T), atol=1e-3)   # one short: not yet


def test_projected_scores_at_rank_0_are_dot_products_and_remove_the_subspace_above():
  rng = np.random.default_rng(2)
  q, c = rng.normal(size=(5, 6)), rng.normal(size=(7, 6))
  vt, _ = ls.subspace(rng.normal(size=(4, 6)))
  unit = lambda e: e / np.linalg.norm(e, axis=1, keepdims=True)
  scores = ls.projected_scores(vt)
  np.testing.assert_allclose(scores(q, c, 0), unit(q) @ unit(c).T, rtol=0, atol=1e-6)
  U = vt[:2].T
  np.testing.assert_allclose(scores(q, c, 2), unit(q - q @ U @ U.T) @ unit(c - c @ U @ U.T).T, rtol=0, atol=1e-6)


@pytest.mark.parametrize("args,message", [
    (["--ranks", "1,x"], "--ranks must be comma-separated integers"),
    (["--max-train", "0"], "--max-train must be at least 1"),
    (["--xquad", "somewhere"], "--xquad and --xquad-rank go together"),
    (["--means", "tatoeba", "--tatoeba-langs", "en,de"], "--tatoeba-langs must name"),
    (["--xquad", "nowhere", "--xquad-rank", "1"], "nowhere"),
])
def test_bad_arguments_are_one_line_before_any_model_is_read(tmp_path, args, message):
  r = subprocess.run([sys.executable, str(TOOLS / "language_subspace.py"), str(tmp_path / "no-model"), *args],
                     capture_output=True, text=True)
  assert r.returncode == 1 and r.stderr.startswith("language_subspace: error:") and message in r.stderr
  assert r.stderr.count("\n") == 1

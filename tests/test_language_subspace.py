"""tools/language_subspace.py: the language subspace is spanned by the centered language means, and the projection
removes it (exactly, checked in float64)."""
import importlib.util
from pathlib import Path

import numpy as np

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

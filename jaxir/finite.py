"""Embeddings must be finite: NaN or inf rows are one error, at encode and at eval alike (a NaN ranks every
relevant answer first: perfect scores from a broken model)."""
import numpy as np

from jaxir.errors import JaxirError, some


class NotFinite(JaxirError):
  """Embeddings that hold NaN or inf."""


def check_finite(emb, what, describe, rows=None):
  """NotFinite (a JaxirError), one line, when rows of the [n, H] embeddings `emb` hold NaN or inf: how many,
  which rows (`rows[i]` names row i, default i) and their texts or ids (`describe(rows) -> [str]`)."""
  bad = np.flatnonzero(~np.isfinite(emb).all(axis=1))
  if bad.size:
    bad = bad if rows is None else np.sort(np.asarray(rows)[bad])
    shown = ", ".join(repr(t if len(t) <= 40 else t[:40] + "...") for t in map(str, describe(bad[:3])))
    raise NotFinite(f"{what}: {bad.size:,} of {len(emb):,} embeddings are not finite (rows {some(bad)}: "
                    f"{shown}{', ...' if bad.size > 3 else ''}); the model gives NaN or inf (NaN weights, "
                    "or a diverged training run?)")

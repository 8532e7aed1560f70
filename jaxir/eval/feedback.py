"""Query feedback: a second search with the query moved toward its first results (vector pseudo-relevance feedback;
Rocchio 1971, as dense-retrieval PRF in Li et al. 2021, arXiv 2108.11044).

  q' = (1 - w)·q + w·mean(c_1 .. c_k)                       setting K:W
  q' = (1 - w)·q + w·Σ softmax(q·c_i / t)·c_i                 setting K:W:T (score-weighted)

c_1 .. c_k are q's k top-scoring candidates under plain dot products over the whole pool the query is ranked in (in
LAReQA: the candidates of every language). The second ranking is by q'·c: a change of scoring, not of the encoder, that
any inner-product index serves with two searches. w = 0 is plain retrieval. The score-weighted form lets a candidate
far below the first lose its vote (t → ∞ is the plain mean, t → 0 the first candidate alone).

The recipe of issue 20 scores XQuAD-R with K:W:T = 5:0.5:0.02, chosen on the MLQA-R dev split
(docs/results/best/README.md §11-§12); `jaxir eval --feedback K:W[:T]` applies a setting to a LAReQA, BEIR or MIRACL
export. All arithmetic here is float64; the rewritten queries go back to the export's dtype for ranking.
"""
import numpy as np

from jaxir.errors import JaxirError

CHUNK = 256                   # queries scored against the pool at once (memory ~ CHUNK x pool size doubles)


def parse(text):
  """'K:W' -> (K, W) with K >= 1 and 0 <= W <= 1; 'K:W:T' -> (K, W, T) with T > 0 (score-weighted)."""
  try:
    parts = str(text).split(":")
    if len(parts) not in (2, 3):
      raise ValueError
    k, w, t = int(parts[0]), float(parts[1]), (float(parts[2]) if len(parts) == 3 else None)
  except ValueError:
    raise JaxirError(f"a feedback setting is K:W or K:W:T (k an integer, w and t numbers), got {text!r}") from None
  if k < 1 or not 0 <= w <= 1 or (t is not None and not (np.isfinite(t) and t > 0)):
    raise JaxirError(f"a feedback setting needs k >= 1, 0 <= w <= 1 and t > 0, got {text!r}")
  return (k, w) if t is None else (k, w, t)


def name(setting):
  """'k 5 w 0.5 t 0.02': how tables and logs name a setting."""
  return f"k {setting[0]} w {setting[1]}" + (f" t {setting[2]}" if len(setting) > 2 else "")


def as_json(setting):
  """{"k", "w", "t"?}: how summaries record the setting they were scored with."""
  return {"k": setting[0], "w": setting[1], **({"t": setting[2]} if len(setting) > 2 else {})}


def describe(record):
  """'k 5 w 0.5 t 0.02' of a setting as a summary records it (`as_json`); '' for none."""
  return name(tuple(record.values())) if record else ""


def heading(summary):
  """[the table line saying a summary was ranked with feedback], or [] when it was not."""
  f = summary.get("feedback")
  return [f"ranked with query feedback {describe(f)} (jaxir.eval.feedback)"] if f else []


def check_k(k, n):
  if not 1 <= k <= n:
    raise JaxirError(f"feedback k must be in 1..{n} (the candidates), got {k}")


def top_candidates(q, c, k):
  """[Q, k] indices of q's k top-scoring rows of c under q·c in float64 (in no particular order)."""
  q, c = np.asarray(q, np.float64), np.asarray(c, np.float64)
  check_k(k, len(c))
  return np.concatenate([np.argpartition(-(q[s:s + CHUNK] @ c.T), k - 1, axis=1)[:, :k]
                         for s in range(0, len(q), CHUNK)] or [np.empty((0, k), int)])


def combine(q, top, setting):
  """[Q, D] q' of queries q [Q, D] and their k first candidates top [Q, k, D] (float64)."""
  k, w = setting[:2]
  q, top = np.asarray(q, np.float64), np.asarray(top, np.float64)
  if top.shape[1] != k:
    raise JaxirError(f"feedback k {k} needs {k} candidates a query, got {top.shape[1]}")
  if len(setting) < 3:
    return (1 - w) * q + w * top.mean(1)
  s = np.einsum("qd,qkd->qk", q, top) / setting[2]
  weights = np.exp(s - s.max(1, keepdims=True))
  weights /= weights.sum(1, keepdims=True)
  return (1 - w) * q + w * np.einsum("qk,qkd->qd", weights, top)


def rewrite(q, c, setting):
  """[Q, D] q' (float64) of queries q against an in-memory pool c [C, D]; w = 0 returns q unchanged."""
  check_k(setting[0], len(c))
  if not setting[1]:
    return np.asarray(q, np.float64)
  c = np.asarray(c, np.float64)
  return combine(q, c[top_candidates(q, c, setting[0])], setting)

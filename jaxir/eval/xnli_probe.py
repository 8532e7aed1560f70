"""XNLI zero-shot cross-lingual transfer of frozen sentence embeddings: a linear probe.

Premise u and hypothesis v are embedded separately (frozen encoder, the model's query prompt: the
task is symmetric); a pair's features are [u, v, |u - v|, u * v] (InferSent / SentEval). A
scikit-learn pipeline (StandardScaler, multinomial LogisticRegression; C chosen by 5-fold
cross-validation on the training pairs alone, or given) is fitted on the English XNLI *dev* pairs
and scored, unchanged, on every test language, English included. English dev and test hold different pairs, so train and test stay
apart. Reported: accuracy per language, `transfer_gap` = English accuracy minus the mean accuracy
of the other languages, and `mean_accuracy` over all test languages (XTREME's average).
"""
import numpy as np

from jaxir.errors import JaxirError


def unique_set(name, *text_lists):
  """(TextSet of the unique texts, [row of each text] per list): repeated premises are embedded once."""
  from jaxir.encode_sets import TextSet
  row, texts, maps = {}, [], []
  for lst in text_lists:
    m = []
    for t in lst:
      if t not in row:
        row[t] = len(texts)
        texts.append(t)
      m.append(row[t])
    maps.append(m)
  return TextSet(name, lambda: [(str(i), t) for i, t in enumerate(texts)], "query", len(texts)), maps


def features(u, v):
  return np.concatenate([u, v, np.abs(u - v), u * v], axis=1)


C_GRID = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 1.0)


def fit_probe(x, y, c=None, seed=0):
  """StandardScaler + logistic regression; C fixed, or (None) chosen by 5-fold CV on (x, y) alone."""
  from sklearn.linear_model import LogisticRegression
  from sklearn.model_selection import GridSearchCV, StratifiedKFold
  from sklearn.pipeline import make_pipeline
  from sklearn.preprocessing import StandardScaler
  pipe = make_pipeline(StandardScaler(), LogisticRegression(C=c or 1.0, max_iter=2000, random_state=seed))
  if c is not None:
    return pipe.fit(x, y)
  folds = StratifiedKFold(n_splits=min(5, int(np.bincount(y).min())), shuffle=True, random_state=seed)
  return GridSearchCV(pipe, {"logisticregression__C": list(C_GRID)}, cv=folds).fit(x, y).best_estimator_


def _split(path, name):
  from jaxir import storage
  from jaxir.shards import Store
  emb = Store(storage.as_path(path) / name / "texts").read()
  pairs = storage.read_json(storage.as_path(path) / name / "pairs.json", "pairs")
  return features(emb[pairs["premise"]], emb[pairs["hypothesis"]]), np.asarray(pairs["label"], np.int64)


def evaluate_export(path, langs=None, c=None):
  from jaxir.encode_sets import load_export
  manifest = load_export(path, "xnli")
  have = manifest["langs"]
  langs = list(langs or have)
  if "en" not in langs:
    langs = ["en", *langs]
  unknown = [l for l in langs if l not in have]
  if unknown:
    raise JaxirError(f"XNLI language(s) {', '.join(unknown)} not in these embeddings (they have {' '.join(have)})")
  x, y = _split(path, "train")
  probe = fit_probe(x, y, c)
  acc = {}
  for lang in langs:
    xt, yt = _split(path, lang)
    acc[lang] = float(np.mean(probe.predict(xt) == yt))
  others = [acc[l] for l in langs if l != "en"]
  summary = {"benchmark": "xnli", "langs": langs, "accuracy": acc, "train": "en-dev", "n_train": int(len(y)),
             "train_accuracy": float(np.mean(probe.predict(x) == y)),
             "C": float(probe[-1].C), "C_chosen_by": "given" if c is not None else "5-fold CV on the English train pairs",
             "en": acc["en"], "mean_others": float(np.mean(others)) if others else None,
             "transfer_gap": acc["en"] - float(np.mean(others)) if others else None,
             "mean_accuracy": float(np.mean(list(acc.values()))),
             "model": manifest.get("model"), "fingerprint": manifest.get("fingerprint")}
  summary["headline"] = {"transfer_gap": summary["transfer_gap"], "mean_accuracy": summary["mean_accuracy"]}
  return summary


def table(summary):
  langs = summary["langs"]
  lines = ["xnli acc " + " ".join(f"{l:>5}" for l in langs),
           "         " + " ".join(f"{100 * summary['accuracy'][l]:5.1f}" for l in langs), ""]
  gap = summary["transfer_gap"]
  lines.append(f"mean {100 * summary['mean_accuracy']:.1f}   transfer gap (en - mean others) "
               f"{'-' if gap is None else f'{100 * gap:.1f}'}   probe trained on {summary['n_train']} English dev pairs "
               f"(C = {summary['C']:g})")
  return "\n".join(lines)

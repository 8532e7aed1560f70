"""`jaxir eval`: LAReQA metrics from an exported embeddings directory, written to an output directory.

  summary.json     Mo, Cr, Mul, RD (macro means), R@1 / R@10, per-pair and per-language values,
                   seen / zero-shot groups when the training languages are known; the benchmark,
                   its folder (from the export's manifest) and languages
  pairs_mAP.csv    X_Q x X_C mAP matrix (rows: query language), pairs_R@1.csv likewise
  per_query.npz    per-query AP for every pair and for Mul, and per-query RD, with question ids
                   (for paired significance tests)
  table.txt        the printed table
"""
import csv
import io as _io

import numpy as np

from jaxir import storage
from jaxir.errors import JaxirError
from jaxir.eval import lareqa


def _index_from_export(index_json, langs=None, max_articles=None):
  all_langs = index_json["langs"]
  if langs:
    unknown = [l for l in langs if l not in all_langs]
    if unknown:
      raise JaxirError(f"language(s) {', '.join(unknown)} not in these embeddings (they have {' '.join(all_langs)})")
  per = index_json["per_lang"]
  keep = list(langs or all_langs)
  if max_articles is not None:
    if max_articles < 1:
      raise JaxirError("--max-articles must be at least 1")
    per = {l: _first_articles(per[l], max_articles) for l in keep}
  return lareqa.Index.from_json({"langs": keep, "per_lang": per})


def _first_articles(p, k):
  """Questions and candidates of the first k articles; answers re-indexed into the smaller pool."""
  c_keep = np.asarray(p["candidate_article"]) < k
  new_pos = np.cumsum(c_keep) - 1
  q_keep = np.asarray(p["question_article"]) < k
  return {"question_ids": [i for i, m in zip(p["question_ids"], q_keep) if m],
          "question_rows": np.asarray(p["question_rows"])[q_keep],
          "answer": new_pos[np.asarray(p["answer"])[q_keep]],
          "candidate_rows": np.asarray(p["candidate_rows"])[c_keep]}


def _texts(embeddings_dir, rows):
  """The texts of some rows of an export (for a message: '?' where texts.json does not say)."""
  try:
    texts = storage.read_json(storage.as_path(embeddings_dir) / "texts.json", "texts")
    return [texts[r] if 0 <= r < len(texts) else "?" for r in rows]
  except (JaxirError, TypeError, KeyError):
    return ["?"] * len(rows)


def evaluate(embeddings_dir, langs=None, train_langs=None, max_articles=None, chunk=128, check_train_langs=False,
             feedback=None):
  """(summary, per_query) for an exported embeddings directory; `check_train_langs`: refuse a training language
  the embeddings lack (a typo would count a seen language as zero-shot); `feedback`: a `jaxir.eval.feedback`
  setting, each question moved toward its k first candidates over the whole pool (of the languages kept) before
  ranking, recorded in the summary."""
  from jaxir.encode import load_embeddings
  from jaxir.finite import check_finite
  manifest, index_json, emb = load_embeddings(embeddings_dir)
  check_finite(emb, f"{embeddings_dir}/embeddings.npy", lambda rows: _texts(embeddings_dir, rows))
  if check_train_langs and train_langs is not None:
    unknown = [l for l in train_langs if l not in index_json["langs"]]
    if unknown:
      raise JaxirError(f"--train-langs: language(s) {', '.join(unknown)} not in these embeddings (they have "
                       f"{' '.join(index_json['langs'])}); leave out languages they lack, those change nothing")
  index = _index_from_export(index_json, langs, max_articles)
  if train_langs is None:
    train_langs = manifest.get("train_langs")
  emb = np.asarray(emb)
  if feedback is not None:
    from jaxir.eval import feedback as feedback_lib
    qrows, crows = lareqa.query_candidate_rows(index)
    emb = np.array(emb)                                # a copy: the export's array stays as read
    emb[qrows] = feedback_lib.rewrite(emb[qrows], emb[crows], feedback).astype(emb.dtype)
  ranks = lareqa.rank(index, emb, chunk=chunk)
  summary, per_query = lareqa.metrics(ranks, train_langs)
  if feedback is not None:
    summary["feedback"] = feedback_lib.as_json(feedback)
  summary.update({"benchmark": manifest.get("benchmark"), "folder": manifest.get("folder"), "model": manifest.get("model"),
                  "fingerprint": manifest.get("fingerprint"), "max_articles": max_articles or manifest.get("max_articles")})
  per_query["question_ids"] = {l: index.question_ids[l] for l in index.langs}
  return summary, per_query


def _matrix_csv(matrix, langs):
  buf = _io.StringIO()
  w = csv.writer(buf)
  w.writerow(["query\\candidate"] + langs)
  for a in langs:
    w.writerow([a] + [f"{matrix[a][b]:.4f}" if matrix[a][b] is not None else "" for b in langs])
  return buf.getvalue()


def _fmt(v, pct=True):
  return "  -  " if v is None else (f"{100 * v:5.1f}" if pct else f"{v:5.1f}")


def table(summary):
  """A plain-text table: the pair mAP matrix (if any), per-language Mul / RD, and the summary line."""
  from jaxir.eval.feedback import heading
  langs = summary["langs"]
  lines = heading(summary)
  if summary.get("benchmark") == "squad-r" and summary.get("folder"):
    lines.append(f"squad-r {summary['folder']}: {len(langs)} languages ({' '.join(langs)})")
  if "pairs_mAP" in summary:
    lines.append("mAP x100, query language (rows) -> candidate language (columns)")
    lines.append("      " + " ".join(f"{l:>5}" for l in langs))
    for a in langs:
      lines.append(f"{a:>5} " + " ".join(_fmt(summary["pairs_mAP"][a][b]) for b in langs))
  if "mo_mAP" in summary:
    lines.append("Mo mAP x100 per language")
    lines.append("      " + " ".join(f"{l:>5}" for l in langs))
    lines.append("      " + " ".join(_fmt(summary["mo_mAP"][l]) for l in langs))
  if "mul" in summary:
    lines.append("")
    lines.append("Mul   " + " ".join(f"{l:>5}" for l in langs))
    lines.append("mAP   " + " ".join(_fmt(summary["mul"][l]["mAP"]) for l in langs))
    lines.append("R@10  " + " ".join(_fmt(summary["mul"][l]["R@10"]) for l in langs))
    lines.append("RD    " + " ".join(_fmt(summary["mul"][l]["RD"], pct=False) for l in langs))
  lines.append("")
  head = f"{'':10} {'Mo':>6} {'Cr':>6} {'Mul':>6} {'RD':>7}"
  lines.append(head)
  rows = [("all", summary)] + [(g, summary[g]) for g in ("seen", "zero_shot") if g in summary]
  for name, s in rows:
    lines.append(f"{name:10} {_fmt(s.get('Mo')):>6} {_fmt(s.get('Cr')):>6} {_fmt(s.get('Mul')):>6} "
                 f"{_fmt(s.get('RD'), pct=False):>7}")
  return "\n".join(lines)


def write_outputs(summary, per_query, out):
  out = storage.as_path(out)
  out.mkdir(parents=True, exist_ok=True)
  langs = summary["langs"]
  if "pairs_mAP" in summary:
    storage.write_text(out / "pairs_mAP.csv", _matrix_csv(summary["pairs_mAP"], langs))
    storage.write_text(out / "pairs_R@1.csv", _matrix_csv(summary["pairs_R@1"], langs))
  arrays = {k: np.asarray(v, np.float64) for k, v in per_query.items() if k != "question_ids"}
  arrays.update({f"ids/{l}": np.asarray(v) for l, v in per_query["question_ids"].items()})
  with storage.atomic_path(out / "per_query.npz") as tmp:
    with open(tmp, "wb") as f:
      np.savez_compressed(f, **arrays)
  text = table(summary)
  storage.write_text(out / "table.txt", text + "\n")
  storage.write_json(out / "summary.json", summary)   # last: its presence marks a finished evaluation
  return text


def evaluate_model(pretrained, corpora, train_langs=None, tokens_per_batch=8192):
  """(summary, per_query) of a loaded model on {lang: RCorpus} in memory (dev evaluation while training)."""
  from jaxir.encode import benchmark_texts, embed_texts
  from jaxir.model.hf_io import effective_prompts
  meta = pretrained.meta
  texts, index_json = benchmark_texts(corpora, *effective_prompts(meta))
  max_length = pretrained.max_length
  emb = embed_texts(pretrained, texts, max_length, tokens_per_batch)
  summary, per_query = lareqa.metrics(lareqa.rank(lareqa.Index.from_json(index_json), emb), train_langs)
  per_query["question_ids"] = {l: index_json["per_lang"][l]["question_ids"] for l in index_json["langs"]}
  return summary, per_query

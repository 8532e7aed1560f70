"""Issue #17's user, end to end on tiny data: only a JSONL of pairs in languages jaxir has never seen
(xx, qu, haw), and an -R folder in the same languages. Through the `jaxir` command, exactly as docs/data.md's
"Your own data, end to end" section shows it: train with hybrid batches, encode and evaluate the -R folder,
export a card-carrying model, load it in sentence-transformers and in `jaxir.load`."""
import json

import numpy as np
import pytest

from jaxir import cli
from conftest import tiny_model
from test_own_pairs import LANGS, _rows, _write, _write_r_dir


def _run(argv, capsys):
  rc = cli.main([str(a) for a in argv])
  out, err = capsys.readouterr()
  assert rc == 0, err[-2000:]
  return out


def test_own_pairs_to_a_published_model(tmp_path, capsys):
  model = tiny_model(tmp_path / "base", 0)                      # stands for e.g. runs/e5-small
  pairs = _write(tmp_path / "pairs.jsonl", _rows(16, negatives=False))
  r_dir = _write_r_dir(tmp_path / "my-r", LANGS)
  run = tmp_path / "run"
  # 1. train with hybrid batches on the pairs
  _run(["train", "data.source=pairs", f"data.path={pairs}", "batch.batch_type=hybrid", "batch.alpha=0.5",
        f"model.name={model}", f"out_dir={run}", "steps=4", "batch.batch_size=4", "log_every=2",
        "checkpoint_every=4", "eval_every=0", "optim.warmup_steps=1", "data.max_query_length=16",
        "data.max_passage_length=16", "--quiet"], capsys)
  assert json.loads((run / "run.json").read_text())["train_langs"] == sorted(LANGS)
  # 2. evaluate on the -R folder (any languages: from the file names)
  _run(["encode", "--model", run / "export", "--benchmark", "squad-r", "--data-dir", r_dir, "--out", tmp_path / "emb"],
       capsys)
  _run(["eval", "--embeddings", tmp_path / "emb", "--out", tmp_path / "eval", "--train-langs", ",".join(LANGS)], capsys)
  summary = json.loads((tmp_path / "eval" / "summary.json").read_text())
  assert summary["langs"] == sorted(LANGS) and summary["queries"] == {l: 6 for l in sorted(LANGS)}
  assert all(0 < summary[k] <= 1 for k in ("Mo", "Cr", "Mul")) and summary["RD"] >= 0
  # 3. export with a model card that carries those scores
  pub = tmp_path / "pub"
  _run(["export", "--run", run, "--results", tmp_path / "eval" / "summary.json", "--out", pub], capsys)
  from huggingface_hub import ModelCard
  card = ModelCard.load(pub / "README.md").data.to_dict()
  assert card["library_name"] == "sentence-transformers" and sorted(card["language"]) == sorted(LANGS)
  results = card["model-index"][0]["results"]
  assert results[0]["dataset"]["name"] == "-R folder my-r"
  scores = {m["name"]: m["value"] for r in results for m in r["metrics"]}
  assert scores["Mo mAP"] == pytest.approx(summary["Mo"]) and scores["Mul mAP"] == pytest.approx(summary["Mul"])
  # 4. load it in sentence-transformers and in jaxir: the same embeddings
  from sentence_transformers import SentenceTransformer
  import jaxir
  texts = ["xx question 3?", "haw question 5?"]
  st = SentenceTransformer(str(pub), device="cpu").encode_query(texts, normalize_embeddings=True)
  ours = jaxir.load(pub).encode(texts, kind="query")
  cos = np.sum(np.asarray(st) * ours, axis=1)
  assert np.all(cos > 0.999), cos

"""`jaxir export` for the Hugging Face Hub: the model card (metadata, training config, model-index read
back with huggingface_hub), a sweep cell's export, --push-to-hub (HfApi replaced) and bfloat16 weights
loaded by transformers, sentence-transformers and jaxir."""
import json
import math

import numpy as np
import pytest

from conftest import tiny_model
from jaxir import cli
from jaxir.model import card, hf_io

TEXTS = ["Where is the library?", "Die Bibliothek ist in der Hauptstraße.", "مرحبا بالعالم", "你好，世界"]
TRAIN = {"out_dir": "runs/x", "steps": 20, "data": {"source": "mlqa-r", "langs": None},
         "batch": {"batch_type": "hybrid", "alpha": 0.25, "batch_size": 16, "seed": 1},
         "model": {"name": "hf:intfloat/multilingual-e5-small"}, "optim": {"learning_rate": 3e-5},
         "loss": {"temperature": 0.05}}


def _lareqa(bench, fingerprint=None, **scores):
  s = {"benchmark": bench, "langs": ["de", "en"], "queries": {"de": 3, "en": 3}, "Mo": 0.61, "Cr": 0.42,
       "Mul": 0.3, "RD": 12.5, "seen": {"Mo": 0.7, "Cr": 0.5, "Mul": 0.31, "RD": 11.0},
       "pairs_mAP": {"de": {"de": 0.6, "en": 0.4}, "en": {"de": 0.44, "en": 0.62}}, "max_articles": 2}
  s.update(scores)
  if fingerprint:
    s["fingerprint"] = fingerprint
  return s


def _write(path, obj):
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(json.dumps(obj))   # json writes NaN for float('nan'), as a careless writer would
  return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
  return tiny_model(tmp_path_factory.mktemp("hub") / "tiny", seed=3)


def _metrics(card_data):
  """{(dataset name, metric name): value} of a card's eval_results."""
  return {(r.dataset_name, r.metric_name): r.metric_value for r in card_data.eval_results or []}


def test_card_metadata_training_and_model_index(tiny, tmp_path):
  from huggingface_hub import ModelCard, metadata_load
  xq = _write(tmp_path / "ev" / "xquad-r" / "summary.json", _lareqa("xquad-r", Cr=float("nan")))
  dev = _write(tmp_path / "ev" / "dev" / "summary.json", _lareqa("mlqa-r-dev", RD=None))
  tat = _write(tmp_path / "ev" / "tatoeba" / "summary.json", {"benchmark": "tatoeba", "langs": ["de"], "acc@1": 0.8})
  beir = _write(tmp_path / "ev" / "beir" / "summary.json",
                {"datasets": ["scifact"], "nDCG@10": 0.33, "Recall@100": float("inf")})  # benchmark from the folder
  xnli = _write(tmp_path / "ev" / "xnli" / "summary.json",
                {"benchmark": "xnli", "langs": ["en", "de"], "mean_accuracy": 0.55, "transfer_gap": 0.1})
  pre = hf_io.load_pretrained(tiny)
  pre.meta.update(train_langs=["de", "en"], license="mit")
  out = hf_io.save_pretrained(pre, tmp_path / "out", train_config=TRAIN,
                              results=card.read_results([xq, dev, tat, beir, xnli]), repo_id="me/tiny-hybrid")
  text = (out / "README.md").read_text()
  assert "nan" not in text.lower() and "inf" not in text.lower().replace("infonce", "")
  data = ModelCard.load(out / "README.md").data
  meta = data.to_dict()
  assert meta["library_name"] == "sentence-transformers" and meta["pipeline_tag"] == "sentence-similarity"
  assert {"sentence-transformers", "jaxir", "dense-retrieval", "hybrid-batch"} <= set(meta["tags"])
  assert meta["base_model"] == "intfloat/multilingual-e5-small"
  assert meta["language"] == ["de", "en"] and meta["datasets"] == ["facebook/mlqa"] and meta["license"] == "mit"
  assert metadata_load(out / "README.md")["model-index"][0]["name"] == "tiny-hybrid"
  got = _metrics(data)
  assert got == {("XQuAD-R", "Mo mAP"): 0.61, ("XQuAD-R", "Mul mAP"): 0.3,
                 ("XQuAD-R", "RD (language bias, ranks)"): 12.5,
                 ("MLQA-R dev", "Mo mAP"): 0.61, ("MLQA-R dev", "Cr mAP"): 0.42, ("MLQA-R dev", "Mul mAP"): 0.3,
                 ("Tatoeba", "acc@1"): 0.8, ("BEIR", "nDCG@10"): 0.33,
                 ("XNLI (English-trained probe)", "mean accuracy"): 0.55,
                 ("XNLI (English-trained probe)", "transfer gap"): 0.1}
  assert all(math.isfinite(v) for v in got.values())
  xr = next(r for r in data.eval_results if r.dataset_name == "XQuAD-R")
  assert (xr.dataset_config, xr.dataset_split, xr.dataset_args) == ("de,en", "test", {"max_articles": 2})
  # training config and α, the full config, usage with prompts, pooling and normalisation.
  assert "| α (P(a batch is X-X mono)) | 0.25 |" in text and "| global batch size | 16 |" in text
  assert "| learning rate | 3e-05 |" in text and "| temperature | 0.05 |" in text
  assert "<details>" in text and json.dumps(TRAIN, indent=2) in text
  assert 'SentenceTransformer("me/tiny-hybrid")' in text and "encode_query" in text
  assert "'query: Where is the library?'" in text and "mean pooling" in text and "F.normalize" in text
  assert "| 70.0 | 50.0 | 31.0 | 11.0 |" in text     # the seen row, x100 (RD in ranks)
  # jaxir.json carries base_model and license on; the export loads back.
  back = hf_io.load_pretrained(out)
  assert (back.meta["base_model"], back.meta["license"]) == ("intfloat/multilingual-e5-small", "mit")


def test_card_marks_scores_ranked_with_query_feedback_and_shows_it_in_numpy(tiny, tmp_path):
  from huggingface_hub import ModelCard
  from jaxir.errors import JaxirError
  from jaxir.eval import feedback
  plain = _write(tmp_path / "ev" / "plain" / "summary.json", _lareqa("xquad-r"))
  fed = _write(tmp_path / "ev" / "fed" / "summary.json",
               _lareqa("xquad-r", Mul=0.5, feedback={"k": 5, "w": 0.5, "t": 0.02}))
  out = hf_io.save_pretrained(hf_io.load_pretrained(tiny), tmp_path / "out",
                              results=card.read_results([plain, fed]))
  text = (out / "README.md").read_text()
  assert "### XQuAD-R\n" in text and "### XQuAD-R (query feedback k 5 w 0.5 t 0.02)" in text
  data = ModelCard.load(out / "README.md").data
  got = _metrics(data)
  assert got[("XQuAD-R", "Mul mAP")] == 0.3 and got[("XQuAD-R", "Mul mAP (query feedback k 5 w 0.5 t 0.02)")] == 0.5
  assert {json.dumps(r.metric_args) for r in data.eval_results} == {"null", json.dumps({"feedback": {
      "k": 5, "w": 0.5, "t": 0.02}})}
  # the card's numpy is jaxir's feedback (weighted and plain mean)
  code = text.split("### Query feedback")[1].split("```python")[1].split("```")[0]
  assert "without such copies" in text.split("### Query feedback")[1]          # where it does not pay (§13)
  rng = np.random.default_rng(0)
  q, c = rng.normal(size=(6, 8)), rng.normal(size=(30, 8))
  q, c = q / np.linalg.norm(q, axis=1, keepdims=True), c / np.linalg.norm(c, axis=1, keepdims=True)
  ns = {"q": q, "c": c}
  exec(code, ns)
  np.testing.assert_allclose(ns["feedback"](q, c), feedback.rewrite(q, c, (5, 0.5, 0.02)), rtol=0, atol=1e-12)
  np.testing.assert_allclose(ns["feedback"](q, c, 3, 0.75, None), feedback.rewrite(q, c, (3, 0.75)), atol=1e-12)
  np.testing.assert_allclose(ns["scores"], feedback.rewrite(q, c, (5, 0.5, 0.02)) @ c.T, atol=1e-12)
  assert "### Query feedback" not in (hf_io.save_pretrained(hf_io.load_pretrained(tiny), tmp_path / "p", results=
                                      card.read_results([plain])) / "README.md").read_text()
  again = _write(tmp_path / "ev" / "again" / "summary.json", _lareqa("xquad-r", feedback={"k": 5, "w": 0.5, "t": 0.02}))
  with pytest.raises(JaxirError, match="a second xquad-r summary with the same feedback"):
    card.read_results([fed, again])


def test_card_says_a_learnt_temperature_was_learnt():
  rows = lambda loss: card._training({**TRAIN, "loss": loss}, {})
  assert "| temperature | 0.05 |" in rows({"temperature": 0.05})
  learnt = rows({"temperature": 0.05, "learn_temperature": True, "temperature_learning_rate": 0.005})
  assert "| temperature | learnt, from 0.05 |" in learnt and "| temperature learning rate | 0.005 |" in learnt
  shared = rows({"temperature": 0.05, "learn_temperature": True, "temperature_learning_rate": None})
  assert "| temperature learning rate | shared with the encoder's |" in shared


def test_card_without_training_or_results(tiny, tmp_path):
  from huggingface_hub import ModelCard
  out = hf_io.save_pretrained(hf_io.load_pretrained(tiny), tmp_path / "plain")
  data = ModelCard.load(out / "README.md").data.to_dict()
  assert "model-index" not in data and "base_model" not in data and "license" not in data
  assert "language" not in data and "## Training" not in (out / "README.md").read_text()
  # a model trained from this export knows what it recorded
  pre = hf_io.load_pretrained(out)
  pre.meta["base_model"] = "org/base"
  cfg = dict(TRAIN, model={"name": str(out)})
  assert card.base_info(pre, cfg)["base_model"] == "org/base"
  training = "\n".join(card._training(cfg, pre.meta, "org/base"))
  assert f"| trained from | org/base (read from the local copy …/{'/'.join(out.parts[-3:])}) |" in training
  assert "| trained from | org/base |" in "\n".join(card._training(dict(TRAIN, model={"name": "org/base"}), {}, "org/base"))
  assert f"| trained from | …/{'/'.join(out.parts[-3:])} |" in "\n".join(card._training(cfg, pre.meta))  # no hub id known


def _cell(tmp_path, tiny, fingerprint):
  """A finished sweep cell whose checkpoints were pruned: train/export and eval/xquad-r/summary.json."""
  import shutil
  cell = tmp_path / "sweep" / "cells" / "hybrid_a0.25_s1"
  (cell / "train").mkdir(parents=True)
  shutil.copytree(tiny, cell / "train" / "export")
  _write(cell / "config.json", {"cell": {"alpha": 0.25}, "train": TRAIN})
  _write(cell / "train" / "config.json", TRAIN)
  _write(cell / "train" / "run.json", {"steps": 20, "train_langs": ["de", "en"]})
  _write(cell / "eval" / "xquad-r" / "summary.json", _lareqa("xquad-r", fingerprint))
  return cell


def test_export_sweep_cell_and_bad_results(tiny, tmp_path, capsys):
  from huggingface_hub import ModelCard
  fp = hf_io.fingerprint(tiny)
  cell = _cell(tmp_path, tiny, fp)
  assert cli.main(["export", "--cell", str(cell), "--out", str(tmp_path / "out")]) == 0
  assert "model card with 1 benchmark(s)" in capsys.readouterr().out
  data = ModelCard.load(tmp_path / "out" / "README.md").data
  assert _metrics(data)[("XQuAD-R", "Mo mAP")] == 0.61 and "hybrid-batch" in data.tags
  assert hf_io.fingerprint(tmp_path / "out") == fp
  # results of another model, an unknown benchmark, a non-number: one line, exit 2, nothing written
  other = _write(tmp_path / "other.json", _lareqa("xquad-r", "0123456789abcdef"))
  unknown = _write(tmp_path / "u" / "summary.json", {"benchmark": "squad", "Mo": 1})
  wrong = _write(tmp_path / "w" / "summary.json", {"benchmark": "tatoeba", "acc@1": "high"})
  for bad, says in ((other, "fingerprint 0123456789abcdef"), (unknown, "unknown benchmark 'squad'"),
                    (wrong, "field 'acc@1' must be a number or null")):
    assert cli.main(["export", "--model", str(tiny), "--results", str(bad), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("jaxir export: error: ") and err.count("\n") == 1 and says in err, err
    assert not (tmp_path / "x").exists()
  assert cli.main(["export", "--cell", str(tmp_path), "--out", str(tmp_path / "x")]) == 2
  assert "sweep cell config" in capsys.readouterr().err


def test_card_never_names_the_writers_absolute_paths(tiny, tmp_path, capsys):
  """The run's config block and the table rows show each absolute local path as `_shown` names it (relative to the
  current directory, else `…/` and its last three parts); hub ids, gs:// and relative paths stay."""
  cell = _cell(tmp_path, tiny, hf_io.fingerprint(tiny))
  train = {**TRAIN, "out_dir": str(cell / "train"), "model": {"name": str(tiny)}, "data": {"source": "mlqa-r",
           "langs": None, "data_dir": "gs://bucket/data", "extra_mono": "mono-qa/arcd"}}
  _write(cell / "config.json", {"cell": {"alpha": 0.25}, "train": train})
  _write(cell / "train" / "config.json", train)
  assert cli.main(["export", "--cell", str(cell), "--out", str(tmp_path / "out")]) == 0
  capsys.readouterr()
  text = (tmp_path / "out" / "README.md").read_text()
  assert str(tmp_path) not in text and '"out_dir": "…/cells/hybrid_a0.25_s1/train"' in text
  assert '"data_dir": "gs://bucket/data"' in text and '"extra_mono": "mono-qa/arcd"' in text
  assert card.public({"a": ["/x/y/z/w run", "hf:org/m"], "b": 1}) == {"a": ["…/y/z/w run", "hf:org/m"], "b": 1}
  assert card._shown("/tmp") == "…/tmp" and card._shown("/a/b") == "…/a/b"
  assert card.public("from C:\\Users\\me\\runs\\a0 and D:/x/y/z/w") == "from …/me/runs/a0 and …/y/z/w"
  inside = "see (/p/q/r/s), out=/p/q/r/t, '/p/q/r/u' and /p/q/r/v."
  assert card.public(inside) == "see (…/q/r/s), out=…/q/r/t, '…/q/r/u' and …/q/r/v."
  kept = "runs/a/b, hf:org/m, gs://b/x/y/z/w, https://h/a/b/c, 1/2, …/a/b/c and Mo / Cr"
  assert card.public(kept) == kept
  home = card.public("~/a/b/c/d")
  assert not home.startswith("~") and home.endswith("b/c/d") and not home.startswith("/")
  spaced = tmp_path / "my runs" / "a" / "b 0" / "c"     # a config value that is one path with spaces in it
  spaced.mkdir(parents=True)
  shown = card.public({"out_dir": str(spaced), "cmd": f"see {spaced}"})
  assert shown["out_dir"] == "…/a/b 0/c"                 # was "…/<tmp_path's last two>/my runs/a/b 0/c"
  assert shown["cmd"].startswith("see …/") and shown["cmd"].endswith("my runs/a/b 0/c")   # in a sentence: ends at a space


def test_export_weight_interpolated_cell(tiny, tmp_path, capsys, monkeypatch):
  """A sweep's `wise` cell (grid.wise): `export --cell` writes its model/ (the interpolation), the card's training
  section is its training cell's run and says the weights interpolate that model (λ, A and B named); a wise cell
  whose model is not made yet is one line, exit 2."""
  from huggingface_hub import ModelCard
  from jaxir.model.merge import merge
  other = tiny_model(tmp_path / "other", seed=4)
  sweep = tmp_path / "sweep" / "cells"
  trained = _cell(tmp_path, other, hf_io.fingerprint(other)) / "train" / "export"       # hybrid_a0.25_s1's model
  cell = sweep / "hybrid_a0.25_w0.75_s1"
  _, fp = merge(tiny, trained, 0.75, cell / "model")
  _write(cell / "config.json", {"cell": {"kind": "wise", "wise": 0.75}, "model_a": str(tiny), "model_b": str(trained),
                                "weight": 0.75})
  _write(cell / "eval" / "xquad-r" / "summary.json", _lareqa("xquad-r", fp))
  assert cli.main(["export", "--cell", str(cell), "--out", str(tmp_path / "out")]) == 0
  assert "model card with 1 benchmark(s)" in capsys.readouterr().out and hf_io.fingerprint(tmp_path / "out") == fp
  text = (tmp_path / "out" / "README.md").read_text()
  training = text.split("## Training")[1].split("## Evaluation")[0]
  assert "| steps | 20 |" in training and "at λ = 0.75 (WiSE-FT; Model details" in training
  row = next(line for line in text.splitlines() if line.startswith("| weight interpolation |"))
  assert row.startswith(f"| weight interpolation | (1 − λ)·A + λ·B, λ = 0.75 (WiSE-FT, `jaxir merge`); A …/"
                        f"{'/'.join(tiny.parts[-3:])} ({hf_io.fingerprint(tiny)}), B …/") and str(tmp_path) not in row
  monkeypatch.chdir(tmp_path)                                        # inside the current directory: relative
  assert card._shown(trained) == "sweep/cells/hybrid_a0.25_s1/train/export" and card._shown(None) == "?"
  assert card._merged({"weight": "0.5:1"}).startswith("(1 − λ)·A + λ·B, λ = 0.5:1, first to last layer (LiNeS")
  assert _metrics(ModelCard.load(tmp_path / "out" / "README.md").data)[("XQuAD-R", "Mo mAP")] == 0.61
  meta = json.loads((tmp_path / "out" / "jaxir.json").read_text())        # published: no absolute paths either
  assert meta["merged_from"]["b"] == "…/hybrid_a0.25_s1/train/export" and str(tmp_path) not in str(meta)
  assert json.loads((cell / "model" / "jaxir.json").read_text())["merged_from"]["b"] == str(trained)    # local: kept
  import shutil
  shutil.rmtree(cell / "model")
  assert cli.main(["export", "--cell", str(cell), "--out", str(tmp_path / "x")]) == 2
  err = capsys.readouterr().err
  assert err.count("\n") == 1 and "no interpolated model yet" in err and not (tmp_path / "x").exists()
  assert cli.main(["export", "--cell", str(trained.parents[1]), "--out", str(tmp_path / "plain")]) == 0
  assert "WiSE-FT" not in (tmp_path / "plain" / "README.md").read_text()          # the training cell's own model


def test_push_to_hub_sends_the_folder(tiny, tmp_path, monkeypatch, capsys):
  from huggingface_hub import HfApi
  sent = {}
  monkeypatch.setattr(HfApi, "create_repo", lambda self, repo_id, **kw: sent.update(repo=repo_id, **kw))
  def upload(self, *, repo_id, folder_path, **kw):
    from pathlib import Path
    sent.update(upload_repo=repo_id, files=sorted(p.relative_to(folder_path).as_posix()
                                                  for p in Path(folder_path).rglob("*") if p.is_file()))
  monkeypatch.setattr(HfApi, "upload_folder", upload)
  out = tmp_path / "out"
  assert cli.main(["export", "--model", str(tiny), "--out", str(out), "--push-to-hub", "me/tiny", "--private"]) == 0
  assert sent["repo"] == sent["upload_repo"] == "me/tiny" and sent["private"] is True and sent["exist_ok"] is True
  assert {"README.md", "config.json", "model.safetensors", "jaxir.json", "modules.json", "tokenizer.json",
          "1_Pooling/config.json", "config_sentence_transformers.json"} <= set(sent["files"])
  assert 'SentenceTransformer("me/tiny")' in (out / "README.md").read_text()
  assert "uploaded " in capsys.readouterr().out

  # offline: one line, exit 2, the export stays
  def offline(self, repo_id, **kw):
    raise OSError("[Errno -2] Name or service not known")
  monkeypatch.setattr(HfApi, "create_repo", offline)
  assert cli.main(["export", "--model", str(tiny), "--out", str(out), "--push-to-hub", "me/tiny"]) == 2
  err = capsys.readouterr().err
  assert err.startswith("jaxir export: error: could not reach the Hugging Face Hub (OSError: ") and err.count("\n") == 1
  assert f"`hf upload me/tiny {out}`" in err and (out / "README.md").is_file()
  for args, says in ((["--push-to-hub", "not a repo"], "not a Hugging Face repo id"),
                     (["--private"], "--private applies to --push-to-hub")):
    assert cli.main(["export", "--model", str(tiny), "--out", str(tmp_path / "y"), *args]) == 2
    assert says in capsys.readouterr().err
  assert not (tmp_path / "y").exists()


def _torch_embed(path, texts):
  import torch
  import transformers
  tok = transformers.AutoTokenizer.from_pretrained(str(path))
  model = transformers.AutoModel.from_pretrained(str(path)).eval()
  b = tok(texts, padding=True, return_tensors="pt")
  with torch.no_grad():
    states = model(**b).last_hidden_state.float()
  m = b["attention_mask"].unsqueeze(-1).float()
  emb = ((states * m).sum(1) / m.sum(1)).numpy()
  return emb / np.linalg.norm(emb, axis=-1, keepdims=True), model


def test_bfloat16_export_loads_everywhere(tiny, tmp_path, capsys):
  import ml_dtypes
  from safetensors import safe_open
  from sentence_transformers import SentenceTransformer
  f32, bf16 = tmp_path / "f32", tmp_path / "bf16"
  assert cli.main(["export", "--model", str(tiny), "--out", str(f32)]) == 0
  assert cli.main(["export", "--model", str(tiny), "--out", str(bf16), "--dtype", "bfloat16"]) == 0
  assert "bfloat16" in capsys.readouterr().out
  size = lambda d: (d / "model.safetensors").stat().st_size
  assert size(bf16) < 0.55 * size(f32)
  cfg = json.loads((bf16 / "config.json").read_text())
  assert cfg["dtype"] == cfg["torch_dtype"] == "bfloat16"
  with safe_open(str(bf16 / "model.safetensors"), "np") as f:
    assert f.get_tensor("embeddings.word_embeddings.weight").dtype == ml_dtypes.bfloat16
  a, _ = _torch_embed(f32, TEXTS)
  b, model = _torch_embed(bf16, TEXTS)
  assert str(model.dtype) in ("torch.bfloat16", "torch.float32")
  assert (a * b).sum(-1).min() > 0.99
  sa = SentenceTransformer(str(f32), device="cpu").encode(TEXTS, convert_to_numpy=True)
  sb = SentenceTransformer(str(bf16), device="cpu").encode(TEXTS, convert_to_numpy=True)
  sb = sb.astype(np.float32) / np.linalg.norm(sb.astype(np.float32), axis=-1, keepdims=True)
  assert (sa * sb).sum(-1).min() > 0.99
  back, ref = hf_io.load_pretrained(bf16), hf_io.load_pretrained(tiny)
  word = lambda p: p.params["embeddings"]["word_embeddings"]["embedding"]
  assert word(back).dtype == np.float32 and np.abs(word(back) - word(ref)).max() < 1e-2 * np.abs(word(ref)).max()
  assert "weights | bfloat16" in (bf16 / "README.md").read_text()
  with pytest.raises(SystemExit) as e:
    cli.main(["export", "--model", str(tiny), "--out", str(tmp_path / "x"), "--dtype", "float16"])
  assert e.value.code == 2 and "invalid choice: 'float16'" in capsys.readouterr().err


def test_card_transformers_snippet_runs_with_dense_head_in_bfloat16(tmp_path):
  """The card's transformers example (pooling, Dense head, normalisation) gives sentence-transformers' embeddings."""
  from sentence_transformers import SentenceTransformer
  src = tiny_model(tmp_path / "head", seed=4, head_out=8)
  out = hf_io.save_pretrained(hf_io.load_pretrained(src), tmp_path / "bf16", dtype="bfloat16")
  code = (out / "README.md").read_text().split("### transformers")[1].split("```python")[1].split("```")[0]
  ns = {}
  exec(code.replace("PATH/TO/THIS/DIRECTORY", str(out)).replace("print(emb[0] @ emb[1])", ""), ns)
  got = ns["emb"].float().numpy()
  want = SentenceTransformer(str(out), device="cpu").encode(
      ["query: Where is the library?", "passage: The library is on Main Street."], convert_to_numpy=True)
  assert got.shape == (2, 8) and np.abs(np.linalg.norm(got, axis=-1) - 1).max() < 1e-3
  want = want.astype(np.float32) / np.linalg.norm(want.astype(np.float32), axis=-1, keepdims=True)  # bf16 rounding
  assert (got * want).sum(-1).min() > 0.999


def test_trained_run_export_card_and_pruned_checkpoints(tiny, tmp_path, capsys):
  """The trainer's own export carries the run's config in its card; `--run` without checkpoints uses export/."""
  import shutil
  from huggingface_hub import ModelCard
  from conftest import DATA
  run = tmp_path / "run"
  args = {"out_dir": run, "model.name": tiny, "data.data_dir": DATA, "steps": 2, "log_every": 1, "eval_every": 0,
          "batch.batch_size": 8, "batch.alpha": 0.75, "data.langs": "[de,en]", "optim.warmup_steps": 1,
          "data.max_passage_length": 32, "data.max_query_length": 16}
  assert cli.main(["train", "--quiet", *[f"{k}={v}" for k, v in args.items()]]) == 0
  text = (run / "export" / "README.md").read_text()
  data = ModelCard.load(run / "export" / "README.md").data
  assert "hybrid-batch" in data.tags and data.language == ["de", "en"] and data.datasets == ["facebook/mlqa"]
  assert "| α (P(a batch is X-X mono)) | 0.75 |" in text and "| steps | 2 |" in text
  shutil.rmtree(run / "checkpoints")     # as a sweep prunes them
  assert cli.main(["export", "--run", str(run), "--out", str(tmp_path / "again")]) == 0
  capsys.readouterr()
  assert hf_io.fingerprint(tmp_path / "again") == hf_io.fingerprint(run / "export")
  assert "| α (P(a batch is X-X mono)) | 0.75 |" in (tmp_path / "again" / "README.md").read_text()
  assert cli.main(["export", "--run", str(run), "--step", "1", "--out", str(tmp_path / "x")]) == 2
  assert "no checkpoint" in capsys.readouterr().err

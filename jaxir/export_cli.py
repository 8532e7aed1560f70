"""`jaxir export`: a model directory, a training run's checkpoint or a sweep cell's model as a Hugging Face +
sentence-transformers directory with its model card, optionally uploaded to the Hub.

It sits above `jaxir.model` and `jaxir.train` (a run's checkpoint needs the train state), so that the model
package never imports the train package. Heavy modules are imported inside each command, so `jaxir --help`
stays fast.
"""


def register(subparsers):
  """Adds the top-level `jaxir export`: a model as a Hugging Face + sentence-transformers directory with its card."""
  p = subparsers.add_parser(
      "export", help="write a model as a Hugging Face / sentence-transformers directory (with its model card)",
      description="Load a model (directory or hub id), a run's checkpoint or a sweep cell's model and write"
                  " config.json, model.safetensors, the tokenizer, the sentence-transformers files and a model card"
                  " (README.md: metadata, training config, scores, usage); optionally upload it to the Hub.")
  src = p.add_mutually_exclusive_group(required=True)
  src.add_argument("--model", metavar="M", help="model directory or Hugging Face hub id (hf:ORG/NAME)")
  src.add_argument("--run", metavar="RUN_DIR", help="a `jaxir train` run: export one of its checkpoints"
                   " (without checkpoints left: its export/); the card shows its config")
  src.add_argument("--cell", metavar="CELL_DIR", help="a sweep cell (SWEEP/cells/NAME): export its model; the"
                   " card shows its training config and every eval/*/summary.json")
  p.add_argument("--step", type=int, help="with --run: the checkpoint's step (default: the latest)")
  p.add_argument("--out", required=True, metavar="DIR",
                 help="directory to write (replaced atomically when empty or written by jaxir, i.e. holds jaxir.json)")
  p.add_argument("--force", action="store_true", help="replace DIR even when jaxir did not write it")
  p.add_argument("--results", action="append", default=[], metavar="SUMMARY_JSON",
                 help="a `jaxir eval` summary.json of this model, for the card's scores and model-index (repeatable)")
  p.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32",
                 help="type of the written weights (bfloat16: half the size; config.json records it)")
  p.add_argument("--push-to-hub", metavar="REPO", help="then upload DIR to the Hugging Face Hub repo REPO (ORG/NAME)")
  p.add_argument("--private", action="store_true", help="with --push-to-hub: create the repo private")
  p.set_defaults(func=_export)


def _export(args):
  import sys

  from jaxir import storage
  from jaxir.errors import JaxirError
  from jaxir.model import card
  from jaxir.model.hf_io import META_FILE, fingerprint, load_pretrained, save_pretrained

  if args.step is not None and not args.run:
    raise JaxirError("--step applies to --run")
  if args.private and not args.push_to_hub:
    raise JaxirError("--private applies to --push-to-hub REPO")
  if args.push_to_hub:
    _check_repo_id(args.push_to_hub)
  storage.check_replaceable(args.out, META_FILE, args.force)  # before loading the model
  results, train_config = list(args.results), None
  if args.cell:
    source, train_config, cell_results = _cell(args.cell)
    results += cell_results
  results = card.read_results(results)
  if args.cell:
    pre = source()
  elif args.run:
    pre, train_config = _run_model(args.run, args.step)
  else:
    pre = load_pretrained(args.model)
  out = save_pretrained(pre, args.out, force=args.force, dtype=args.dtype, train_config=train_config,
                        results=results, repo_id=args.push_to_hub, public=True)
  c, m = pre.config, pre.meta
  print(f"wrote {out}: {c.model_type} {c.num_layers}x{c.hidden_size}, {m['pooling']} pooling"
        f"{', normalized' if m['normalize'] else ''}, {args.dtype}, fingerprint {fingerprint(out)}"
        f", model card with {len(results)} benchmark(s)")
  if args.push_to_hub:
    url = push_to_hub(out, args.push_to_hub, args.private)
    print(f"uploaded {out} to {url}")
  sys.stdout.flush()


def _run_model(run_dir, step):
  """(Pretrained, run config) of a `jaxir train` run: a checkpoint, or export/ once checkpoints are pruned."""
  from jaxir import storage
  from jaxir.model.hf_io import load_pretrained
  from jaxir.train.trainer import checkpoint_model
  run = storage.as_path(run_dir)       # a local run, or a gs:// one (read through etils.epath)
  train_config = storage.read_json(run / "config.json", "run config")
  ckpts = run / "checkpoints"
  if step is None and (run / "run.json").is_file() and (run / "export" / "config.json").is_file() \
     and not (ckpts.is_dir() and any(ckpts.iterdir())):
    return load_pretrained(run / "export"), train_config
  return checkpoint_model(run, step), train_config


def _cell(cell_dir):
  """(load the model, training config or None, eval/*/summary.json paths) of a sweep cell."""
  from pathlib import Path

  from jaxir import storage, schema
  from jaxir.errors import JaxirError
  from jaxir.model.hf_io import load_pretrained
  cell = Path(cell_dir)
  cfg = storage.read_json(cell / "config.json", "sweep cell config")
  schema.check(cfg, dict, str(cell / "config.json"))
  results = sorted(cell.glob("eval/*/summary.json"))
  if "train" in cfg:
    schema.expect(cfg, "train", dict, cell / "config.json")
    if not (cell / "train" / "config.json").is_file():
      raise JaxirError(f"{cell} has no trained model yet (no train/config.json): run its sweep first")
    return (lambda: _run_model(cell / "train", None)[0]), cfg["train"], results
  if "model_b" in cfg:                        # a `wise` cell: model/ interpolates its training cell's model
    trained = Path(schema.expect(cfg, "model_b", str, cell / "config.json"))
    if not (cell / "model" / "config.json").is_file():
      raise JaxirError(f"{cell} has no interpolated model yet (no model/config.json): run its sweep first")
    return (lambda: load_pretrained(cell / "model")), _run_config(trained), results
  for key in ("model_from", "model_path"):    # a models_from cell, the untrained (zero-shot) cell
    if key in cfg:
      model = Path(schema.expect(cfg, key, str, cell / "config.json"))   # model_from: a cells/NAME/train/export
      return (lambda: load_pretrained(model)), _run_config(model) if key == "model_from" else None, results
  raise JaxirError(f"{cell / 'config.json'}: not a sweep cell's config (no 'train', 'model_b', 'model_from' or 'model_path')")


def _run_config(export):
  """The training config of a run's exported model (`RUN/export` -> `RUN/config.json`), or None when not a run's."""
  from jaxir import storage
  run_config = export.parent / "config.json"
  return storage.read_json(run_config, "run config") if run_config.is_file() else None


def _check_repo_id(repo):
  import re

  from jaxir.errors import JaxirError
  if not re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", repo) or ".." in repo:
    raise JaxirError(f"--push-to-hub {repo!r} is not a Hugging Face repo id (ORG/NAME)")


def push_to_hub(out_dir, repo_id, private=False):
  """Uploads the directory `out_dir` to the Hub repo `repo_id` (created when missing); returns the commit URL.

  No network or no token: one JaxirError line that says where the model is and how to upload it later."""
  from huggingface_hub import HfApi

  from jaxir.errors import JaxirError
  api = HfApi()
  try:
    api.create_repo(repo_id, private=private, exist_ok=True)
    info = api.upload_folder(repo_id=repo_id, folder_path=str(out_dir), commit_message="Upload model exported by jaxir")
  except Exception as e:  # httpx / hub HTTP errors, no token, OSError: all reported the same way
    reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
    reason = reason if len(reason) <= 160 else reason[:157] + "..."
    raise JaxirError(f"could not reach the Hugging Face Hub ({type(e).__name__}: {reason}); the model is written to"
                     f" {out_dir}: upload it later with `hf upload {repo_id} {out_dir}{' --private' if private else ''}`") from None
  return getattr(info, "commit_url", None) or f"https://huggingface.co/{repo_id}"

"""`jaxir train`: the contrastive trainer, in the order it runs (after big_vision's trainers).

  1. run directory: `config.json` (resolved config); a rerun with the same config resumes, a
     different config is refused; `run.json` is written last, so only a finished run has it
  2. model: a Hugging Face directory or hub id -> Flax params (`jaxir.model.hf_io`)
  3. data: MLQA-R pairs split by article (`jaxir.data.pairs`), hybrid batches (`jaxir.data.hybrid`)
     through tf.data (`jaxir.data.pipeline`); the batch of step t is a pure function of (seed, t)
  4. mesh and sharded state (`jaxir.train.mesh`, `state`); the jitted step (`jaxir.train.step`)
  5. resume: orbax restores the state and the next step; the input restarts at that step
  6. loop: log (JSONL), checkpoint, dev evaluation on the MLQA-R dev split
  7. end: final checkpoint, dev evaluation, exported Hugging Face directory, `run.json`
"""
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from jaxir import config as config_lib
from jaxir import io
from jaxir.data import packed
from jaxir.data import pipeline
from jaxir.errors import JaxirError

ARRAYS = pipeline.PADDED + packed.KEYS
KIND_NAMES = {0: "mono", 1: "cross", 2: "mixed"}
# Peak dense bf16 FLOP/s per device, for the utilisation estimate (None: unknown, e.g. CPU).
PEAK_FLOPS = {"TPU v4": 275e12, "TPU v5 lite": 197e12, "TPU v5e": 197e12, "TPU v5p": 459e12, "TPU v6 lite": 918e12,
              "NVIDIA H100": 989e12, "NVIDIA H200": 989e12, "NVIDIA A100": 312e12}


def maybe_initialize_distributed():
  """jax.distributed.initialize() for multi-host runs: TPU pods (`JAXIR_DISTRIBUTED=1`, addresses from
  the environment) or explicit local processes (`JAXIR_COORDINATOR=host:port`, `JAXIR_NUM_PROCESSES`,
  `JAXIR_PROCESS_ID`). Must run before any other JAX call."""
  import jax
  if os.environ.get("JAXIR_COORDINATOR"):
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=os.environ["JAXIR_COORDINATOR"],
                               num_processes=int(os.environ["JAXIR_NUM_PROCESSES"]),
                               process_id=int(os.environ["JAXIR_PROCESS_ID"]))
  elif os.environ.get("JAXIR_DISTRIBUTED"):
    jax.distributed.initialize()


def _prepare_run_dir(cfg):
  """Creates or reopens the run directory; returns (path, finished)."""
  out = Path(cfg.out_dir)
  resolved = config_lib.to_dict(cfg)
  cfg_file = out / "config.json"
  if cfg_file.exists():
    old = io.read_json(cfg_file, "run config")
    changed = _changed(old, json.loads(json.dumps(resolved)))
    if changed:
      raise JaxirError(f"{out} holds a run with another config (differs in {', '.join(changed[:5])});"
                       " use another out_dir or the same config to resume")
    return out, (out / "run.json").exists()
  if out.exists() and any(out.iterdir()):
    raise JaxirError(f"{out} exists and is not a jaxir run directory; choose another out_dir")
  out.mkdir(parents=True, exist_ok=True)
  io.write_json(cfg_file, resolved)
  return out, False


def _changed(old, new):
  """Config keys that differ; a key the old config.json lacks is unchanged when it is None now (added since,
  unset: e.g. model.query_prompt)."""
  a, b = _flat(old), _flat(new)
  return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k) and not (k not in a and b[k] is None))


def _flat(d, prefix=""):
  out = {}
  for k, v in d.items():
    if isinstance(v, dict):
      out.update(_flat(v, f"{prefix}{k}."))
    else:
      out[f"{prefix}{k}"] = v
  return out


def _peak_flops(jax):
  kind = jax.devices()[0].device_kind
  peak = next((v for k, v in PEAK_FLOPS.items() if kind.startswith(k)), None)
  return None if peak is None else peak * jax.device_count()


class _Window:
  """Metrics averaged over the steps since the last log line, mono and cross batches apart."""

  def __init__(self):
    self.reset()

  def reset(self):
    self.rows, self.pairs, self.tokens, self.t0 = [], 0, 0, time.perf_counter()

  def add(self, metrics, batch_info, pairs, tokens):
    self.rows.append({**metrics, **batch_info})
    self.pairs += pairs
    self.tokens += tokens

  def summary(self, flops_per_token, peak):
    dt = max(time.perf_counter() - self.t0, 1e-9)
    out = {k: float(np.mean([r[k] for r in self.rows])) for k in self.rows[0] if k not in ("kind",)}
    for kind, name in KIND_NAMES.items():
      losses = [r["loss"] for r in self.rows if r["kind"] == kind]
      out[f"loss_{name}"] = float(np.mean(losses)) if losses else None
    out["mono_batches"] = sum(r["kind"] == 0 for r in self.rows) / len(self.rows)
    out["pairs_per_s"] = self.pairs / dt
    out["tokens_per_s"] = self.tokens / dt
    achieved = 3 * flops_per_token * self.tokens / dt          # forward + backward ~ 3x forward
    out["tflops"] = achieved / 1e12
    out["flop_utilisation"] = achieved / peak if peak else None
    return out


def _host_params(params, mesh, jax):
  """The full parameter tree as numpy on this host (replicated first when sharded over `model`)."""
  from jaxir.train import mesh as mesh_lib
  full = jax.jit(lambda p: p, out_shardings=mesh_lib.replicated(mesh))(params)
  return jax.tree.map(np.asarray, full)


def _with_params(pretrained, params, **meta):
  from jaxir.model.hf_io import Pretrained
  return Pretrained(pretrained.config, params, pretrained.tokenizer, dict(pretrained.meta, **meta),
                    pretrained.path, pretrained.extra)


def _load_model(cfg):
  """The model of `cfg.model.name` with the prompts of `cfg.model` (None: its own): used for the batches,
  the dev evaluation and the export alike."""
  from jaxir.model.hf_io import load_pretrained, with_prompts
  return with_prompts(load_pretrained(cfg.model.name), cfg.model.query_prompt, cfg.model.passage_prompt)


def checkpoint_model(run_dir, step=None):
  """The model of a run's checkpoint (default: the latest) as a `Pretrained`, ready to export."""
  import jax
  from jaxir.train import mesh as mesh_lib
  from jaxir.train import state as state_lib
  from jaxir.train import step as step_lib
  from jaxir.train.checkpoint import Checkpoints

  run = Path(run_dir)
  cfg = config_lib.from_dict(io.read_json(run / "config.json", "run config"))
  ckpt = Checkpoints((run / "checkpoints").absolute(), keep=cfg.keep_checkpoints)
  steps = ckpt.manager.all_steps()
  if not steps:
    raise JaxirError(f"{run} has no checkpoint yet")
  if step is not None and step not in steps:
    raise JaxirError(f"{run} has no checkpoint at step {step} (it has {', '.join(map(str, sorted(steps)))})")
  pretrained = _load_model(cfg)
  cfg.mesh.data, cfg.mesh.model = -1, 1
  mesh = mesh_lib.make_mesh(cfg.mesh)
  encoder = pretrained.encoder(step_lib.compute_dtype(cfg.model.dtype))
  step, state, _, _ = ckpt.restore_readable(state_lib.sharded_abstract_state(encoder, cfg, mesh), step, "exporting")
  train_langs = (io.read_json(run / "run.json", "run") if (run / "run.json").exists() else {}).get("train_langs")
  return _with_params(pretrained, _host_params(state.params, mesh, jax), train_langs=train_langs,
                      source=f"jaxir train {run} step {step}")


def _move_aside(ckpt, steps, jax):
  """Moves unreadable checkpoints out of the way of the steps the resumed run will save again."""
  if not steps:
    return
  if jax.process_index() == 0:
    for step in steps:
      ckpt.move_aside(step)
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils
    multihost_utils.sync_global_devices("jaxir: unreadable checkpoints moved aside")
    ckpt.manager.reload()


def _real_tokens(arrays):
  """Tokens of this host's batch that are not padding."""
  if "packed_segments" in arrays:
    return int(np.count_nonzero(arrays["packed_segments"]))
  return int(sum(np.sum(arrays[k]) for k in arrays if k.endswith("_mask")))


def train(cfg, progress=True):
  """Trains (or resumes) the run `cfg.out_dir`; returns its directory."""
  import jax
  from jaxir.data import hybrid, pairs
  from jaxir.eval.evaluate import evaluate_model
  from jaxir.model.hf_io import effective_prompts
  from jaxir.train import mesh as mesh_lib
  from jaxir.train import state as state_lib
  from jaxir.train import step as step_lib
  from jaxir.train.checkpoint import Checkpoints
  from jaxir.train.log import JsonlLog, encoder_flops_per_token

  config_lib.validate(cfg)
  # Check everything that can fail on bad input before the run directory exists.
  data = pairs.load_pairs(cfg.data)
  hybrid.check(data.train, cfg.batch, jax.process_count())
  mesh = mesh_lib.make_mesh(cfg.mesh)
  if cfg.batch.batch_size % mesh.shape["data"]:
    raise JaxirError(f"batch.batch_size={cfg.batch.batch_size} is not divisible by the {mesh.shape['data']} devices of the data axis")
  pretrained = _load_model(cfg)
  out, finished = _prepare_run_dir(cfg)
  if finished:
    print(f"train: {out} is already finished (run.json)", file=sys.stderr)
    return out

  encoder = pretrained.encoder(step_lib.compute_dtype(cfg.model.dtype))
  langs = data.train.langs
  ckpt = Checkpoints((out / "checkpoints").absolute(), keep=cfg.keep_checkpoints)
  start = 0
  if ckpt.latest_step() is not None:
    _, state, position, unreadable = ckpt.restore_readable(state_lib.sharded_abstract_state(encoder, cfg, mesh))
    _move_aside(ckpt, unreadable, jax)
    start = int(position["next_step"])
    print(f"train: resumed {out} at step {start}", file=sys.stderr)
  else:
    state = state_lib.create_train_state(encoder, cfg, mesh, params=pretrained.params, seed=cfg.batch.seed)
  train_step = step_lib.make_train_step(encoder, cfg, mesh)

  query_prompt, passage_prompt = effective_prompts(pretrained.meta)
  batches = pipeline.make_dataset(data.train, cfg, pretrained.tokenizer, start, jax.process_index(),
                                  jax.process_count(), query_prompt=query_prompt, passage_prompt=passage_prompt,
                                  row_multiple=mesh_lib.local_data_shards(mesh))
  log = JsonlLog(out / "log.jsonl", echo=progress and jax.process_index() == 0)
  if start == 0:
    log.write({"event": "start", "pairs_train": {"mono": sum(len(data.train.mono_pairs(l)) for l in langs),
                                                "cross": len(data.train.cross_pairs())},
               "devices": jax.device_count(), "processes": jax.process_count(), "backend": jax.default_backend(),
               "batch_type": cfg.batch.batch_type, "alpha": cfg.batch.alpha, "train_langs": langs})
  mean_len = cfg.data.max_passage_length
  peak = _peak_flops(jax)
  window = _Window()

  def dev_eval(step):
    model = _with_params(pretrained, _host_params(state.params, mesh, jax))
    summary, _ = evaluate_model(model, data.corpora["dev"], train_langs=langs)
    record = {"event": "dev", "step": step, **{k: summary[k] for k in ("Mo", "Cr", "Mul", "RD")}}
    log.write(record)
    return summary

  step = start
  for batch in batches:
    step = int(batch["step"])
    arrays = {k: batch[k] for k in ARRAYS if k in batch}
    state, metrics = train_step(state, mesh_lib.host_batch_to_global(arrays, mesh))
    n_tokens = _real_tokens(arrays) * jax.process_count()
    window.add({k: float(v) for k, v in jax.device_get(metrics).items()},
               {"kind": int(batch["kind"]), "mono_share": float(batch["mono_share"]), "skipped": int(batch["skipped"])},
               cfg.batch.batch_size, n_tokens)
    done = step + 1
    if done % cfg.log_every == 0 or done == cfg.steps:
      flops = encoder_flops_per_token(pretrained.config, mean_len)
      log.write({"event": "train", "step": done, "alpha": cfg.batch.alpha, **window.summary(flops, peak)})
      window.reset()
    if done % cfg.checkpoint_every == 0 and done < cfg.steps:
      ckpt.save(done, state, {"next_step": done})
    if cfg.eval_every and done % cfg.eval_every == 0 and done < cfg.steps:
      dev_eval(done)
  if ckpt.latest_step() != cfg.steps:
    ckpt.save(cfg.steps, state, {"next_step": cfg.steps})
  ckpt.wait()
  dev = dev_eval(cfg.steps) if cfg.eval_every else None
  if cfg.export:
    from jaxir.model.hf_io import save_pretrained
    tuned = _with_params(pretrained, _host_params(state.params, mesh, jax), train_langs=list(langs),
                         source=f"jaxir train {cfg.out_dir} from {cfg.model.name}")
    if jax.process_index() == 0:
      save_pretrained(tuned, out / "export")
  if jax.process_index() == 0:
    io.write_json(out / "run.json", {"steps": cfg.steps, "train_langs": langs,
                                     "export": str(out / "export") if cfg.export else None,
                                     "dev": None if dev is None else {k: dev[k] for k in ("Mo", "Cr", "Mul", "RD")}})
  ckpt.close()
  log.close()
  return out

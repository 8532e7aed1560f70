"""`jaxir train`: the contrastive trainer, in the order it runs (after big_vision's trainers).

  1. run directory (a local path, or gs://bucket/run through etils.epath: `jaxir.storage`): `config.json`
     (resolved config); a rerun with the same config resumes, a different config is refused; `run.json`
     is written last, so only a finished run has it
  2. model: a Hugging Face directory or hub id -> Flax params (`jaxir.model.hf_io`)
  3. data: MLQA-R, an -R folder or your own pair files, split by article or group (`jaxir.data.pairs`,
     `jaxir.data.own_pairs`), hybrid batches (`jaxir.data.hybrid`)
     through tf.data (`jaxir.data.pipeline`); the batch of step t is a pure function of (seed, t)
  4. mesh and sharded state (`jaxir.train.mesh`, `state`); the jitted step (`jaxir.train.step`)
  5. resume: orbax restores the state and the next step; the input restarts at that step
  6. loop: log (JSONL), checkpoint, dev evaluation on the dev split (`pairs.evaluate_dev`); SIGTERM (a TPU VM's
     preemption notice, `kill`, a scheduler) stops it at the next step with a checkpoint of that step
  7. end: final checkpoint, dev evaluation, exported Hugging Face directory, `run.json`
"""
import functools
import json
import math
import os
import signal
import sys
import threading
import time

import numpy as np

from jaxir import config as config_lib
from jaxir import storage
from jaxir.data import hybrid
from jaxir.data import packed
from jaxir.data import pipeline
from jaxir.errors import JaxirError, Stopped, some

ARRAYS = pipeline.PADDED + packed.KEYS
# Peak dense bf16 FLOP/s per device, for the utilisation estimate (None: unknown, e.g. CPU).
PEAK_FLOPS = {"TPU v4": 275e12, "TPU v5 lite": 197e12, "TPU v5e": 197e12, "TPU v5p": 459e12, "TPU v6 lite": 918e12,
              "NVIDIA H100": 989e12, "NVIDIA H200": 989e12, "NVIDIA A100": 312e12}


COORDINATOR_TIMEOUT = 300    # seconds a process waits for the coordinator and its peers ($JAXIR_COORDINATOR_TIMEOUT)


def _env_number(name, value, low, high=None, integer=True):
  x = config_lib.parse_number(value)
  if x is None or not math.isfinite(x) or (integer and not x.is_integer()) or x < low or (high is not None and x > high):
    what = "an integer" if integer else "a number"
    where = f"in [{low}, {high}]" if high is not None else f"at least {low}"
    raise JaxirError(f"{name} must be {what} {where}, got {value!r}")
  return int(x) if integer else x


def distributed_env(environ=None):
  """(address, host, port, num_processes, process_id, timeout) of `JAXIR_COORDINATOR=host:port`,
  `JAXIR_NUM_PROCESSES`, `JAXIR_PROCESS_ID` and `JAXIR_COORDINATOR_TIMEOUT` (seconds), each checked;
  None when JAXIR_COORDINATOR is unset."""
  env = os.environ if environ is None else environ
  address = env.get("JAXIR_COORDINATOR", "").strip()
  if not address:
    stray = [k for k in ("JAXIR_NUM_PROCESSES", "JAXIR_PROCESS_ID") if env.get(k)]
    if stray and not env.get("JAXIR_DISTRIBUTED"):
      raise JaxirError(f"{' and '.join(stray)} set without JAXIR_COORDINATOR=host:port (the address of process 0)")
    return None
  host, _, port = address.rpartition(":")
  host = host.strip("[]")        # [::1]:1234
  if not host or not port:
    raise JaxirError(f"JAXIR_COORDINATOR must be host:port (the address of process 0), got {address!r}")
  port = _env_number("the port of JAXIR_COORDINATOR", port, 1, 65535)
  for k in ("JAXIR_NUM_PROCESSES", "JAXIR_PROCESS_ID"):
    if not env.get(k, "").strip():
      raise JaxirError(f"JAXIR_COORDINATOR is set, so {k} must be too")
  n = _env_number("JAXIR_NUM_PROCESSES", env["JAXIR_NUM_PROCESSES"], 1)
  i = _env_number("JAXIR_PROCESS_ID", env["JAXIR_PROCESS_ID"], 0, n - 1)
  timeout = env.get("JAXIR_COORDINATOR_TIMEOUT", "").strip()
  timeout = math.ceil(_env_number("JAXIR_COORDINATOR_TIMEOUT", timeout, 1e-3, integer=False)) if timeout else COORDINATOR_TIMEOUT
  return address, host, port, n, i, timeout


def _wait_for_coordinator(address, host, port, process_id, timeout):
  """Process 0: checks the coordinator's port is free here. The others: waits up to `timeout` seconds
  for process 0 to listen (JAX's own wait ends the process with a fatal error, not an exception)."""
  import socket
  if process_id == 0:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
      s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
      try:
        s.bind(("", port))
      except OSError as e:
        raise JaxirError(f"process 0 cannot start the coordinator {address}: port {port} is taken here ({e.strerror})") from None
    return
  deadline = time.monotonic() + timeout
  while True:
    try:
      with socket.create_connection((host, port), timeout=max(0.1, min(2.0, deadline - time.monotonic()))):
        return
    except socket.gaierror as e:
      raise JaxirError(f"JAXIR_COORDINATOR {address}: unknown host {host!r} ({e.strerror})") from None
    except OSError:
      if time.monotonic() >= deadline:
        raise JaxirError(f"no coordinator answered at {address} within {timeout} s; start process 0 there, check "
                         "JAXIR_COORDINATOR, or wait longer with JAXIR_COORDINATOR_TIMEOUT=SECONDS") from None
      time.sleep(0.25)


def maybe_initialize_distributed():
  """jax.distributed.initialize() for multi-host runs: TPU pods (`JAXIR_DISTRIBUTED=1`, addresses from
  the environment) or explicit local processes (`JAXIR_COORDINATOR=host:port`, `JAXIR_NUM_PROCESSES`,
  `JAXIR_PROCESS_ID`, and `JAXIR_COORDINATOR_TIMEOUT` seconds, default 300, to wait for the others).
  Must run before any other JAX call."""
  env = distributed_env()
  import jax
  if env:
    address, host, port, n, i, timeout = env
    print(f"waiting for coordinator {address} (process {i} of {n})…", file=sys.stderr, flush=True)
    _wait_for_coordinator(address, host, port, i, timeout)
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    try:
      jax.distributed.initialize(coordinator_address=address, num_processes=n, process_id=i,
                                 initialization_timeout=timeout)
    except (RuntimeError, ValueError) as e:
      first = (str(e).strip().splitlines() or [type(e).__name__])[0]
      raise JaxirError(f"could not join the coordinator {address} as process {i} of {n}: {first}") from None
  elif os.environ.get("JAXIR_DISTRIBUTED"):
    jax.distributed.initialize()


def _prepare_run_dir(cfg):
  """Creates or reopens the run directory (local, or a gs:// URI as an etils.epath.Path); returns (path, finished)."""
  out = storage.as_path(cfg.out_dir)
  resolved = config_lib.to_dict(cfg)
  cfg_file = out / "config.json"
  if cfg_file.exists():
    old = storage.read_json(cfg_file, "run config")
    changed = config_lib.differing(old, json.loads(json.dumps(resolved)))
    if changed:
      raise JaxirError(f"{out} holds a run with another config (differs in {', '.join(changed[:5])});"
                       " use another out_dir or the same config to resume")
    return out, _finished(out)
  if out.exists() and any(out.iterdir()):
    raise JaxirError(f"{out} exists and is not a jaxir run directory; choose another out_dir")
  out.mkdir(parents=True, exist_ok=True)
  storage.write_json(cfg_file, resolved)
  return out, False


def _finished(out):
  """Whether the run in `out` is finished: its run.json is a whole record. On gs:// an upload cut short can
  leave an empty object (tf.io.gfile closes it on an error); such a run is not finished and resumes, which
  redoes only the end (final checkpoint, export, run.json)."""
  f = out / "run.json"
  if not f.exists():
    return False
  try:
    record = storage.read_json(f, "run record")
  except (JaxirError, ValueError):
    return False
  return isinstance(record, dict) and "steps" in record


def _shared_run_dir(cfg, jax):
  """`_prepare_run_dir` for one run directory shared by every process (a pod's gs:// or NFS directory):
  process 0 creates or checks it, then the others check it against their own config."""
  if jax.process_count() == 1:
    return _prepare_run_dir(cfg)
  from jax.experimental import multihost_utils
  first = _prepare_run_dir(cfg) if jax.process_index() == 0 else None
  multihost_utils.sync_global_devices("jaxir: run directory ready")
  return first or _prepare_run_dir(cfg)


class _NoLog:
  """The log of processes other than 0."""
  kept, dropped = [], 0

  def write(self, record):
    pass

  def close(self):
    pass


def _peak_flops(jax):
  kind = jax.devices()[0].device_kind
  peak = next((v for k, v in PEAK_FLOPS.items() if kind.startswith(k)), None)
  return None if peak is None else peak * jax.device_count()


class _Window:
  """Metrics of the steps since the last log line, the kinds of batch (x_x_mono, x_y, mixed) apart.

  A step's metrics stay on the device (jitted steps run ahead of the host) until `fetch`, which the
  loop calls at log steps, before every checkpoint, dev evaluation or export, and at the end: one
  `device_get` for all the steps not yet fetched, no host sync per step. `fetch` checks those steps in
  order, so the first one with a non-finite metric is named exactly, before any state after it is saved."""

  def __init__(self):
    self.reset()

  def reset(self):
    self.steps, self.metrics, self.info, self.fetched = [], [], [], 0
    self.pairs, self.tokens, self.t0 = 0, 0, time.perf_counter()

  def add(self, step, metrics, batch_info, pairs, tokens):
    """`metrics` of step `step` (1-based), as the device arrays the train step returned."""
    self.steps.append(step)
    self.metrics.append(metrics)
    self.info.append(batch_info)
    self.pairs += pairs
    self.tokens += tokens

  def fetch(self):
    """Brings the metrics not yet fetched to the host; (step, 'loss nan, ...') of the first step with a
    non-finite metric, else None."""
    import jax
    new = slice(self.fetched, len(self.metrics))
    host = jax.device_get(self.metrics[new])
    for i, m in enumerate(host, start=self.fetched):
      self.metrics[i] = m = {k: float(v) for k, v in m.items()}
      bad = [f"{k} {v}" for k, v in m.items() if not math.isfinite(v)]
      if bad:
        self.fetched = i
        return self.steps[i], some(bad)
    self.fetched = len(self.metrics)
    return None

  def summary(self, flops_per_token, peak):
    """Averages of the fetched window (call `fetch` first)."""
    assert self.fetched == len(self.metrics) > 0, "fetch the window before summarising it"
    dt = max(time.perf_counter() - self.t0, 1e-9)
    rows = [{**m, **b} for m, b in zip(self.metrics, self.info)]
    out = {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if k not in ("kind",)}
    for kind, name in enumerate(hybrid.KINDS):
      losses = [r["loss"] for r in rows if r["kind"] == kind]
      out[f"loss_{name}"] = float(np.mean(losses)) if losses else None
    out["x_x_mono_batches"] = sum(r["kind"] == hybrid.KINDS.index("x_x_mono") for r in rows) / len(rows)
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
                    pretrained.path, pretrained.kept_tensors)


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

  run = storage.as_path(run_dir)
  cfg = config_lib.from_dict(storage.read_json(run / "config.json", "run config"))
  ckpt = Checkpoints(_checkpoints_dir(run), keep=cfg.keep_checkpoints)
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
  train_langs = (storage.read_json(run / "run.json", "run") if (run / "run.json").exists() else {}).get("train_langs")
  return _with_params(pretrained, _host_params(state.params, mesh, jax), train_langs=train_langs,
                      source=f"jaxir train {run} step {step}")


def _checkpoints_dir(run):
  """The run's checkpoint directory as orbax takes it: absolute when local; a gs:// one is passed through
  (orbax writes it with tensorstore's gcs driver and marks each finished step with commit_success.txt)."""
  return run / "checkpoints" if storage.is_cloud(run) else (run / "checkpoints").absolute()


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


class _StopSignal:
  """SIGTERM while training: the loop finishes the step it is in, saves a checkpoint and stops (`Stopped`), so a
  preempted or killed run loses no step. One process: a handler notes the signal. Several (a pod): JAX's
  preemption service notes it (jax.distributed installs it) and `reached_preemption_sync_point` makes every
  process stop at the same step, as orbax's and MaxText's preemption checkpoints do."""

  def __init__(self, jax):
    from jax._src import distributed
    from jax.experimental import multihost_utils
    self.several = jax.process_count() > 1
    self.synced = self.several and getattr(distributed.global_state, "preemption_sync_manager", None) is not None
    self.sync_point = multihost_utils.reached_preemption_sync_point
    self.noted = self.installed = False
    if not self.several and threading.current_thread() is threading.main_thread():
      self.previous, self.installed = signal.signal(signal.SIGTERM, self._note), True

  def _note(self, signum, frame):
    self.noted = True

  def reached(self, step):
    if self.several:        # without the preemption service (jax_enable_preemption_service off): as before
      return self.synced and self.sync_point(step)
    return self.noted

  def close(self):
    if self.installed:     # None: a handler set outside Python, which Python cannot put back
      signal.signal(signal.SIGTERM, signal.SIG_DFL if self.previous is None else self.previous)
      self.installed = False


def _reached(record, start, last):
  """Whether a log record belongs to the history of a state restored at step `start`: not the steps
  after it, nor the final dev evaluation when resuming at the last step (both are run and logged again)."""
  step = record.get("step")
  return step is None or step < start or (step == start and not (record.get("event") == "dev" and step == last))


@functools.lru_cache(maxsize=None)
def _finite_fn():
  import jax
  import jax.numpy as jnp
  return jax.jit(lambda leaves: jnp.all(jnp.stack([jnp.isfinite(x).all() for x in leaves] or [jnp.bool_(True)])))


def _finite(tree):
  """Whether every float of a (sharded) pytree is finite: one jitted reduction, a boolean comes back."""
  import jax
  import jax.numpy as jnp
  return bool(_finite_fn()([x for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.inexact)]))


def _real_tokens(arrays):
  """Tokens of this host's batch that are not padding."""
  if "packed_segments" in arrays:
    return int(np.count_nonzero(arrays["packed_segments"]))
  return int(sum(np.sum(arrays[k]) for k in arrays if k.endswith("_mask")))


def load_checked(cfg, data=None):
  """The PairData of `cfg` (or `data`, already loaded for its DataConfig) once every setting that
  needs the data or the devices is checked: what `train` checks before its run directory exists."""
  import jax
  from jaxir.data import pairs
  from jaxir.train import mesh as mesh_lib
  config_lib.validate(cfg)
  data = data or pairs.load_pairs(cfg.data)
  hybrid.check(data.train, cfg.batch, jax.process_count())
  devices = mesh_lib.make_mesh(cfg.mesh).shape["data"]
  if cfg.batch.batch_size % devices:
    raise JaxirError(f"batch.batch_size={cfg.batch.batch_size} is not divisible by the {devices} devices of the data axis")
  chunk = cfg.loss.grad_cache_chunk
  if chunk and chunk % devices:
    raise JaxirError(f"loss.grad_cache_chunk={chunk} must be a multiple of the {devices} devices of the data axis")
  return data


def check_model(cfg, config):
  """Raises one JaxirError when the sequence lengths of `cfg` exceed the position table of the model `config`."""
  for key in ("max_query_length", "max_passage_length"):
    n = getattr(cfg.data, key)
    if n > config.max_length:
      raise JaxirError(f"data.{key}={n} exceeds the {config.max_length} positions of {cfg.model.name}")


def train(cfg, progress=True):
  """Trains (or resumes) the run `cfg.out_dir`; returns its directory."""
  import jax
  from jaxir.data import pairs
  from jaxir.model.hf_io import effective_prompts
  from jaxir.train import mesh as mesh_lib
  from jaxir.train import state as state_lib
  from jaxir.train import step as step_lib
  from jaxir.train.checkpoint import Checkpoints
  from jaxir.train.log import JsonlLog, encoder_flops_per_token

  # Check everything that can fail on bad input before the run directory exists.
  storage.as_path(cfg.out_dir)           # a local path or gs://bucket/path
  data = load_checked(cfg)
  mesh = mesh_lib.make_mesh(cfg.mesh)
  pretrained = _load_model(cfg)
  check_model(cfg, pretrained.config)
  out, finished = _shared_run_dir(cfg, jax)
  if finished:
    print(f"train: {out} is already finished (run.json)", file=sys.stderr)
    return out

  encoder = pretrained.encoder(step_lib.compute_dtype(cfg.model.dtype))
  langs = data.train.all_langs
  ckpt = Checkpoints(_checkpoints_dir(out), keep=cfg.keep_checkpoints)
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
                                  row_multiple=mesh_lib.local_data_shards(mesh) * config_lib.grad_cache_chunks(cfg))
  log = JsonlLog(out / "log.jsonl", echo=progress, keep=lambda r: _reached(r, start, cfg.steps)) \
      if jax.process_index() == 0 else _NoLog()        # one run directory for all processes: process 0 logs
  if start or log.kept:
    log.write({"event": "resume", "step": start, "dropped_records": log.dropped})
  else:
    log.write({"event": "start", "pairs_train": {"mono": sum(len(data.train.mono_pairs(l)) for l in langs),
                                                "cross": len(data.train.cross_pairs())},
               "devices": jax.device_count(), "processes": jax.process_count(), "backend": jax.default_backend(),
               "batch_type": cfg.batch.batch_type, "alpha": cfg.batch.alpha, "train_langs": langs,
               **({"bad_rows": data.source_info["bad_rows"]} if data.source_info else {})})
  mean_len = cfg.data.max_passage_length
  peak = _peak_flops(jax)
  window = _Window()

  def stop(step, why):
    """A non-finite loss, gradient or state: nothing more is saved, exported or recorded as finished."""
    last = ckpt.latest_step()
    log.write({"event": "diverged", "step": step, "why": why, "last_checkpoint": last})
    ckpt.close()
    log.close()
    kept = f"{out / 'checkpoints'} keeps the last good checkpoint, step {last}" if last is not None else "no checkpoint was saved"
    raise JaxirError(f"{out}: training diverged at step {step} of {cfg.steps} ({why}); stopped there: {kept}, "
                     "nothing exported, no run.json (lower optim.learning_rate, or check the model's weights for NaN)")

  def check_state(step):
    """Before the state is saved, evaluated or exported: stop if any of its floats is NaN or inf."""
    if not _finite(state):
      stop(step, "the parameters or optimizer state are not finite")

  def dev_eval(step):
    model = _with_params(pretrained, _host_params(state.params, mesh, jax))
    summary, _ = pairs.evaluate_dev(model, data, train_langs=langs)
    record = {"event": "dev", "step": step, **{k: summary[k] for k in ("Mo", "Cr", "Mul", "RD")}}
    log.write(record)
    return summary

  def check_metrics():
    """Fetches the window's metrics (the only host sync of the loop): stop at the first non-finite step."""
    bad = window.fetch()
    if bad:
      stop(*bad)

  step = start
  stop_signal = _StopSignal(jax)
  try:
    for batch in batches:
      step = int(batch["step"])
      arrays = {k: batch[k] for k in ARRAYS if k in batch}
      state, metrics = train_step(state, mesh_lib.host_batch_to_global(arrays, mesh))
      n_tokens = _real_tokens(arrays) * jax.process_count()
      done = step + 1
      window.add(done, metrics, {"kind": int(batch["kind"]), "mono_share": float(batch["mono_share"]),
                                 "skipped": int(batch["skipped"])}, cfg.batch.batch_size, n_tokens)
      log_now = done % cfg.log_every == 0 or done == cfg.steps
      save_now = done % cfg.checkpoint_every == 0 and done < cfg.steps
      eval_now = cfg.eval_every and done % cfg.eval_every == 0 and done < cfg.steps
      if log_now or save_now or eval_now:
        check_metrics()
      if log_now:
        flops = encoder_flops_per_token(pretrained.config, mean_len)
        log.write({"event": "train", "step": done, "alpha": cfg.batch.alpha, **window.summary(flops, peak)})
        window.reset()
      if save_now:
        check_state(done)
        ckpt.save(done, state, {"next_step": done})
      if eval_now:
        check_state(done)
        dev_eval(done)
      if stop_signal.reached(done) and done < cfg.steps:
        check_metrics()
        check_state(done)
        if not save_now:
          ckpt.save(done, state, {"next_step": done})
        ckpt.wait()
        log.write({"event": "stopped", "step": done, "why": "SIGTERM"})
        ckpt.close()
        log.close()
        raise Stopped(f"stopped by SIGTERM at step {done} of {cfg.steps}, after saving a checkpoint of that step "
                      f"in {out / 'checkpoints'}")
  finally:
    stop_signal.close()
  check_metrics()
  check_state(cfg.steps)
  if ckpt.latest_step() != cfg.steps:
    ckpt.save(cfg.steps, state, {"next_step": cfg.steps})
  ckpt.wait()
  dev = dev_eval(cfg.steps) if cfg.eval_every else None
  if cfg.export:
    from jaxir.model.hf_io import save_pretrained
    tuned = _with_params(pretrained, _host_params(state.params, mesh, jax), train_langs=list(langs),
                         source=f"jaxir train {cfg.out_dir} from {cfg.model.name}")
    if jax.process_index() == 0:
      save_pretrained(tuned, out / "export", train_config=storage.read_json(out / "config.json", "run config"))
  if jax.process_index() == 0:
    storage.write_json(out / "run.json", {"steps": cfg.steps, "train_langs": langs,
                                     "export": str(out / "export") if cfg.export else None,
                                     "dev": None if dev is None else {k: dev[k] for k in ("Mo", "Cr", "Mul", "RD")}})
  ckpt.close()
  log.close()
  return out

"""`jaxir launch TPU --zone ZONE train|sweep [--config CFG] [KEY=VALUE ...]`: one jaxir per TPU VM worker.

In order (each a `gcloud compute tpus tpu-vm` command on `--worker=all`; `--dry-run` prints them):
  1. stage: this checkout (tracked and untracked, not ignored, files) to `~/jaxir` on every worker by
     `scp --recurse`; a local data root (`data.data_dir`, default $JAXIR_DATA / ../shared/data), a local
     `data.path` and a local model directory (`model.name`) to `~/jaxir-stage/<name>`; a `gs://` data
     root or model is copied there by `gcloud storage rsync` on each worker (jaxir reads data and models
     from local files only). The staged paths are passed as overrides relative to `~/jaxir`, so the
     resolved config (and config.json) is the same on every worker.
  2. `--setup`: pip installs the staged checkout and jax[tpu] on every worker.
  3. run: `cd jaxir && JAXIR_DISTRIBUTED=1 jaxir train --config CFG KEY=VALUE ...` on every worker, each
     argument quoted (`shlex.quote`): an override reaches jaxir verbatim. Every worker opens ONE run
     directory, `out_dir`: a `gs://bucket/path` (process 0 writes it through etils.epath, orbax writes the
     checkpoints with every process; see jaxir/storage.py) or the absolute path of a filesystem every
     worker mounts (`--shared-fs`: NFS, Filestore, gcsfuse).
     `sweep`: one `jaxir sweep` per worker (no JAXIR_DISTRIBUTED), each training whole cells on its own
     chips; the workers share the cells through the sweep's cell locks: files on the shared filesystem
     (`--shared-fs`), or objects in a gs:// sweep directory (google-cloud-storage, which `--setup` installs).
     `--compile-cache DIR` (a gs:// path, or with `--shared-fs` an absolute shared path): every worker's
     JAX persistent compilation cache is that one directory (JAX_COMPILATION_CACHE_DIR on the command).
     JAX writes cache entries from process 0 only, so with each worker's own cache (the default) a
     relaunched multi-worker run still compiles on every worker but the first; with one shared cache
     every worker loads what process 0 compiled.
A killed launch is resumed by running it again: the run directory holds the checkpoints.
"""
import argparse
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from jaxir.errors import JaxirError

ROOT = Path(__file__).resolve().parents[1]     # the checkout that is staged
REMOTE = "jaxir"                               # the checkout on each worker, relative to its home
STAGE = "jaxir-stage"                          # staged data and models, beside it
CHECKOUT = "{checkout}"                        # the local copy of the checkout, made when the plan runs
SETUP = "pip install -r requirements.txt -e . && pip install -U 'jax[tpu]==0.10.2' google-cloud-storage"  # orbax on gs://


def is_uri(path):
  return "://" in str(path)


def _gcloud(verb, tpu, zone, project, *args):
  head = ["gcloud", "compute", "tpus", "tpu-vm", verb] + ([tpu] if verb == "ssh" else [])
  return head + list(args) + ["--zone", zone, "--worker=all"] + (["--project", project] if project else [])


def _ssh(tpu, zone, project, command):
  return _gcloud("ssh", tpu, zone, project, "--command", command)


def _scp(tpu, zone, project, src, dest):
  return _gcloud("scp", tpu, zone, project, "--recurse", str(src), f"{tpu}:{dest}")


class _Stager:
  """Collects what to stage; `override(value)` gives the path a worker passes jaxir for a local or gs:// one."""

  def __init__(self, tpu, zone, project):
    self.where, self.scp, self.rsync, self.names = (tpu, zone, project), [], [], {}

  def override(self, value, what):
    if value is None or (not is_uri(value) and not Path(value).expanduser().exists()):
      return None
    key = str(value)
    if key not in self.names:
      name = Path(key.rstrip("/").split("://")[-1]).name or what
      while name in self.names.values():
        name = f"{name}-{len(self.names)}"
      self.names[key] = name
      if is_uri(key):
        if not key.startswith("gs://"):
          raise JaxirError(f"{what} {key}: only gs:// URIs are staged (gcloud storage rsync)")
        dest = shlex.quote(f"{STAGE}/{name}")
        self.rsync.append(f"mkdir -p {dest} && gcloud storage rsync --recursive {shlex.quote(key)} {dest}")
      else:
        self.scp.append(Path(key).expanduser().absolute())
    return f"../{STAGE}/{self.names[key]}"

  def commands(self):
    tpu, zone, project = self.where
    out = [_ssh(tpu, zone, project, f"mkdir -p {STAGE}")] if self.scp or self.rsync else []
    out += [_scp(tpu, zone, project, src, f"{STAGE}/") for src in self.scp]
    out += [_ssh(tpu, zone, project, cmd) for cmd in self.rsync]
    return out


def _remote_config(config, stager):
  """The --config a worker passes: the same file inside the staged checkout, else staged beside it."""
  if config is None:
    return None
  path = Path(config).expanduser().absolute()
  if not path.is_file():
    raise JaxirError(f"config not found: {config}")
  try:
    return str(path.relative_to(ROOT))
  except ValueError:
    return stager.override(path, "config")


def _cache_env(cache, shared_fs):
  """The environment prefix that points every worker's JAX compilation cache at `cache` (None: none). The
  entries of the encoder's small shapes are cached too (no minimum compile time), as `jaxir train`'s own
  cache does; a shared filesystem gets `jaxir train`'s size limit, under which JAX file-locks every read and
  write (without a limit it writes entries in place, unlocked). A gs:// cache has no limit and no lock (JAX's
  file lock cannot lock an object): each entry is written as one object, which GCS shows only whole."""
  if cache is None:
    return ""
  if is_uri(cache):
    if not str(cache).startswith("gs://"):
      raise JaxirError(f"--compile-cache {cache}: give a gs:// path or, with --shared-fs, a shared directory")
  elif not shared_fs or not Path(cache).is_absolute():
    raise JaxirError(f"--compile-cache {cache} would be a different directory on every worker: use a gs://bucket/path,"
                     " or the absolute path of a filesystem every worker mounts with --shared-fs")
  from jaxir.backends import CACHE_MAX_BYTES
  env = {"JAX_COMPILATION_CACHE_DIR": str(cache), "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"}
  env["JAX_COMPILATION_CACHE_MAX_SIZE"] = "-1" if is_uri(cache) else str(CACHE_MAX_BYTES)  # -1: no limit, no lock
  return "".join(f"{k}={shlex.quote(v)} " for k, v in env.items())


def plan(tpu, zone, command, config=None, overrides=(), *, project=None, setup=False, stage=True, shared_fs=False,
         compile_cache=None):
  """The gcloud commands (argv lists) that launch `jaxir COMMAND --config CONFIG OVERRIDES` on every worker
  of `tpu`; CHECKOUT in them stands for the local copy of the checkout. JaxirError, one line, for a
  config, output or staged path no worker could use. `compile_cache`: one JAX compilation cache directory
  for all workers (gs://, or a shared path with `shared_fs`); None leaves each worker its own."""
  from jaxir import api
  overrides = list(overrides)
  stager = _Stager(tpu, zone, project)
  extra = []
  if command == "train":
    cfg = api.train_config(config, overrides)
    out = cfg.out_dir
    if stage:
      from jaxir.data.sources import data_root
      data = cfg.data.data_dir if is_uri(cfg.data.data_dir) else data_root(cfg.data.data_dir)
      extra += [f"data.data_dir={stager.override(data, 'data.data_dir')}"]
      if cfg.data.path is not None and (remote := stager.override(cfg.data.path, "data.path")):
        extra += [f"data.path={remote}"]
      if remote := stager.override(cfg.model.name, "model.name"):
        extra += [f"model.name={remote}"]
    prefix = "JAXIR_DISTRIBUTED=1 "
  elif command == "sweep":
    spec = api.sweep_spec(config, overrides)
    out = spec.out_dir
    if stage:
      from jaxir.data.sources import data_root
      data = spec.train.data.data_dir
      data = data if is_uri(data) else data_root(data)
      extra += [f"train.data.data_dir={stager.override(data, 'train.data.data_dir')}"]
    prefix = ""
  else:
    raise JaxirError(f"jaxir launch runs train or sweep, not {command!r}")
  if is_uri(out):
    from jaxir import storage
    storage.as_path(out)                                   # gs:// only: every worker opens the same bucket path
  elif not shared_fs:
    raise JaxirError(f"out_dir {out} would be a different directory on every worker: use a gs://bucket/path, or put"
                     " it on a filesystem every worker mounts and pass --shared-fs")
  elif not Path(out).is_absolute():
    raise JaxirError(f"out_dir {out} is relative to each worker's checkout; with --shared-fs give the absolute"
                     " path of the shared directory")
  prefix = _cache_env(compile_cache, shared_fs) + prefix
  remote_config = _remote_config(config, stager)
  staged = {e.split("=", 1)[0] for e in extra}          # the worker's paths replace the local ones
  overrides = [o for o in overrides if o.split("=", 1)[0].strip() not in staged]
  args = ["jaxir", command] + (["--config", remote_config] if remote_config else []) + overrides + extra
  cmds = []
  if stage:
    cmds.append(_scp(tpu, zone, project, CHECKOUT, ""))    # `TPU:` is the home directory
    cmds += stager.commands()
  if setup:
    cmds.append(_ssh(tpu, zone, project, f"cd {REMOTE} && {SETUP}"))
  cmds.append(_ssh(tpu, zone, project, f"cd {REMOTE} && {prefix}{shlex.join(args)}"))
  return cmds


def copy_checkout(dest, root=ROOT):
  """Copies the checkout's tracked and untracked, not ignored, files to `dest` (as `git ls-files` lists them)."""
  try:
    listed = subprocess.run(["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=root, check=True,
                            capture_output=True).stdout
  except (OSError, subprocess.CalledProcessError):
    raise JaxirError(f"{root} is not a git checkout: jaxir launch stages the checkout it runs from") from None
  for name in filter(None, listed.decode().split("\0")):
    src = root / name
    if src.is_file():
      (dest / name).parent.mkdir(parents=True, exist_ok=True)
      shutil.copy2(src, dest / name)
  return dest


def run(cmds, dry_run=False):
  """Runs (or prints) `cmds` in order; the first that fails raises JaxirError (rerun to resume)."""
  if dry_run:
    for cmd in cmds:
      print(shlex.join(cmd))
    return
  with tempfile.TemporaryDirectory(prefix="jaxir-launch-") as tmp:
    checkout = None
    for cmd in cmds:
      if CHECKOUT in cmd:
        checkout = checkout or copy_checkout(Path(tmp) / REMOTE)
        cmd = [str(checkout) if c == CHECKOUT else c for c in cmd]
      print(f"launch: {shlex.join(cmd)}", file=sys.stderr, flush=True)
      try:
        rc = subprocess.run(cmd).returncode
      except FileNotFoundError:
        raise JaxirError("gcloud not found: install the Google Cloud SDK (https://cloud.google.com/sdk)") from None
      if rc:
        raise JaxirError(f"{shlex.join(cmd[:6])} ... failed (exit {rc}); rerun the same launch to resume")


def register(sub):
  p = sub.add_parser("launch", help="stage this checkout, data and model on every TPU VM worker and run jaxir there")
  p.add_argument("tpu", metavar="TPU", help="the TPU VM (pod slice) name")
  p.add_argument("--zone", required=True)
  p.add_argument("--project")
  p.add_argument("--setup", action="store_true", help="also pip install the checkout and jax[tpu] on every worker")
  p.add_argument("--no-stage", dest="stage", action="store_false", help="the workers already hold this checkout,"
                 " data and model (same paths as the last launch)")
  p.add_argument("--shared-fs", action="store_true", help="out_dir is on a filesystem every worker mounts"
                 " (not needed for a gs:// out_dir)")
  p.add_argument("--compile-cache", metavar="DIR", help="one JAX compilation cache for all workers (gs://bucket/path,"
                 " or a shared path with --shared-fs): a relaunch loads the steps process 0 compiled on every worker")
  p.add_argument("--dry-run", action="store_true", help="print the gcloud commands, run nothing")
  p.add_argument("what", choices=("train", "sweep"), metavar="train|sweep")
  p.add_argument("rest", nargs=argparse.REMAINDER, metavar="[--config CFG] [KEY=VALUE ...]",
                 help="the config and overrides, as for `jaxir train` / `jaxir sweep`")
  p.set_defaults(func=_run)


def _run(args):
  inner = argparse.ArgumentParser(prog=f"jaxir launch TPU {args.what}")
  inner.add_argument("--config")
  inner.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
  rest = inner.parse_intermixed_args(args.rest)
  cmds = plan(args.tpu, args.zone, args.what, rest.config, rest.overrides, project=args.project,
              setup=args.setup, stage=args.stage, shared_fs=args.shared_fs, compile_cache=args.compile_cache)
  run(cmds, args.dry_run)

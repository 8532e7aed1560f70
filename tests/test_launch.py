"""`jaxir launch` end to end on a simulated TPU pod: a fake `gcloud` on PATH runs `scp --worker=all` as
copies into per-worker home directories and `ssh --worker=all` as one local process per worker (JAX on
the CPU, the coordinator on localhost); the workers share one gs:// run directory in a fake bucket
(tests/fake_gcs.py). Also: the dry run, bad input."""
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from conftest import DATA, steps_logged, tiny_model
from jaxir import cli, launch

ROOT = Path(__file__).resolve().parents[1]
WORKERS = 2

FAKE_GCLOUD = r'''
"""A TPU pod of local processes: `gcloud compute tpus tpu-vm scp|ssh ... --worker=all`."""
import os, shutil, signal, socket, subprocess, sys, time
from pathlib import Path

args = sys.argv[1:]
assert args[:4] == ["compute", "tpus", "tpu-vm"] + args[3:4] and args[3] in ("scp", "ssh"), args
assert "--worker=all" in args and "--zone" in args, args
pod, n = Path(os.environ["FAKE_POD"]), int(os.environ["FAKE_WORKERS"])
homes = [pod / f"worker{i}" for i in range(n)]
for h in homes:
  h.mkdir(parents=True, exist_ok=True)
with open(pod / "gcloud.log", "a") as f:
  f.write(repr(args) + "\n")
rest, command, i = [], None, 4
while i < len(args):
  a = args[i]
  if a in ("--zone", "--project", "--command"):
    command = args[i + 1] if a == "--command" else command
    i += 2
    continue
  if not a.startswith("--"):
    rest.append(a)
  i += 1
if args[3] == "scp":
  *srcs, dest = rest
  for h in homes:
    target = h / dest.split(":", 1)[1]
    for src in map(Path, srcs):
      to = target / src.name if target.is_dir() else target
      if src.is_dir():
        shutil.copytree(src, to, dirs_exist_ok=True)
      else:
        shutil.copy(src, to)
  sys.exit(0)
with socket.socket() as s:
  s.bind(("localhost", 0))
  port = s.getsockname()[1]
shim = pod / "bin"
shim.mkdir(exist_ok=True)
body = os.environ.get("FAKE_JAXIR") or f'exec {sys.executable} -m jaxir.cli "$@"'
(shim / "jaxir").write_text(f"#!/bin/sh\n{body}\n")
(shim / "jaxir").chmod(0o755)
procs = []
for i, h in enumerate(homes):
  env = {**os.environ, "HOME": str(h), "PYTHONPATH": str(h / "jaxir"), "PATH": f"{shim}:{os.environ['PATH']}",
         "JAX_PLATFORMS": "cpu", "JAXIR_COORDINATOR": f"localhost:{port}", "JAXIR_NUM_PROCESSES": str(n),
         "JAXIR_PROCESS_ID": str(i), "JAXIR_COORDINATOR_TIMEOUT": "60"}
  procs.append(subprocess.Popen(["bash", "-c", command], cwd=h, env=env))
while any(p.poll() is None for p in procs):
  if any(p.returncode for p in procs):           # a worker failed: the others would wait for it forever
    time.sleep(5)
    for p in procs:
      if p.poll() is None:
        p.kill()
  time.sleep(0.05)
sys.exit(max(abs(p.returncode) for p in procs))
'''


@pytest.fixture(scope="module")
def model(tmp_path_factory):
  return tiny_model(tmp_path_factory.mktemp("m") / "tiny", 0)


@pytest.fixture()
def pod(tmp_path):
  """(environment with the fake gcloud first on PATH, the pod's folder)."""
  bin_dir, pod = tmp_path / "bin", tmp_path / "pod"
  bin_dir.mkdir()
  pod.mkdir()
  gcloud = bin_dir / "gcloud"
  gcloud.write_text(f"#!{sys.executable}\n{FAKE_GCLOUD}")
  gcloud.chmod(0o755)
  env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_POD": str(pod), "FAKE_WORKERS": str(WORKERS),
         "PYTHONPATH": str(ROOT)}
  return env, pod


STEPS, EVERY = 12, 3
HIT_STEP = "Persistent compilation cache hit for 'jit_train_step'"


def _overrides(model, data, out):
  args = {"out_dir": out, "model.name": model, "data.data_dir": data, "data.langs": "[de,en]", "steps": STEPS,
          "log_every": 1, "checkpoint_every": EVERY, "model.dropout": "false", "eval_every": 0, "batch.batch_size": 8, "batch.alpha": 0.5,
          "optim.warmup_steps": 2, "data.max_passage_length": 64, "data.max_query_length": 32}
  return [f"{k}={v}" for k, v in args.items()]


def _launch(env, overrides, *extra, log):
  """The launcher, its output (and the workers') to the file `log`: a pipe nobody reads until the end would
  fill and stall the workers."""
  cmd = [sys.executable, "-m", "jaxir.cli", "launch", "pod1", "--zone", "z", *extra, "train", *overrides]
  with open(log, "w") as f:
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)


def test_pod_launch_killed_resumes_and_equals_one_process(model, pod, tmp_path):
  """The pod's one run directory is gs://bucket/pod-run: every worker runs jaxir on the same fake bucket. The
  workers share one compilation cache, gs://bucket/xla (--compile-cache), and each has its own home (its own
  ~/.cache): process 0 writes the train step there, and the relaunch loads it from there. JAX_LOG_COMPILES
  makes JAX log each persistent-cache hit."""
  env, pod_dir = pod
  env = {**env, "FAKE_GCS_ROOT": str(tmp_path / "gcs"), "FAKE_JAXIR": f'exec {sys.executable} tests/fake_gcs.py "$@"',
         "JAX_LOG_COMPILES": "1"}
  data = tmp_path / "data"
  data.mkdir()
  (data / "mlqa-r").symlink_to(DATA / "mlqa-r")        # the training data only (copied to every worker)
  out, one = tmp_path / "gcs" / "bucket" / "pod-run", tmp_path / "one"   # out: the objects of gs://bucket/pod-run
  overrides = _overrides(model, data, "gs://bucket/pod-run")
  cache = ("--compile-cache", "gs://bucket/xla")

  p = _launch(env, overrides, *cache, log=tmp_path / "launch1.log")
  deadline = time.time() + 300
  t0 = time.time()
  while steps_logged(out) <= EVERY and p.poll() is None and time.time() < deadline:
    time.sleep(0.02)
  os.killpg(p.pid, signal.SIGKILL)                   # the launcher, the fake gcloud and both workers
  p.wait()
  log = (tmp_path / "launch1.log").read_text()
  assert not (out / "run.json").exists(), "the run finished before it could be killed:\n" + log[-3000:]
  assert EVERY < steps_logged(out) < STEPS, log[-3000:]
  print(f"killed after {time.time() - t0:.0f} s")

  # Every worker got the checkout, the data and the model; one shared run directory, no per-worker one.
  for i in range(WORKERS):
    home = pod_dir / f"worker{i}"
    assert (home / "jaxir" / "jaxir" / "launch.py").is_file()
    assert (home / "jaxir-stage" / "data" / "mlqa-r" / "de.json").is_file()
    assert (home / "jaxir-stage" / "tiny" / "model.safetensors").is_file()
    assert not list(home.glob("jaxir/runs")) and not list(home.glob("jaxir/gs:"))
  saved = json.loads((out / "config.json").read_text())
  assert saved["data"]["data_dir"] == "../jaxir-stage/data" and saved["model"]["name"] == "../jaxir-stage/tiny"
  assert HIT_STEP not in log                          # a cold cache: both workers compiled the train step
  assert list((tmp_path / "gcs" / "bucket" / "xla").glob("*-cache")), "process 0 wrote nothing to the shared cache"

  # Single-process reference, while the pod is down.
  assert cli.main(["train", "--quiet", *_overrides(model, data, one)]) == 0     # in this process: no start-up
  print(f"one process done after {time.time() - t0:.0f} s")

  p = _launch(env, overrides, *cache, log=tmp_path / "launch2.log")
  p.wait(timeout=300)
  log = (tmp_path / "launch2.log").read_text()
  assert p.returncode == 0, log[-3000:]
  assert "resumed" in log and (out / "run.json").exists()
  # Process 0 loads the step it compiled before the kill from gs://bucket/xla (its home's cache is empty). On
  # the CPU the other worker compiles again: XLA:CPU's topology fingerprint, part of JAX's cache key, differs
  # between processes; a TPU slice's is the same on every worker, so there every worker loads it.
  assert log.count(HIT_STEP) >= 1, log[-3000:]
  assert not list((pod_dir / "worker0").glob(".cache/jaxir/xla/*-cache"))
  records = [json.loads(l) for l in (out / "log.jsonl").read_text().splitlines()]
  start = [r for r in records if r["event"] == "start"]
  assert len(start) == 1 and start[0]["processes"] == WORKERS
  train = [r["step"] for r in records if r["event"] == "train"]
  print(f"resumed and finished after {time.time() - t0:.0f} s")
  assert train == sorted(set(train)) and train[-1] == STEPS      # one writer: no step logged twice

  a = load_file(str(out / "export" / "model.safetensors"))
  b = load_file(str(one / "export" / "model.safetensors"))
  assert a.keys() == b.keys()
  diff = max(float(np.abs(a[k] - b[k]).max()) for k in a)
  print(f"2 workers (killed, resumed) vs 1 process: max abs weight diff {diff:.2e}")
  for k in a:   # as test_train_step.py::test_two_processes_train_like_one (reduction order differs)
    np.testing.assert_allclose(a[k], b[k], atol=1e-6, err_msg=k)
  start = load_file(str(Path(model) / "model.safetensors"))
  assert max(np.abs(a[k] - start[k]).max() for k in a if k in start) > 1e-4     # it trained


# ---------------------------------------------------------------- dry run and bad input

def test_dry_run_prints_every_command_and_quotes_overrides(model, capsys):
  rc = cli.main(["launch", "pod1", "--zone", "us-z", "--project", "p", "--setup", "--shared-fs", "--dry-run", "train",
                 f"model.name={model}", "out_dir=/nfs/run", "optim.learning_rate=1e-3",
                 "data.data_dir=gs://bucket/data"])
  lines = capsys.readouterr().out.splitlines()
  assert rc == 0
  assert all(l.startswith("gcloud compute tpus tpu-vm ") and l.endswith("--zone us-z --worker=all --project p")
             for l in lines), lines
  assert lines[0].startswith("gcloud compute tpus tpu-vm scp --recurse '{checkout}' pod1:")
  assert any(f"scp --recurse {model} pod1:jaxir-stage/" in l for l in lines)
  assert any("gcloud storage rsync --recursive gs://bucket/data jaxir-stage/data" in l for l in lines)
  assert "pip install" in lines[-2]
  assert lines[-1].startswith("gcloud compute tpus tpu-vm ssh pod1 --command 'cd jaxir && JAXIR_DISTRIBUTED=1 "
                              "jaxir train out_dir=/nfs/run")
  assert "model.name=../jaxir-stage/tiny" in lines[-1] and "data.data_dir=../jaxir-stage/data" in lines[-1]


def test_overrides_reach_the_worker_verbatim(pod, tmp_path):
  """The remote shell parses --command: an override with spaces, `;`, `$(...)` is one argument, never run."""
  env, pod_dir = pod
  pwned = tmp_path / "pwned"
  overrides = [f"out_dir=/b/x;touch {pwned}", f"model.name=a b $(touch {pwned}) `touch {pwned}` 'q' \"d\" *"]
  cmds = launch.plan("pod1", "z", "train", None, overrides, stage=False, shared_fs=True)
  remote = cmds[-1][cmds[-1].index("--command") + 1]
  assert shlex.split(remote)[-2:] == overrides
  for i in range(WORKERS):
    (pod_dir / f"worker{i}" / "jaxir").mkdir(parents=True)
  subprocess.run(cmds[-1], env={**env, "FAKE_JAXIR": 'printf "%s\\n" "$@" > "$HOME/args"'}, check=True, timeout=60)
  for i in range(WORKERS):
    assert (pod_dir / f"worker{i}" / "args").read_text().split("\n")[:-1] == ["train", *overrides]
  assert not pwned.exists()


@pytest.mark.parametrize("argv, message", [
    (["train", "out_dir=/nfs/x"], "out_dir /nfs/x would be a different directory on every worker"),
    (["--shared-fs", "train", "out_dir=runs/x"], "out_dir runs/x is relative to each worker's checkout"),
    (["train", "out_dir=s3://b/run"], "s3://b/run: jaxir writes to local paths and gs://bucket/path URIs only"),
    (["--shared-fs", "train", "out_dir=/nfs/r", "model.name=s3://b/m"], "model.name s3://b/m: only gs:// URIs are staged"),
    (["--shared-fs", "train", "--config", "nowhere.py", "out_dir=/nfs/r"], "config not found"),
    (["--compile-cache", "/nfs/xla", "train", "out_dir=gs://b/r"], "--compile-cache /nfs/xla would be a different"
     " directory on every worker"),
    (["--shared-fs", "--compile-cache", "xla", "train", "out_dir=/nfs/r"], "--compile-cache xla would be a different"),
    (["--compile-cache", "s3://b/xla", "train", "out_dir=gs://b/r"], "--compile-cache s3://b/xla: give a gs:// path"),
])
def test_bad_launch_is_one_line(argv, message, capsys):
  assert cli.main(["launch", "pod1", "--zone", "z", "--dry-run", *argv]) == 2
  err = capsys.readouterr().err
  assert err.startswith("jaxir launch: error: ") and message in err and err.count("\n") == 1, err


def test_dry_run_with_a_gcs_run_directory(model, capsys):
  """A gs:// out_dir is the workers' shared run directory: no --shared-fs needed, passed on verbatim."""
  rc = cli.main(["launch", "pod1", "--zone", "us-z", "--dry-run", "--no-stage", "train", f"model.name={model}",
                 "out_dir=gs://bucket/runs/r1"])
  lines = capsys.readouterr().out.splitlines()
  assert rc == 0 and len(lines) == 1
  assert lines[0].startswith("gcloud compute tpus tpu-vm ssh pod1 --command 'cd jaxir && JAXIR_DISTRIBUTED=1 "
                             "jaxir train ")
  assert "out_dir=gs://bucket/runs/r1" in lines[0]


@pytest.mark.parametrize("cache, shared, env", [
    ("gs://bucket/xla", [], "JAX_COMPILATION_CACHE_DIR=gs://bucket/xla JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0 "
     "JAX_COMPILATION_CACHE_MAX_SIZE=-1 "),
    ("/nfs/x la", ["--shared-fs"], "JAX_COMPILATION_CACHE_DIR='\"'\"'/nfs/x la'\"'\"' "
     "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0 JAX_COMPILATION_CACHE_MAX_SIZE=8589934592 ")])
def test_dry_run_with_a_shared_compilation_cache(model, capsys, cache, shared, env):
  """--compile-cache points every worker's JAX cache at one directory, on the command the dry run prints; a
  shared filesystem gets a size limit (JAX then file-locks the cache), a bucket none (no lock on an object)."""
  rc = cli.main(["launch", "pod1", "--zone", "us-z", "--dry-run", "--no-stage", *shared, "--compile-cache", cache,
                 "train", f"model.name={model}", "out_dir=gs://bucket/runs/r1"])
  lines = capsys.readouterr().out.splitlines()
  assert rc == 0 and len(lines) == 1
  assert f"--command 'cd jaxir && {env}JAXIR_DISTRIBUTED=1 jaxir train " in lines[0], lines[0]


def test_dry_run_of_a_gcs_sweep(model, capsys):
  """A gs:// sweep directory is shared by the workers' sweeps (their cell locks are objects there)."""
  rc = cli.main(["launch", "pod1", "--zone", "us-z", "--dry-run", "--no-stage", "sweep", f"train.model.name={model}",
                 "out_dir=gs://bucket/sweep"])
  lines = capsys.readouterr().out.splitlines()
  assert rc == 0 and len(lines) == 1
  assert lines[0].startswith("gcloud compute tpus tpu-vm ssh pod1 --command 'cd jaxir && jaxir sweep ")
  assert "out_dir=gs://bucket/sweep" in lines[0]


@pytest.mark.parametrize("out, refusal", [
    ("s3://bucket/run", "s3://bucket/run: jaxir writes to local paths and gs://bucket/path URIs only"),
    ("gs://", "gs://: jaxir writes to local paths and gs://bucket/path URIs only")])
def test_train_refuses_another_uri(model, capsys, out, refusal):
  """Not a local folder named "s3:": one line, nothing written."""
  assert cli.main(["train", f"model.name={model}", f"data.data_dir={DATA}", f"out_dir={out}", "steps=1"]) == 2
  err = capsys.readouterr().err
  assert err == f"jaxir train: error: {refusal}\n"
  assert not Path("s3:").exists() and not Path("gs:").exists()


def test_shell_wrapper_is_jaxir_launch(model, tmp_path):
  proc = subprocess.run(["bash", str(ROOT / "tools" / "launch_tpu_pod.sh"), "pod1", "z", "--dry-run", "--shared-fs", "train",
                         f"model.name={model}", "out_dir=/nfs/a b"], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                        capture_output=True, text=True, timeout=120)
  assert proc.returncode == 0, proc.stderr
  assert "jaxir train '\"'\"'out_dir=/nfs/a b'\"'\"'" in proc.stdout.splitlines()[-1]

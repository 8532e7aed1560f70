"""Regenerate docs/scale.md: `jaxir plan` for every (model, global batch, topology) cell, resumably.

    PYTHONPATH=. nice -n 19 python tools/scale_table.py [--cells docs/scale] [--out docs/scale.md] [--only N] [--jobs N]
    python tools/scale_table.py --table-only     # rewrite the markdown from the cells computed so far

Each cell runs `python -m jaxir.cli plan --topology T --model-config M batch.batch_size=B ... --json CELL`
in a subprocess and keeps its JSON (`--cells`/<topology>_<model>_<batch>.json); a cell with a JSON is never
recomputed, so an interrupted run resumes. `--jobs 2` compiles two cells at once: a cell's first minute or two
(tracing, lowering, XLA's first passes) runs on one thread, so two cells keep both cores of a 2-core host busy. The batch is rounded up to a multiple of the data axis (all
chips: mesh.model=1); 16384 uses GradCache (chunk 8 per chip, padded batches). Cells not yet computed
are marked so in the table.
"""
import argparse
import concurrent.futures
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = (("e5-small", "e5-small"), ("xlm-roberta-base", "XLM-R base"), ("xlm-roberta-large", "XLM-R large"),
          ("labse", "LaBSE"))
BATCHES = (32, 100, 1024, 4096, 16384)
GRAD_CACHE_FROM = 16384
# a TPU slice (`--topology KIND:AxB`) or GPUs (`--gpu KINDxN`, planned against the 90% share of each GPU's memory
# that tools/launch_gpu.sh gives JAX)
TOPOLOGIES = (("v5e:2x4", "v5e-8", 8), ("v4:2x2x1", "v4-8", 4), ("v6e:4x4", "v6e-16", 16), ("v5e:8x8", "v5e-64", 64),
              ("h100x8", "8x H100 80GB", 8))
GPU_MEM_FRACTION = "0.9"
CHUNK_PER_CHIP = 8


def cells():
  """(topology, label, chips, model, model label, asked batch) in the order they are computed: each (model, batch)
  on every topology before the next, so a table cut short has rows in every section."""
  for model, name in MODELS:
    for b in BATCHES:
      for topo, label, chips in TOPOLOGIES:
        yield topo, label, chips, model, name, b


def cell_path(root, topo, model, batch):
  return Path(root) / f"{topo.replace(':', '-')}_{model}_{batch}.json"


def is_gpu(topo):
  return ":" not in topo


def command(topo, chips, model, batch, out):
  b = -(-batch // chips) * chips
  args = [sys.executable, "-m", "jaxir.cli", "plan", "--gpu" if is_gpu(topo) else "--topology", topo,
          "--model-config", model, "--no-encode",
          "--json", str(out), f"batch.batch_size={b}"]
  if batch >= GRAD_CACHE_FROM:
    args += [f"loss.grad_cache_chunk={CHUNK_PER_CHIP * chips}", "batch.pack=false"]
  return args


def run_cell(topo, chips, model, batch, path):
  path.parent.mkdir(parents=True, exist_ok=True)
  tmp = path.with_suffix(".running.json")
  start = time.time()
  env = dict(os.environ, XLA_PYTHON_CLIENT_MEM_FRACTION=GPU_MEM_FRACTION) if is_gpu(topo) else None
  p = subprocess.run(command(topo, chips, model, batch, tmp), cwd=ROOT, capture_output=True, text=True, env=env)
  if tmp.is_file():                     # fits (exit 0) or does not fit (exit 1): the plan's JSON
    record = json.loads(tmp.read_text())
    tmp.unlink()
  else:
    record = {"error": (p.stderr.strip().splitlines() or [f"exit {p.returncode}"])[-1]}
  record["wall_seconds"] = round(time.time() - start, 1)
  _write_atomic(path, json.dumps(record, indent=1))
  return record


def _write_atomic(path, text):
  """Write `text` to `path` whole or not at all: a cell JSON cut short would read as a computed cell."""
  tmp = Path(f"{path}.tmp{os.getpid()}")
  tmp.write_text(text)
  os.replace(tmp, path)


def _gib(n):
  return f"{n / 2 ** 30:.2f} GiB"


def row(record, batch):
  if record is None:
    return ["not yet computed"] + [""] * 4
  if "error" in record:
    return ["error: " + record["error"][:80]] + [""] * 4
  note = f" (batch {record['batch']})" if record["batch"] != batch else ""
  gc = f", GradCache {record['grad_cache_chunk']}" if record.get("grad_cache_chunk") else ""
  s = record["step_seconds_roofline"]
  hbm = ("> " if "out_of_memory" in record else "") + _gib(record["hbm_bytes_per_chip"])
  return [("yes" if record["fits"] else "**no**") + note + gc, hbm, f"{s * 1e3:.1f} ms" if s else "-",
          f"{record['pairs_per_second']:,.0f}" if s else "-", f"{record['compile_seconds']:.0f}"]


def table(root):
  lines = []
  done = 0
  for topo, label, chips, *_ in TOPOLOGIES:
    flag = f"--gpu {topo}" if is_gpu(topo) else f"{topo}"
    lines += [f"### {label} (`{flag}`, {chips} {'GPUs' if is_gpu(topo) else 'chips'})", "",
              "| model | global batch | fits? | HBM per chip | predicted step | pairs/s | compile s |",
              "|---|---:|---|---:|---:|---:|---:|"]
    for model, name in MODELS:
      for b in BATCHES:
        path = cell_path(root, topo, model, b)
        record = json.loads(path.read_text()) if path.is_file() else None
        done += record is not None
        lines.append("| " + " | ".join([name, f"{b:,}"] + row(record, b)) + " |")
    lines.append("")
  return lines, done


HEADER = """# Scale: what fits where, predicted by `jaxir plan`

Every cell below is `jaxir plan` compiling jaxir's own train step (random init from the model's `config.json`,
bfloat16, packed batches of worst-case lengths: every query 64 tokens and passage 128, no hard negatives, AdamW,
mesh.data = all chips) for that TPU slice or GPU set on a CPU host (libtpu's compile-only devices; the CUDA
plugin's deviceless topology). HBM per chip is XLA's
memory analysis (arguments + temporaries + outputs - aliases); the predicted step is the roofline
max(FLOPs / peak, bytes / HBM bandwidth) per chip (see `jaxir/plan.py` CHIPS and GPU_PEAK_FLOPS for the figures and their sources), a
lower bound that ignores collective latency and input. Compile s is the wall time of `jaxir plan` on the 2-core
host here, often beside another job (a second cell with `--jobs 2`), so a generous figure. A batch that does not divide over the chips is rounded up
(the cell names the batch used); 16,384 uses GradCache (`loss.grad_cache_chunk` = 8 per chip, padded batches); XLA's cost analysis counts a loop
body once, so the FLOPs and bytes of GradCache's other chunks are estimated (`jaxir.plan.grad_cache_loop_cost`).

Plan one configuration yourself (any `jaxir train` config and overrides; `pip install -r requirements-tpu.txt` first):

    jaxir plan --topology v5e:2x4 --config experiments/mlqa_hybrid.py --model-config xlm-roberta-large \\
        batch.batch_size=1024 --json plan.json            # one line; exit 1 when it does not fit
    jaxir plan --topology v5e:8x8 --model-config labse --fit   # the largest batch, plain and with GradCache
    jaxir plan --topology cpu --model-config e5-small      # this CPU: peaks measured at start-up

The GPU section is `jaxir plan --gpu h100x8`: deviceless compilation through the CUDA PJRT plugin
(`pip install -r requirements-gpu-plan.txt`, no GPU or NVIDIA libraries needed) for XLA's own H100 target config
(`jaxir/gpu_targets.py`), with the memory JAX gets under `tools/launch_gpu.sh` (90% of the device's 79.1 GiB); its
FLOPs and bytes are XLA's cost analysis of the optimized GPU module. How far the roofline is from a real step on the one machine
here (`PYTHONPATH=. python benchmarks/plan_vs_measured.py`: e5-small, batch 32, float32, 2 CPU cores, nothing
else running): predicted 5.05 s/step (0.961 TFLOP at a measured 190 GFLOP/s; 63 GB at 23.7 GB/s), measured 10.2 s/step,
ratio 2.0 (with other jobs on the cores, load ~8: 6.27 against 26.3 s, ratio 4.2). Read the predicted steps as lower
bounds.

HBM is not always monotone in the batch: on v4-8, e5-small needs 2.19 GiB at batch 32 and 2.08 GiB at 100 (XLM-R
base 4.85 and 4.59). The arguments (parameters, AdamW state, batch) are the same 1.31 GiB in both; the difference is
XLA's temporaries (0.88 against 0.77 GiB), that is, the buffers its fusion and scheduling choose for that shape
(8 against 25 examples per chip). Each cell's JSON under `docs/scale/` keeps the breakdown (`memory`: argument,
output, alias and temp bytes). A batch that fits is what XLA compiled, not an interpolation: plan the batch you run.

Regenerate (resumable: each cell's JSON is kept under `docs/scale/`; hours of CPU for the full table; `--jobs 2`
compiles two cells at once, `--topologies h100x8` only that section):

    PYTHONPATH=. nice -n 19 python tools/scale_table.py --jobs 2

"""


def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--cells", default=str(ROOT / "docs" / "scale"))
  ap.add_argument("--out", default=str(ROOT / "docs" / "scale.md"))
  ap.add_argument("--only", type=int, help="compute at most this many missing cells, then write the table")
  ap.add_argument("--table-only", action="store_true")
  ap.add_argument("--jobs", type=int, default=1, help="cells compiled at once (default 1)")
  ap.add_argument("--topologies", help="comma-separated: compute only these (e.g. h100x8,v4:2x2x1)")
  args = ap.parse_args(argv)
  todo = 0 if args.table_only else args.only
  only = set(args.topologies.split(",")) if args.topologies else None
  cuda = importlib.util.find_spec("jax_cuda13_plugin") is not None
  if not cuda and not args.table_only:
    print("scale_table: the CUDA plugin is not installed (pip install -r requirements-gpu-plan.txt): GPU cells skipped",
          flush=True)
  todo_cells = []
  for topo, label, chips, model, name, b in cells():
    path = cell_path(args.cells, topo, model, b)
    if path.is_file() or (only and topo not in only) or (is_gpu(topo) and not cuda):
      continue
    todo_cells.append((topo, label, chips, model, name, b, path))
  if todo is not None:
    todo_cells = todo_cells[:max(todo, 0)]

  def one(cell):
    topo, label, chips, model, name, b, path = cell
    print(f"scale_table: {label} {name} batch {b} ...", flush=True)
    return cell, run_cell(topo, chips, model, b, path)

  with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
    for (topo, label, chips, model, name, b, path), r in pool.map(one, todo_cells):
      print(f"scale_table: {label} {name} batch {b}: {row(r, b)} ({r['wall_seconds']} s)", flush=True)
      write(args)
  write(args)


def write(args):
  lines, done = table(args.cells)
  total = len(TOPOLOGIES) * len(MODELS) * len(BATCHES)
  status = (f"{done} of {total} cells computed so far; the rest say \"not yet computed\" (rerun the command above"
            " to fill them in).\n\n" if done < total else f"All {total} cells computed.\n\n")
  _write_atomic(Path(args.out), HEADER + status + "\n".join(lines) + "\n")


if __name__ == "__main__":
  main()

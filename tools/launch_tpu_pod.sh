#!/usr/bin/env bash
# Launch `jaxir train` on every worker of a TPU VM pod slice (as EasyLM / big_vision do).
#   tools/launch_tpu_pod.sh TPU_NAME ZONE experiments/mlqa_hybrid.py [key=value ...]
# Each worker runs the same command; `jaxir train` calls jax.distributed.initialize() on TPU
# (coordinator and process ids come from the TPU metadata), builds only its slice of every
# global batch, and all workers agree on each batch's type through (seed, step).
# One-time setup on all workers:  tools/launch_tpu_pod.sh TPU_NAME ZONE --setup
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 TPU_NAME ZONE CONFIG [key=value ...] | $0 TPU_NAME ZONE --setup" >&2; exit 2
fi
tpu=$1 zone=$2; shift 2
if [ "$1" = "--setup" ]; then
  # Copy this checkout (tracked files) to every worker, then install.
  tmp=$(mktemp -d); git archive --format=tar HEAD | tar -x -C "$tmp"
  gcloud compute tpus tpu-vm scp --recurse "$tmp" "$tpu":jaxir --zone "$zone" --worker=all
  cmd="cd jaxir && pip install -r requirements.txt -e . && pip install -U 'jax[tpu]==0.10.2'"
else
  # The remote shell parses --command: quote every argument so that each reaches jaxir verbatim
  # (spaces, `;`, `$(...)` in an override are data, never run by the remote shell).
  cmd="cd jaxir && JAXIR_DISTRIBUTED=1 jaxir train --config$(printf ' %q' "$@")"
fi
gcloud compute tpus tpu-vm ssh "$tpu" --zone "$zone" --worker=all --command "$cmd"

#!/usr/bin/env bash
# Launch jaxir on every worker of a TPU VM pod slice: a thin wrapper of `jaxir launch` (jaxir/launch.py).
#   tools/launch_tpu_pod.sh TPU_NAME ZONE [--setup] [--dry-run] --shared-fs train --config experiments/mlqa_hybrid.py \
#       out_dir=/mnt/shared/runs/x [key=value ...]
# Stages this checkout, the data and the model on every worker (gcloud ... scp --worker=all; gs:// data or
# models by `gcloud storage rsync` there), quotes every override, and runs `JAXIR_DISTRIBUTED=1 jaxir train`
# on each worker with one shared run directory (out_dir=gs://bucket/run, or a mounted path with --shared-fs).
# Rerun the same line to resume. --dry-run prints the commands.
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 TPU_NAME ZONE [--setup] [--dry-run] [--shared-fs] [--compile-cache DIR] train|sweep [--config CFG] [key=value ...]" >&2; exit 2
fi
tpu=$1 zone=$2; shift 2
exec python -m jaxir.cli launch "$tpu" --zone "$zone" "$@"

#!/usr/bin/env bash
# Train on the local GPU(s): one process sees every local GPU; the mesh's data axis spans them.
#   tools/launch_gpu.sh experiments/mlqa_hybrid.py [key=value ...]
# Needs the CUDA jax wheel (BUILD.md). TensorFlow (tf.data only) stays on the CPU.
set -euo pipefail
if [ $# -lt 1 ]; then echo "usage: $0 CONFIG [key=value ...]" >&2; exit 2; fi
export XLA_PYTHON_CLIENT_MEM_FRACTION=${XLA_PYTHON_CLIENT_MEM_FRACTION:-0.9}
export TF_FORCE_GPU_ALLOW_GROWTH=true CUDA_DEVICE_ORDER=PCI_BUS_ID
python -c "import jax, sys; d = jax.devices(); print('devices:', d); sys.exit(0 if d[0].platform == 'gpu' else 1)" \
  || { echo "no GPU visible to jax: install jax[cuda13] (BUILD.md)" >&2; exit 1; }
exec jaxir train --config "$@" model.dtype=bfloat16

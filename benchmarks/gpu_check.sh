#!/usr/bin/env bash
# The real-GPU check of `jaxir plan` (issue 18), prepared as ONE run for a lent GPU host, from the repository root:
#
#   OUT=/tmp/out GPU=h200x1 benchmarks/gpu_check.sh      # writes $OUT/gpu_check.log (and prints it)
#
# For each (model, global batch) below it prints the plan's prediction for GPU (deviceless compile, datasheet
# roofline) and the measured step time of the same train step on this host's GPU, and their ratio
# (benchmarks/plan_vs_measured.py --gpu). Batches: the CPU check's 32, the paper's 100, 512 and 1,024 (full-size
# timings). Every case has its own time limit and a failure does not stop the others. The packages are whatever the
# host has (jax with its CUDA plugin, flax, optax, orbax, transformers); tensorflow is not needed (random token
# ids, no tf.data). Nothing is downloaded: models are random inits from known config.json figures.
set -u
gpu=${GPU:-h200x1}
out=${OUT:-.}/gpu_check.log
limit=${CASE_SECONDS:-80}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
py=$(command -v python3 || command -v python)
{
  date -u
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | head -4
  "$py" -c "import jax, flax, optax, orbax.checkpoint, transformers
print('jax', jax.__version__, 'flax', flax.__version__, 'optax', optax.__version__, 'transformers', transformers.__version__)
print(jax.devices())" 2>&1 | tail -3
  for case in "e5-small 32" "e5-small 100" "e5-small 512" "xlm-roberta-base 100" "xlm-roberta-base 512" \
              "e5-small 1024"; do
    set -- $case
    echo "== $1, global batch $2, $gpu"
    start=$SECONDS
    timeout "$limit" "$py" benchmarks/plan_vs_measured.py --model "$1" --batch "$2" --steps 10 --gpu "$gpu" 2>&1 \
      | grep -v -E "^(W|I)[0-9]{4} " | tail -8
    echo "   (rc ${PIPESTATUS[0]}, $((SECONDS - start)) s)"
  done
} 2>&1 | tee "$out"

#!/usr/bin/env bash
# The GPU run, prepared to the last command: on a machine with an NVIDIA GPU and TensorFlow's
# CUDA build in $PYTHON's environment (pip install "tensorflow[and-cuda]==2.21.*"), in about
# 6-8 minutes it
#   1. prints the GPU, its driver and what TensorFlow sees;
#   2. runs the numerics tests on it (op determinism on: the resume and mirrored-equality
#      promises are stated for deterministic kernels);
#   3. times the train step (k=8, acai32) in float32, mixed_float16 and mixed_bfloat16, with and
#      without XLA, at batch 64 and 256 (samples/s, the GPU's peak memory while it ran);
#   4. trains the Fashion-MNIST AMR mixup k=2 recipe for 500 steps (samples/s, peak memory);
# and writes all of it to one file (default benchmarks/results/gpu_check.txt).
#
# Usage: benchmarks/gpu_check.sh [--dry-run] [--out=FILE] [--data_dir=DIR]
#   --dry-run   on any machine: check that every command's flags parse and that the numerics
#               tests collect, and run nothing on a GPU (what `make test` checks).
#   --data_dir  Fashion-MNIST's four IDX files (default: Debian's /usr/share/datasets/fashion-mnist).
# PYTHON: the interpreter (default .venv/bin/python).
set -uo pipefail
cd "$(dirname "$0")/.."

DRY=0
OUT=benchmarks/results/gpu_check.txt
DATA_DIR=/usr/share/datasets/fashion-mnist
PY=${PYTHON:-.venv/bin/python}
for arg in "$@"; do
  case $arg in
    --dry-run) DRY=1 ;;
    --out=*) OUT=${arg#*=} ;;
    --data_dir=*) DATA_DIR=${arg#*=} ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "gpu_check: error: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
  esac
done
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export TF_CPP_MIN_LOG_LEVEL=2

# The commands, once: the dry run parses them, the real run runs them.
BENCH=()
for precision in float32 mixed_float16 mixed_bfloat16; do
  for jit in nojit jit; do
    for batch in 64 256; do
      BENCH+=("amr_tf.bench --k=8 --batch_size=$batch --precision=$precision --$jit --steps=20 --warmup=5")
    done
  done
done
RECIPE="amr_tf.reproduce --table=fashion --only=amr_mixup_k2 --seeds=1 --scale=0.0005 --steps_per_epoch=500 \
--out_dir=$WORK/recipe --data_dir=$DATA_DIR"
TESTS=(-m pytest -q -p no:cacheprovider -m numerics tests)

if [ "$DRY" = 1 ]; then
  echo "gpu_check: dry run: parsing every command, collecting the numerics tests; nothing is run"
  printf '%s\n' "${BENCH[@]}" > "$WORK/bench.txt"
  echo "$RECIPE" > "$WORK/recipe.txt"
  status=0
  "$PY" benchmarks/parse_flags.py "$WORK/bench.txt" || status=1
  "$PY" benchmarks/parse_flags.py "$WORK/recipe.txt" || status=1
  collected=$("$PY" "${TESTS[@]}" --collect-only 2>&1 | tail -1)
  echo "numerics tests: $collected"
  case $collected in *"tests collected"*|*"selected"*) ;; *) status=1 ;; esac
  if command -v nvidia-smi >/dev/null; then echo "nvidia-smi: present"; else echo "nvidia-smi: absent (no NVIDIA GPU here)"; fi
  echo "gpu_check: dry run $([ $status = 0 ] && echo passed || echo FAILED)"
  exit $status
fi

if ! command -v nvidia-smi >/dev/null; then
  echo "gpu_check: error: no nvidia-smi: this machine has no NVIDIA GPU (--dry-run checks the commands)" >&2
  exit 2
fi
mkdir -p "$(dirname "$OUT")"
exec > >(tee "$OUT") 2>&1

# Peak GPU memory while a command runs: nvidia-smi sampled every 200 ms.
peak_memory() {
  local samples=$WORK/memory.txt
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 > "$samples" &
  local sampler=$!
  "$@"
  local status=$?
  kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null
  echo "  peak GPU memory: $(sort -n "$samples" | tail -1) MiB"
  return $status
}

echo "== gpu_check $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv
"$PY" -c "import tensorflow as tf; b = tf.sysconfig.get_build_info(); \
print('tensorflow', tf.__version__, 'cuda', b.get('cuda_version'), 'cudnn', b.get('cudnn_version')); \
print('GPUs seen:', tf.config.list_physical_devices('GPU'))"

echo "== numerics tests on the GPU (TF_DETERMINISTIC_OPS=1)"
TF_DETERMINISTIC_OPS=1 timeout 240 "$PY" "${TESTS[@]}" 2>&1 | tail -15

echo "== train step: k=8, acai32, 20 timed steps after 5"
for line in "${BENCH[@]}"; do
  echo "-- $line"
  # shellcheck disable=SC2086
  peak_memory timeout 90 "$PY" -m $line 2>&1 | tail -1
done

echo "== Fashion-MNIST, AMR mixup k=2, 500 steps of 64"
start=$(date +%s)
# shellcheck disable=SC2086
peak_memory timeout 240 "$PY" -m $RECIPE 2>&1 | tail -3
seconds=$(( $(date +%s) - start ))
echo "  $seconds s (with start-up and the epoch's evaluation): $(( 500 * 64 / (seconds > 0 ? seconds : 1) )) samples/s overall"
echo "== written to $OUT"

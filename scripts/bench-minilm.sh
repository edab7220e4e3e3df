#!/usr/bin/env bash
# The in-process all-MiniLM-L6-v2 (Swift + OpenBLAS, minilm-bench) beside its peers, measured in the same run,
# alternating: ONNX Runtime on the exported graph and on the transformer-optimized graph, and PyTorch
# sentence-transformers, all in process with the same thread count on the same texts (minilm-bench writes them):
# batch-1 latency of a 13-token query (median, p99), batch-32 throughput of 512 texts of ~200 and of ~40 words.
# Prints one table with every engine's figures and the Swift/peer ratios, then issue 13's goals — batch-1
# latency ≤ 0.80× and throughput ≥ 1.20× the faster ONNX Runtime graph — as met or with the distance left.
# Before that, minilm-bench alone prints its golden check and peak RSS. When the environment pins OpenBLAS's
# kernels (OPENBLAS_CORETYPE, e.g. Haswell), Swift also runs without the pin — OpenBLAS's own choice for this
# CPU, as in a user's container — and the goals are printed for both (BENCH_MINILM_OWN_BLAS=0 skips that).
#
# Needs make bench's Python packages in .data/venv and the ONNX export (bench/minilm-peers/export.py).
# Tunables: BENCH_MINILM_THREADS (2), BENCH_MINILM_TEXTS (512), BENCH_MINILM_LATENCY_RUNS (300),
# BENCH_MINILM_ROUNDS (3; each engine's figure is the median over the rounds), BENCH_MINILM_OWN_BLAS,
# BENCH_SKIP_BUILD=1. RAG_MINILM_AVX512=0 keeps the Swift encoder on its AVX2 kernels on an AVX-512 CPU.
# Runs from the repository root so that the default model directory and golden file resolve.
set -euo pipefail
cd "$(dirname "$0")/.."

model_dir="${RAG_MINILM_MODEL_DIR:-.data/models/all-MiniLM-L6-v2}"
if [[ ! -f "$model_dir/model.safetensors" ]]; then
  echo "bench-minilm: model not found; run 'make deps' (or set RAG_MINILM_MODEL_DIR)" >&2
  exit 1
fi
python=.data/venv/bin/python3
if ! "$python" -c 'import onnxruntime, torch, sentence_transformers, tokenizers' 2>/dev/null; then
  echo "bench-minilm: the peers' Python packages are missing; run 'make bench' (it installs them)" >&2
  exit 1
fi
"$python" bench/minilm-peers/export.py "$model_dir"

[[ "${BENCH_SKIP_BUILD:-0}" == 1 ]] || swift build -c release --product minilm-bench
bench="$(swift build -c release --show-bin-path)/minilm-bench"
threads="${BENCH_MINILM_THREADS:-2}"
texts="${BENCH_MINILM_TEXTS:-512}"
runs="${BENCH_MINILM_LATENCY_RUNS:-300}"

"$bench" --threads "$threads" --texts 32 --latency-runs 50 --model-dir "$model_dir" | grep -E '^(model|BLAS|golden)|peak RSS'
echo

extra=()
if [[ -n "${OPENBLAS_CORETYPE:-}" && "${BENCH_MINILM_OWN_BLAS:-1}" != 0 ]]; then
  env -u OPENBLAS_CORETYPE "$bench" --threads 1 --texts 1 --latency-runs 1 --model-dir "$model_dir" | grep '^BLAS' | sed 's/^/without OPENBLAS_CORETYPE: /'
  extra+=(--openblas-own-choice)
fi
exec "$python" bench/minilm-peers/compare.py --swift-bench "$bench" --model-dir "$model_dir" --threads "$threads" \
  --texts "$texts" --latency-runs "$runs" --rounds "${BENCH_MINILM_ROUNDS:-3}" "${extra[@]}"

#!/usr/bin/env bash
# Builds minilm-bench in release mode and runs it: batch-1 latency, throughput and peak RSS of the
# in-process all-MiniLM-L6-v2 embedder, printed next to the PyTorch reference figures.
# Extra arguments go to the benchmark (e.g. --threads 2 --texts 512 --latency-runs 300).
# Runs from the repository root so that the default model directory and golden file resolve.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -f "${RAG_MINILM_MODEL_DIR:-.data/models/all-MiniLM-L6-v2}/model.safetensors" ]]; then
  echo "bench-minilm: model not found; run 'make deps' (or set RAG_MINILM_MODEL_DIR)" >&2
  exit 1
fi

swift build -c release --product minilm-bench
exec "$(swift build -c release --show-bin-path)/minilm-bench" "$@"

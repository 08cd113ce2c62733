"""Hybrid fusion on a split for every normalisation and vector weight, nDCG@10 for each (calibration off).

The default fusion (for collections not calibrated yet) was chosen this way on SciFact's training split;
on a test split it is a diagnostic only: how far the label-free calibration is from the best fixed fusion.

Uses an index that ``ragworks eval DATASET --data-dir DIR`` already built, and the training queries only
(never tune on test)::

    .venv/bin/ragworks eval ../shared/data/eval/scifact --split train --data-dir /tmp/eval-scifact
    .venv/bin/python bench/tune_fusion.py ../shared/data/eval/scifact /tmp/eval-scifact
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from ragworks.config import Settings
from ragworks.evaluation.beir import load_dataset
from ragworks.evaluation.runner import evaluate
from ragworks.roles.embedded import build_embedded
from ragworks.services.calibration import WEIGHTS
from ragworks.services.fusion import FUSIONS

GRID = dict.fromkeys(FUSIONS, WEIGHTS)


async def main(dataset_dir: Path, data_dir: Path, split: str) -> None:
    dataset = load_dataset(dataset_dir, split)
    container = build_embedded(Settings(data_dir=data_dir, log_json=False))
    await container.start(workers=False)
    try:
        base = container.settings.search
        print(f"{dataset_dir.name}, split '{split}', {len(dataset.queries)} queries")
        print(f"{'fusion':<8}{'weight':>8}{'nDCG@10':>10}{'recall@100':>12}")
        for fusion, weights in GRID.items():
            for weight in weights:
                container.retriever.settings = base.model_copy(
                    update={
                        "fusion": fusion,
                        "vector_weight": weight,
                        "calibrate": False,
                        "weight_by_confidence": False,
                    }
                )
                report = evaluate(container, "eval", dataset, ["hybrid"], lambda _d, _t: None)["hybrid"]
                print(f"{fusion:<8}{weight:>8.1f}{report['ndcg@10']:>10.4f}{report['recall@100']:>12.4f}")
    finally:
        await container.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dataset_dir", type=Path)
    parser.add_argument("data_dir", type=Path, help="data dir of a finished `ragworks eval --data-dir` run")
    parser.add_argument("--split", default="train")
    args = parser.parse_args()
    asyncio.run(main(args.dataset_dir, args.data_dir, args.split))

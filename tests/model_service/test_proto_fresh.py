"""The generated gRPC code committed beside model.proto is what model.proto generates today."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "ragworks" / "model_service"
GENERATED = ["model_pb2.py", "model_pb2.pyi", "model_pb2_grpc.py"]


def test_committed_generated_code_is_not_stale(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHON": sys.executable}
    subprocess.run(["bash", str(ROOT / "scripts" / "gen_proto.sh"), str(tmp_path)], check=True, env=env)
    fresh = tmp_path / "ragworks" / "model_service"
    stale = [
        name
        for name in GENERATED
        if (fresh / name).read_text(encoding="utf-8") != (PACKAGE / name).read_text(encoding="utf-8")
    ]
    assert not stale, f"regenerate with scripts/gen_proto.sh: {stale} differ from model.proto's code"


def test_generated_code_imports_and_describes_the_service() -> None:
    from ragworks.model_service import model_pb2, model_pb2_grpc

    service = model_pb2.DESCRIPTOR.services_by_name["ModelService"]
    assert [method.name for method in service.methods] == ["Info", "Embed", "CountTokens", "Generate"]
    assert hasattr(model_pb2_grpc, "ModelServiceServicer")
    assert model_pb2.TEXT_KIND_QUERY == 2

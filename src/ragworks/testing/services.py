"""Run a service module on a real ragworks app (real engines in a scratch data dir), for its tests."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from fastapi.testclient import TestClient

from ragworks.app import create_app
from ragworks.config import JobSettings, LLMSettings, ServiceSettings, Settings
from ragworks.services.registry import as_service, load_module


class ServiceHarness:
    """Starts an app whose local services are the module's folder; calls the module's service over HTTP.

    The LLM is the ``extractive`` provider unless ``llm`` says otherwise, so the harness starts in
    seconds; pass ``LLMSettings(provider="llamacpp")`` to test against the bundled model.
    """

    def __init__(self, service_file: Path, *, llm: LLMSettings | None = None) -> None:
        self.service_file = service_file.resolve()
        self.name = as_service(load_module(self.service_file), str(self.service_file)).name
        self._scratch = tempfile.TemporaryDirectory(prefix="ragworks-service-test-")
        settings = Settings(
            data_dir=Path(self._scratch.name),
            log_json=False,
            llm=llm or LLMSettings(provider="extractive"),
            jobs=JobSettings(poll_interval_s=0.1),
            services=ServiceSettings(local_dir=self.service_file.parent, entry_points=False),
        )
        self.client = TestClient(create_app(settings))

    def __enter__(self) -> ServiceHarness:
        self.client.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.client.__exit__(exc_type, exc, traceback)
        self._scratch.cleanup()

    def post(self, data: dict[str, Any], **envelope: Any) -> Any:
        """POST /v1/services/{name} as a client would; the test client's response object."""
        return self.client.post(f"/v1/services/{self.name}", json=data | envelope)

    def call(self, data: dict[str, Any]) -> Any:
        """The service's output for ``data``; fails with the server's error otherwise."""
        response = self.post(data)
        assert response.status_code == 200, response.text
        return response.json()

    def call_in_background(self, data: dict[str, Any], timeout_s: float = 60.0) -> Any:
        """Run ``data`` as a background job and return the job's result."""
        response = self.post(data, **{"async": True})
        assert response.status_code == 202, response.text
        job_url = response.json()["status_url"]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            job = self.client.get(job_url).json()
            if job["status"] == "succeeded":
                return job["result"]
            assert job["status"] not in ("dead", "cancelled"), job
            time.sleep(0.05)
        raise AssertionError(f"the background call did not finish in {timeout_s} s")

    def listed(self) -> set[str]:
        """Names in GET /v1/services."""
        return {s["name"] for s in self.client.get("/v1/services").json()["services"]}

    def documented_paths(self) -> set[str]:
        """Paths in the OpenAPI document behind /docs."""
        return set(self.client.get("/openapi.json").json()["paths"])

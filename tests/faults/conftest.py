"""One `ragworks up` stack shared by the scaled-profile fault tests (each uses its own collection).

Starting PostgreSQL, the API and the workers takes most of a minute on two cores, so the API kill,
the PostgreSQL restart and the Redis restart share a stack; each test ends by checking that the stack
has recovered, which is also what the next one needs. Redis is on (query vectors, rate limits) and
the supervisor restarts a killed process after ``RESTART_DELAY_S``: that delay is how long a killed
PostgreSQL or Redis stays down.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from helpers.ledger import Store, postgres_url
from helpers.stack import RunningStack, running_stack
from ragworks.engines.index.providers import PROVIDERS
from ragworks.stack.probes import free_port

RESTART_DELAY_S = 4.0


def _stack_extra(redis_port: int) -> str:
    # lines of [stack], then tables of their own (TOML lets a sub-table come before its parent)
    return f"""restart_delay_s = {RESTART_DELAY_S}
restart_delay_max_s = {RESTART_DELAY_S}

[redis]
enabled = true
port = {redis_port}

[settings.rate_limits]
enabled = true
requests_per_s = 10000
burst = 10000
"""


@pytest.fixture(scope="package")
def scaled_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """`ragworks up`: PostgreSQL, Redis, the API and two workers, auth off. The processes' logs are
    copied to the test session's temporary folder before the stack's folder is removed."""
    if "postgres" not in PROVIDERS:
        pytest.skip("the PostgreSQL index provider is not registered")
    extra = _stack_extra(free_port())
    with running_stack("ragworks-faults-", workers=2, stack_extra=extra, ingest_batch=16) as up:
        try:
            yield up
        finally:
            logs = tmp_path_factory.mktemp("fault-stack-logs")
            for log in (up.data_dir / "run").glob("*.log*"):
                shutil.copy(log, logs / log.name)


@pytest.fixture
def stack_store(scaled_stack: RunningStack) -> Iterator[Store]:
    """The stack's database, for reading what became of the documents."""
    store = Store(postgres_url(scaled_stack.database))
    yield store
    store.close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"

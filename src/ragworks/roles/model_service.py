"""The model service role (``ragworks model-serve``): the embedder and, optionally, the LLM; nothing else.

No store, no index, no queue: the process only turns texts into vectors (and prompts into completions)
for the other processes, so it can run on its own hardware and scale on its own.
"""

from __future__ import annotations

import logging

from ragworks.config import Settings
from ragworks.engines.embed.providers import PROVIDERS as EMBEDDERS
from ragworks.engines.embed.providers import embed_settings
from ragworks.engines.llm.base import LLM
from ragworks.engines.llm.providers import build_llm
from ragworks.model_service.core import ServedModels
from ragworks.model_service.runner import serve_models

log = logging.getLogger(__name__)
NOT_SERVABLE = frozenset({"remote"})  # a model service calling a model service: a loop, or a detour


def load_models(settings: Settings, serve_llm: bool) -> ServedModels:
    """Build and start the embedder ``embed.provider`` names (no query cache in front: callers have
    their own) and, when ``serve_llm``, the LLM ``llm.provider`` names. Heavy: run it in a thread.

    Raises:
        ValueError: ``embed.provider`` names a client of a model service.
    """
    if settings.embed.provider in NOT_SERVABLE:
        raise ValueError(
            f"embed.provider = {settings.embed.provider!r} cannot be served: "
            "model-serve needs an embedder that runs in this process (e.g. 'minilm')"
        )
    embedder = EMBEDDERS[settings.embed.provider](embed_settings(settings))
    embedder.start()
    llm: LLM | None = None
    if serve_llm:
        llm = build_llm(settings.llm)
        llm.start()
        if not llm.generative:
            log.warning("llm.provider %r has no model: no LLM is served", settings.llm.provider)
            llm.close()
            llm = None
    return ServedModels(embedder=embedder, llm=llm)


async def run_model_service(settings: Settings) -> None:
    """Serve the models of ``settings`` (``model_service`` section) until SIGTERM or SIGINT."""
    serve_llm = settings.model_service.serve_llm
    await serve_models(settings.model_service, lambda: load_models(settings, serve_llm))

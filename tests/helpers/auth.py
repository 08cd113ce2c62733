"""Helpers for tests that call an app with auth on."""

from __future__ import annotations


def bearer(key: str) -> dict[str, str]:
    """The header that sends ``key``."""
    return {"Authorization": f"Bearer {key}"}

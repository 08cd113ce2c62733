"""The address a request came from, believing X-Forwarded-For only from proxies the settings trust."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import Scope

UNKNOWN = "unknown"  # no peer address (a Unix socket): such requests share one bucket
_FORWARDED_FOR = b"x-forwarded-for"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ClientAddress:
    """Finds the client of a request.

    With no trusted proxies the connecting address is the client, whatever the headers say (a client
    could otherwise pick a fresh bucket per request). Behind trusted proxies, X-Forwarded-For is read
    from the right: each proxy appends the address it received from, so the first address that is not
    a trusted proxy is the client; everything left of it may have been written by the client itself.
    """

    def __init__(self, trusted_proxies: Iterable[str] = ()) -> None:
        """``trusted_proxies``: addresses or CIDR networks.

        Raises:
            ValueError: an entry is neither.
        """
        self.trusted: tuple[Network, ...] = tuple(
            ipaddress.ip_network(entry.strip(), strict=False) for entry in trusted_proxies
        )

    def of(self, scope: Scope) -> str:
        """The client's address for ``scope`` (an ASGI http scope)."""
        client = scope.get("client")
        peer: str = client[0] if client else UNKNOWN
        if not self.trusted or not self._is_trusted(peer):
            return peer
        forwarded = _forwarded_for(scope["headers"])
        for hop in reversed(forwarded):
            if not self._is_trusted(hop):
                return hop
        # Every hop is a trusted proxy: the leftmost is as far back as anyone can tell.
        return forwarded[0] if forwarded else peer

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted)


def _forwarded_for(headers: Iterable[tuple[bytes, bytes]]) -> list[str]:
    """Every hop of every X-Forwarded-For header, in order (repeated headers are one list)."""
    hops: list[str] = []
    for name, value in headers:
        if name.lower() == _FORWARDED_FOR:
            hops += [hop.strip() for hop in value.decode("latin-1").split(",") if hop.strip()]
    return hops

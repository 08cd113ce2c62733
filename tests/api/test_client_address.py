"""The client address rate limits key on: X-Forwarded-For believed only from trusted proxies, read
from the right so a client cannot choose what it is counted as."""

from __future__ import annotations

import pytest
from starlette.types import Scope

from ragworks.api.client_address import UNKNOWN, ClientAddress


def scope(peer: str | None, *forwarded_for: str) -> Scope:
    """An http scope from ``peer`` with one X-Forwarded-For header per value."""
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded_for]
    return {"type": "http", "client": (peer, 1234) if peer else None, "headers": headers}


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    assert ClientAddress().of(scope("198.51.100.1", "203.0.113.9")) == "198.51.100.1"


def test_an_untrusted_peer_is_the_client_whatever_it_forwards() -> None:
    addresses = ClientAddress(["10.0.0.0/8"])
    assert addresses.of(scope("198.51.100.1", "203.0.113.9")) == "198.51.100.1"


def test_behind_a_trusted_proxy_the_last_hop_it_appended_is_the_client() -> None:
    addresses = ClientAddress(["10.0.0.1"])
    # the client wrote the first entry itself; the proxy appended the address it really came from
    assert addresses.of(scope("10.0.0.1", "1.2.3.4, 203.0.113.9")) == "203.0.113.9"


def test_a_chain_of_trusted_proxies_is_walked_back() -> None:
    addresses = ClientAddress(["10.0.0.0/8", "fd00::/8"])
    found = addresses.of(scope("10.0.0.1", "1.2.3.4, 203.0.113.9, fd00::7", "10.1.1.1"))
    assert found == "203.0.113.9"


def test_when_every_hop_is_a_trusted_proxy_the_first_one_is_the_client() -> None:
    addresses = ClientAddress(["10.0.0.0/8"])
    assert addresses.of(scope("10.0.0.1", "10.0.0.5, 10.0.0.6")) == "10.0.0.5"


def test_a_trusted_proxy_without_x_forwarded_for_is_the_client() -> None:
    assert ClientAddress(["10.0.0.1"]).of(scope("10.0.0.1")) == "10.0.0.1"


def test_ipv6_peers_and_networks() -> None:
    addresses = ClientAddress(["::1"])
    assert addresses.of(scope("::1", "2001:db8::5")) == "2001:db8::5"


def test_a_request_without_a_peer_address_is_unknown() -> None:
    assert ClientAddress(["10.0.0.1"]).of(scope(None)) == UNKNOWN


def test_a_trusted_proxy_entry_that_is_no_address_is_refused() -> None:
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6"):
        ClientAddress(["proxy.internal"])

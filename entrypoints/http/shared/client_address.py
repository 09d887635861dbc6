"""The client's address on the HTTP port: the peer, or what a trusted proxy reports in ``X-Forwarded-For``.

``X-Forwarded-For`` is whatever the client wants it to be unless a proxy we run
wrote it, so it is read only when the peer is one of ``TRUSTED_PROXIES``
(comma-separated addresses or CIDR networks; empty, the default, ignores the
header). Each proxy appends the address it saw, so the list is walked from the
right, past every trusted hop, and the first address that is not trusted is
the client: entries left of it were written by the client and are never read.
A hop that is not an address (a proxy that passes a client's garbage on) stops
the walk at the last trusted hop, which is then taken as the client: stricter
(one bucket for everyone behind it), never looser.

The address is the rate-limit subject when no API keys are configured, and the
``Caller.address`` every request carries; the WebSocket upgrade on this port uses
it too. gRPC and the WebSocket port have no proxy header: they use the peer.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class TrustedProxies:
    """The proxies whose ``X-Forwarded-For`` is believed."""

    def __init__(self, networks: Iterable[Network] = ()) -> None:
        self._networks = tuple(networks)

    @classmethod
    def parse(cls, text: str) -> TrustedProxies:
        """``TRUSTED_PROXIES``; ``ValueError`` names the item that is neither an address nor a network."""
        networks = []
        for item in (part.strip() for part in text.split(",")):
            if item:
                try:
                    networks.append(ipaddress.ip_network(item, strict=False))
                except ValueError:
                    raise ValueError(f"{item!r} is not an IP address or CIDR network") from None
        return cls(networks)

    def __bool__(self) -> bool:
        return bool(self._networks)

    def trusts(self, address: Address) -> bool:
        return any(address in network for network in self._networks)

    def client(self, peer: str, forwarded_for: Iterable[str]) -> str:
        """The client behind ``peer``, given the ``X-Forwarded-For`` values in the order they arrived."""
        hop = _address(peer)
        if hop is None or not self.trusts(hop):
            return peer
        hops = [item.strip() for value in forwarded_for for item in value.split(",")]
        for entry in reversed(hops):
            found = _address(entry)
            if found is None:
                break
            hop = found
            if not self.trusts(hop):
                break
        return str(hop)


NO_PROXIES = TrustedProxies()


def client_address(scope: Mapping[str, Any], proxies: TrustedProxies = NO_PROXIES) -> str:
    """The address of the client of an ASGI HTTP or WebSocket ``scope``."""
    client = scope.get("client")
    peer = str(client[0]) if client else ""
    if not proxies:
        return peer
    forwarded = [value.decode("latin-1") for key, value in scope.get("headers", ()) if key == b"x-forwarded-for"]
    return proxies.client(peer, forwarded) if forwarded else peer


def _address(text: str) -> Address | None:
    """An address as proxies write it: bare, ``v4:port`` or ``[v6]:port``; IPv4-mapped IPv6 as IPv4."""
    if text.startswith("["):
        text = text[1 : text.find("]")]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address

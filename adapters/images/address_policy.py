"""Which resolved addresses the image fetcher may connect to: public unicast only.

The check runs on the addresses a name resolved to, never on the name, and the
fetcher then connects to exactly the address it checked. Refused, each with
the reason a client is told (the address itself is never echoed: it would map
internal names for the caller):

- loopback (127/8, ::1), unless ``allow_loopback`` (tests against a local server);
- unspecified (0.0.0.0, ::), which many stacks route to the host itself;
- link-local (169.254/16, fe80::/10): the cloud metadata services live there
  (169.254.169.254, fd00:ec2::254 is caught as unique-local);
- private: RFC 1918, unique-local fc00::/7, and the other special-purpose
  blocks ``ipaddress`` lists (documentation, benchmarking, 0/8, ...);
- multicast, reserved (240/4, broadcast), deprecated site-local fec0::/10, and
  anything else not globally routable (shared 100.64/10);
- IPv6 forms that carry an IPv4 address (``::ffff:a.b.c.d``, NAT64 64:ff9b::/96,
  6to4 2002::/16) are judged by the IPv4 address inside.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_network

IPAddress = IPv4Address | IPv6Address

_NAT64 = ip_network("64:ff9b::/96")


def embedded_ipv4(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 form carries (mapped, NAT64, 6to4); the address itself otherwise."""
    if isinstance(address, IPv4Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    return address


class AddressPolicy:
    """Public unicast addresses only; loopback too when ``allow_loopback`` (never in production)."""

    def __init__(self, *, allow_loopback: bool = False) -> None:
        self._allow_loopback = allow_loopback

    def refusal(self, address: IPAddress) -> str | None:
        """Why ``address`` may not be connected to, as a short phrase; ``None`` when it may."""
        address = embedded_ipv4(address)
        if address.is_loopback:
            return None if self._allow_loopback else "a loopback address"
        return _special_use(address)


def _special_use(address: IPAddress) -> str | None:
    # Order matters only for the message: 169.254.169.254 is private *and* link-local, 240/4 private and reserved.
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_reserved or (isinstance(address, IPv6Address) and address.is_site_local):
        return "a reserved address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "an address that is not publicly routable"
    return None

"""Who a complaint counts for: one identity per API key, else per client network (docs/security.md).

A cached answer is shared by everyone who asks the same thing, so retiring it
takes complaints from several reporters; a reporter must therefore be something
a client cannot mint at will.

* With API keys on, the reporter is the key (``key:<key id>``). The end-user id
  (``X-User-ID``) is not part of it: the key holder chooses that id freely, so
  counting it would let one key be any number of reporters.
* Without keys, the reporter is the client's address as the transport saw it
  (``ip:<address>``), an IPv6 address taken as its /64, the block one host or
  one customer line is given, so that rotating through one's own prefix is still
  one reporter. Client-sent ids are not used for the same reason as above.
* A caller with neither (an in-process call) is the one ``anonymous`` reporter.
"""

from __future__ import annotations

import ipaddress

from domain.models import Caller

ANONYMOUS_REPORTER = "anonymous"
IPV6_PREFIX = 64


def reporter_of(caller: Caller) -> str:
    """The identity ``caller``'s complaints count for."""
    if caller.key_id:
        return f"key:{caller.key_id}"
    if caller.address:
        return f"ip:{_network(caller.address)}"
    return ANONYMOUS_REPORTER


def _network(address: str) -> str:
    try:
        parsed = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return address  # not an IP address (a Unix socket, a test client): taken as it is
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, IPV6_PREFIX), strict=False))
    return str(parsed)

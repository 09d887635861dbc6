"""Images by URL cannot be turned against the gateway's own network (issue 13, item 5).

The gateway fetches an image URL for Bedrock only when ``IMAGE_FETCH_ENABLED``.
Then every address a host resolves to must be public (no loopback, private,
link-local/metadata, multicast, unspecified or reserved address, nor an IPv6
form of one), the connection goes to the address that was checked (so a DNS
answer that changes between check and use cannot redirect it), each redirect
is checked again, and the answer must be a png/jpeg/gif/webp of at most
``MAX_IMAGE_BYTES`` within ``IMAGE_FETCH_TIMEOUT_SECONDS``. Names resolve
through a fake resolver and connections are recorded by a connector that
reaches a local server, so nothing here touches real DNS or the network.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from ipaddress import ip_address

import pytest
import trustme

from adapters.images.address_policy import AddressPolicy
from adapters.images.disabled import DisabledImageFetcher
from adapters.images.http import HttpImageFetcher
from domain.errors import ImageFetchFailed, InvalidRequest, UpstreamError
from tests.security.image_fetch_support import (
    GIF,
    PNG,
    PUBLIC,
    FakeResolver,
    ImageServer,
    LocalConnector,
    answer,
    data_url,
    drip,
    endless_body,
    hang,
    image,
    image_server,
    redirect,
)

pytestmark = pytest.mark.timeout(30)

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("::1", "loopback"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("10.0.0.1", "private"),
    ("172.16.5.4", "private"),
    ("192.168.1.1", "private"),
    ("fc00::1", "private"),
    ("fd12:3456::1", "private"),
    ("fd00:ec2::254", "private"),  # the AWS metadata service over IPv6
    ("169.254.169.254", "link-local"),  # the cloud metadata service
    ("169.254.1.1", "link-local"),
    ("fe80::1", "link-local"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("fec0::1", "reserved"),  # deprecated site-local
    ("100.64.0.1", "not publicly routable"),  # carrier-grade NAT
    ("192.0.2.1", "private"),  # documentation
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:10.0.0.1", "private"),
    ("::ffff:169.254.169.254", "link-local"),
    ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
    ("2002:a00:1::", "private"),  # 6to4 of 10.0.0.1
]


def fetcher(
    names: dict[str, Sequence[Sequence[str]]],
    server: ImageServer,
    *,
    tls: ssl.SSLContext | None = None,
    **options: object,
) -> tuple[HttpImageFetcher, FakeResolver, LocalConnector]:
    resolver, connector = FakeResolver(names), LocalConnector(server)
    options.setdefault("allow_http", True)
    built = HttpImageFetcher(resolver=resolver, connector=connector, ssl_context=tls, **options)  # type: ignore[arg-type]
    return built, resolver, connector


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


def server_tls(authority: trustme.CA, name: str = "images.example") -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(name).configure_cert(context)
    return context


def client_tls(authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    authority.configure_trust(context)
    return context


# -- the address policy -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("address", "reason"), REFUSED)
async def test_every_non_public_address_class_is_refused_before_any_connection(address: str, reason: str) -> None:
    async with image_server({"/cat.png": image()}) as server:
        fetch, _, connector = fetcher({"cat.example": [[address]]}, server)
        with pytest.raises(InvalidRequest, match=reason):
            await fetch.fetch("http://cat.example/cat.png", field="messages[0].content[1].image")
        assert connector.opened == []
        assert server.requests == []


@pytest.mark.parametrize(
    "url", ["https://169.254.169.254/latest/meta-data/", "https://[::1]/", "https://[fd00:ec2::254]/"]
)
async def test_an_address_written_into_the_url_is_checked_the_same_way(url: str) -> None:
    async with image_server({}) as server:
        fetch, resolver, connector = fetcher({}, server)
        with pytest.raises(InvalidRequest, match="only public hosts"):
            await fetch.fetch(url)
        assert (resolver.asked, connector.opened) == ([], [])


async def test_one_private_address_among_public_ones_refuses_the_host() -> None:
    async with image_server({"/cat.png": image()}) as server:
        fetch, _, connector = fetcher({"cat.example": [[PUBLIC, "10.1.2.3"]]}, server)
        with pytest.raises(InvalidRequest, match="private"):
            await fetch.fetch("http://cat.example/cat.png")
        assert connector.opened == []


@pytest.mark.parametrize("address", [PUBLIC, "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"])
def test_public_addresses_and_their_ipv6_forms_are_allowed(address: str) -> None:
    assert AddressPolicy().refusal(ip_address(address)) is None


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:{port}/cat.png", "http://[::1]:{port}/cat.png", "http://localhost:{port}/cat.png"]
)
async def test_the_default_policy_refuses_this_host_by_address_and_by_name(url: str) -> None:
    async with image_server({"/cat.png": image()}) as server:
        fetch = HttpImageFetcher(allow_http=True)  # the real resolver and connector
        with pytest.raises(InvalidRequest, match="loopback"):
            await fetch.fetch(url.format(port=server.port))
        assert server.requests == []


async def test_a_real_fetch_from_a_local_server_works_when_the_policy_allows_loopback() -> None:
    async with image_server({"/cat%20one.png?size=small": image()}) as server:
        fetch = HttpImageFetcher(allow_http=True, policy=AddressPolicy(allow_loopback=True))
        fetched = await fetch.fetch(f"http://localhost:{server.port}/cat one.png?size=small#fragment")
        assert (fetched.data, fetched.media_type) == (PNG, "image/png")
        assert server.requests[0].target == "/cat%20one.png?size=small"
        assert server.requests[0].headers["host"] == f"localhost:{server.port}"


# -- DNS rebinding ------------------------------------------------------------------------------------------


async def test_the_connection_goes_to_the_checked_address_so_a_changed_dns_answer_is_never_used() -> None:
    async with image_server({"/cat.png": image()}) as server:
        # First answer public, every later one the metadata address: a second lookup would reach it.
        fetch, resolver, connector = fetcher({"cat.example": [[PUBLIC], ["169.254.169.254"]]}, server)
        fetched = await fetch.fetch("http://cat.example/cat.png")
        assert fetched.data == PNG
        assert resolver.asked == ["cat.example"]
        assert connector.opened == [(PUBLIC, 80, None)]


async def test_the_real_connector_is_given_the_checked_address_not_the_name() -> None:
    async with image_server({"/cat.png": image()}) as server:
        resolver = FakeResolver({"cat.example": [["127.0.0.1"], ["10.9.9.9"]]})
        fetch = HttpImageFetcher(allow_http=True, resolver=resolver, policy=AddressPolicy(allow_loopback=True))
        assert (await fetch.fetch(f"http://cat.example:{server.port}/cat.png")).data == PNG
        assert resolver.asked == ["cat.example"]
        assert server.requests[0].headers["host"] == f"cat.example:{server.port}"


async def test_an_international_name_is_resolved_and_sent_in_its_ascii_form() -> None:
    async with image_server({"/cat.png": image()}) as server:
        fetch, resolver, _ = fetcher({"xn--bcher-kva.example": [[PUBLIC]]}, server)
        assert (await fetch.fetch("http://Bücher.example/cat.png")).data == PNG
        assert resolver.asked == ["xn--bcher-kva.example"]
        assert server.requests[0].headers["host"] == "xn--bcher-kva.example"


# -- TLS: the original name for SNI, the Host header and the certificate ------------------------------------


async def test_https_connects_to_the_checked_address_with_the_original_name_for_sni_and_host(
    authority: trustme.CA,
) -> None:
    async with image_server({"/cat.png": image()}, tls=server_tls(authority)) as server:
        fetch, _, connector = fetcher({"images.example": [[PUBLIC]]}, server, tls=client_tls(authority))
        assert (await fetch.fetch("https://images.example/cat.png")).data == PNG
        assert connector.opened == [(PUBLIC, 443, "images.example")]
        assert server.requests[0].server_name == "images.example"
        assert server.requests[0].headers["host"] == "images.example"


async def test_a_certificate_for_another_name_is_refused(authority: trustme.CA) -> None:
    async with image_server({"/cat.png": image()}, tls=server_tls(authority, "other.example")) as server:
        fetch, _, _ = fetcher({"images.example": [[PUBLIC]]}, server, tls=client_tls(authority))
        with pytest.raises(ImageFetchFailed, match="TLS certificate is not valid"):
            await fetch.fetch("https://images.example/cat.png")
        assert server.requests == []


async def test_a_redirect_from_https_to_http_is_refused_unless_http_is_allowed(authority: trustme.CA) -> None:
    routes = {"/cat.png": redirect("http://images.example/cat.png")}
    async with image_server(routes, tls=server_tls(authority)) as server:
        fetch, _, _ = fetcher({"images.example": [[PUBLIC]]}, server, tls=client_tls(authority), allow_http=False)
        with pytest.raises(InvalidRequest, match="IMAGE_FETCH_ALLOW_HTTP"):
            await fetch.fetch("https://images.example/cat.png")


# -- redirects ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("http://internal.example/secret.png", "private"),
        ("http://169.254.169.254/latest/meta-data/iam/security-credentials/", "link-local"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
    ],
)
async def test_a_redirect_to_a_refused_address_is_refused(location: str, reason: str) -> None:
    async with image_server({"/cat.png": redirect(location)}) as server:
        fetch, _, connector = fetcher({"cat.example": [[PUBLIC]], "internal.example": [["10.0.0.5"]]}, server)
        with pytest.raises(InvalidRequest, match=reason):
            await fetch.fetch("http://cat.example/cat.png")
        assert connector.opened == [(PUBLIC, 80, None)]


async def test_each_hop_is_resolved_and_checked_again() -> None:
    async with image_server({"/a.png": redirect("/b.png", 307)}) as server:
        fetch, resolver, _ = fetcher({"cat.example": [[PUBLIC], ["10.0.0.7"]]}, server)
        with pytest.raises(InvalidRequest, match="private"):
            await fetch.fetch("http://cat.example/a.png")
        assert resolver.asked == ["cat.example", "cat.example"]


async def test_three_redirects_are_followed_and_a_fourth_is_refused() -> None:
    routes = {f"/{n}": redirect(f"/{n + 1}", status) for n, status in zip(range(4), (301, 302, 303, 308), strict=True)}
    async with image_server({**routes, "/3": image(GIF, "image/gif")}) as server:
        fetch, _, _ = fetcher({"cat.example": [[PUBLIC]]}, server)
        assert (await fetch.fetch("http://cat.example/0")).media_type == "image/gif"
    async with image_server({**routes, "/4": image()}) as server:
        fetch, _, _ = fetcher({"cat.example": [[PUBLIC]]}, server)
        with pytest.raises(InvalidRequest, match="redirected more than 3 times"):
            await fetch.fetch("http://cat.example/0")
        assert len(server.requests) == 4


async def test_a_redirect_without_a_location_is_a_failed_fetch() -> None:
    async with image_server({"/cat.png": answer(302, b"")}) as server:
        fetch, _, _ = fetcher({"cat.example": [[PUBLIC]]}, server)
        with pytest.raises(ImageFetchFailed, match="without a Location"):
            await fetch.fetch("http://cat.example/cat.png")


# -- size, time, type ---------------------------------------------------------------------------------------


async def test_an_image_at_the_cap_is_fetched_and_one_announced_larger_is_refused_before_its_body() -> None:
    routes = {"/fits.png": image(), "/big.png": answer(200, PNG, content_type="image/png", content_length="10000000")}
    async with image_server(routes) as server:
        fetch, _, _ = fetcher({"cat.example": [[PUBLIC]]}, server, max_bytes=len(PNG))
        assert (await fetch.fetch("http://cat.example/fits.png")).data == PNG
        with pytest.raises(InvalidRequest, match=r"larger than MAX_IMAGE_BYTES \(64 bytes\)"):
            await fetch.fetch("http://cat.example/big.png")


@pytest.mark.parametrize("route", ["endless", "chunked"])
async def test_a_body_without_a_length_stops_being_read_at_the_cap(route: str) -> None:
    chunked = answer(200, b"%x\r\n%s\r\n0\r\n\r\n" % (len(PNG) * 4, PNG * 4), transfer_encoding="chunked")
    async with image_server({"/endless": endless_body, "/chunked": chunked}) as server:
        fetch, _, _ = fetcher({"cat.example": [[PUBLIC]]}, server, max_bytes=100_000 if route == "endless" else 100)
        with pytest.raises(InvalidRequest, match="larger than MAX_IMAGE_BYTES"):
            await fetch.fetch(f"http://cat.example/{route}")


@pytest.mark.parametrize("handler", [hang, drip], ids=["silent", "dripping"])
async def test_the_whole_fetch_has_one_timeout(handler: object) -> None:
    async with image_server({"/slow.png": handler}) as server:  # type: ignore[dict-item]
        fetch, _, _ = fetcher({"cat.example": [[PUBLIC]]}, server, timeout_seconds=0.3)
        with pytest.raises(ImageFetchFailed, match=r"IMAGE_FETCH_TIMEOUT_SECONDS \(0.3 s\)"):
            await fetch.fetch("http://cat.example/slow.png")


@pytest.mark.parametrize(
    ("route", "error", "message"),
    [
        ("/page", InvalidRequest, "answered 'text/html', not png, jpeg, gif or webp"),
        ("/vector", InvalidRequest, r"'image/svg\+xml'"),
        ("/liar.png", InvalidRequest, "declared as image/png but the bytes are image/gif"),
        ("/untyped-html", InvalidRequest, "not a png, jpeg, gif or webp image"),
        ("/zipped.png", ImageFetchFailed, "compressed answer"),
        ("/missing.png", ImageFetchFailed, "answered HTTP 404"),
    ],
)
async def test_an_answer_that_is_not_an_acceptable_image_is_refused(
    route: str, error: type[Exception], message: str
) -> None:
    routes = {
        "/page": image(b"<html><body>internal dashboard</body></html>", "text/html; charset=utf-8"),
        "/vector": image(b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
        "/liar.png": image(GIF, "image/png"),
        "/untyped-html": image(b"<html></html>", "application/octet-stream"),
        "/zipped.png": answer(200, PNG, content_type="image/png", content_encoding="gzip"),
    }
    async with image_server(routes) as server:
        fetch, _, _ = fetcher({"cat.example": [[PUBLIC]]}, server)
        with pytest.raises(error, match=message):
            await fetch.fetch(f"http://cat.example{route}")


async def test_an_untyped_answer_is_judged_by_its_bytes() -> None:
    async with image_server({"/blob": image(GIF, "binary/octet-stream")}) as server:
        fetch, _, _ = fetcher({"cat.example": [[PUBLIC]]}, server)
        assert (await fetch.fetch("http://cat.example/blob")).media_type == "image/gif"


# -- URLs refused before any lookup -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://cat.example/cat.png", "IMAGE_FETCH_ALLOW_HTTP=false"),
        ("file:///etc/passwd", "must be https:// or a data: URL"),
        ("gopher://cat.example:6379/_FLUSHALL", "must be https:// or a data: URL"),
        ("ftp://cat.example/cat.png", "must be https:// or a data: URL"),
        ("https://user:secret@cat.example/cat.png", "may not carry credentials"),
        ("https:///cat.png", "names no host"),
        ("https://cat.example:99999/cat.png", "is not a valid URL"),
        ("https://[::1/cat.png", "is not a valid URL"),
        ("https://[zz]/cat.png", "is not a valid URL"),
        ("https://cat example/cat.png", "is not a valid host name"),
        ("https://cat\x00.example/cat.png", "is not a valid host name"),
    ],
)
async def test_urls_outside_the_rules_are_refused_before_any_lookup(url: str, message: str) -> None:
    async with image_server({}) as server:
        fetch, resolver, _ = fetcher({"cat.example": [[PUBLIC]]}, server, allow_http=False)
        with pytest.raises(InvalidRequest, match=message):
            await fetch.fetch(url, field="messages[0].content[0].image")
        assert resolver.asked == []


async def test_unreachable_hosts_are_failed_fetches_not_upstream_failures() -> None:
    async with image_server({}) as server:
        fetch, _, _ = fetcher({}, server)
        with pytest.raises(ImageFetchFailed, match="does not resolve") as caught:
            await fetch.fetch("http://nowhere.example/cat.png")
    port = server.port  # closed now: connections are refused
    fetch = HttpImageFetcher(allow_http=True, policy=AddressPolicy(allow_loopback=True))
    with pytest.raises(ImageFetchFailed, match="could not connect"):
        await fetch.fetch(f"http://127.0.0.1:{port}/cat.png")
    # A 400 for the caller: never retried, never counted toward a provider's circuit breaker.
    assert isinstance(caught.value, InvalidRequest)
    assert not isinstance(caught.value, UpstreamError)


# -- data URLs and the disabled fetcher ---------------------------------------------------------------------


async def test_data_urls_are_decoded_without_any_network_access() -> None:
    async with image_server({}) as server:
        fetch, resolver, connector = fetcher({}, server)
        assert (await fetch.fetch(data_url(PNG))).data == PNG
        assert (resolver.asked, connector.opened) == ([], [])


async def test_with_fetching_off_a_url_is_a_400_naming_the_setting_and_data_urls_still_work() -> None:
    disabled = DisabledImageFetcher(max_bytes=1000)
    with pytest.raises(InvalidRequest, match=r"messages\[2\].content\[0\].image: .*IMAGE_FETCH_ENABLED=false"):
        await disabled.fetch("https://cat.example/cat.png", field="messages[2].content[0].image")
    assert (await disabled.fetch(data_url(GIF, "image/gif"))).media_type == "image/gif"
    with pytest.raises(InvalidRequest, match="MAX_IMAGE_BYTES"):
        await DisabledImageFetcher(max_bytes=10).fetch(data_url(GIF, "image/gif"))

"""One GET of an image URL over a connection already opened to a checked address (used by ``http.py``).

The request is HTTP/1.1 with ``Connection: close`` and ``Accept-Encoding: identity``
(a compressed answer could inflate past any cap, so none is accepted). The
answer is parsed by ``httptools`` (the C parser uvicorn and the lean provider
client use) and read no further than needed: a redirect or an error status
stops at its headers, an announced ``Content-Length`` over the cap stops before
the body, and a body that grows past the cap stops at that point.
"""

from __future__ import annotations

import asyncio
import string
from urllib.parse import SplitResult, quote, urlsplit

import httptools

from domain.errors import ImageFetchFailed, InvalidRequest
from domain.images import ALLOWED_MEDIA_TYPES, normalize_media_type

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_READ_SIZE = 64 * 1024
_MAX_HEAD_BYTES = 32 * 1024  # status line and headers of one answer
_ACCEPT = "image/png, image/jpeg, image/gif, image/webp"
# Content types that say nothing about the bytes (S3 objects stored without a type): the bytes decide.
_UNTYPED = frozenset({"", "application/octet-stream", "binary/octet-stream"})
# Characters a URL path or query keeps as they are; anything else (spaces, non-ASCII) is percent-encoded.
_URL_SAFE = "/%:@!$&'()*+,;=-._~?"
# A host, once IDNA-encoded: a DNS name or an IP literal; nothing else may reach the resolver or the Host header.
_HOST_CHARACTERS = frozenset(string.ascii_lowercase + string.digits + "-._:")


def split_url(url: str, field: str) -> SplitResult:
    """``urlsplit``, with its ``ValueError`` (``https://[::1``) as a 400."""
    try:
        return urlsplit(url)
    except ValueError:
        raise InvalidRequest(f"{field}: {url[:200]!r} is not a valid URL") from None


class Target:
    """An ``http(s)`` URL split into what the connection and the request line need."""

    def __init__(self, url: str, *, field: str) -> None:
        parts = split_url(url, field)
        if parts.username is not None or parts.password is not None:
            raise InvalidRequest(f"{field}: image URLs may not carry credentials")
        try:
            port = parts.port
            self.host = (parts.hostname or "").encode("idna").decode("ascii")
        except (ValueError, UnicodeError):
            raise InvalidRequest(f"{field}: {url[:200]!r} is not a valid URL") from None
        if not self.host:
            raise InvalidRequest(f"{field}: the image URL names no host")
        if not _HOST_CHARACTERS.issuperset(self.host):
            raise InvalidRequest(f"{field}: {self.host[:100]!r} is not a valid host name")
        self.url = url
        self.scheme = parts.scheme.lower()
        self.tls = self.scheme == "https"
        default_port = 443 if self.tls else 80
        self.port = port or default_port
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.host_header = host if self.port == default_port else f"{host}:{self.port}"
        path = quote(parts.path or "/", safe=_URL_SAFE)
        self.request_target = f"{path}?{quote(parts.query, safe=_URL_SAFE)}" if parts.query else path

    def request(self) -> bytes:
        return (
            f"GET {self.request_target} HTTP/1.1\r\nHost: {self.host_header}\r\nAccept: {_ACCEPT}\r\n"
            "Accept-Encoding: identity\r\nUser-Agent: mcp-server-ai-image-fetch\r\nConnection: close\r\n\r\n"
        ).encode("ascii")


class Answer:
    """The status, headers and (for a 200) body of one answer; filled by the parser's callbacks."""

    def __init__(self) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = bytearray()
        self.head_done = False
        self.complete = False
        self._parser = httptools.HttpResponseParser(self)

    def feed(self, chunk: bytes, field: str) -> None:
        try:
            self._parser.feed_data(chunk)
        except httptools.HttpParserError:
            raise ImageFetchFailed(f"{field}: the image server sent a malformed HTTP answer") from None

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.status = self._parser.get_status_code()
        self.head_done = True

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.complete = True

    @property
    def delimited_by_close(self) -> bool:
        """No length and not chunked: the body ends where the connection does."""
        return "content-length" not in self.headers and "chunked" not in self.headers.get("transfer-encoding", "")


async def read_answer(reader: asyncio.StreamReader, *, max_bytes: int, field: str) -> Answer:
    """Read an answer: only the head for anything but a 200, at most ``max_bytes`` of body for a 200."""
    answer = Answer()
    received = 0
    while not answer.complete:
        chunk = await reader.read(_READ_SIZE)
        if not chunk:
            _end_of_stream(answer, field)
            break
        received += len(chunk)
        answer.feed(chunk, field)
        if not answer.head_done:
            if received > _MAX_HEAD_BYTES:
                raise ImageFetchFailed(f"{field}: the image server sent more than {_MAX_HEAD_BYTES} bytes of headers")
            continue
        if answer.status != 200:
            return answer
        _check_head(answer, max_bytes, field)
    return answer


def declared_type(answer: Answer) -> str | None:
    """The image type the answer's ``Content-Type`` names; ``None`` when it names none."""
    declared = normalize_media_type(answer.headers.get("content-type", ""))
    return None if declared in _UNTYPED else declared


def _check_head(answer: Answer, max_bytes: int, field: str) -> None:
    """Stop reading as soon as the answer shows it is no acceptable image: type, encoding, size."""
    declared = declared_type(answer)
    if declared is not None and declared not in ALLOWED_MEDIA_TYPES:
        raise InvalidRequest(f"{field}: the image URL answered {declared[:100]!r}, not png, jpeg, gif or webp")
    if answer.headers.get("content-encoding", "identity").strip().lower() != "identity":
        raise ImageFetchFailed(f"{field}: the image server sent a compressed answer, which is not accepted")
    _check_length(answer, max_bytes, field)


def _check_length(answer: Answer, max_bytes: int, field: str) -> None:
    announced = answer.headers.get("content-length", "")
    if len(answer.body) > max_bytes or (announced.isdigit() and int(announced) > max_bytes):
        raise InvalidRequest(f"{field}: the image is larger than MAX_IMAGE_BYTES ({max_bytes} bytes)")


def _end_of_stream(answer: Answer, field: str) -> None:
    if answer.head_done and answer.delimited_by_close:
        answer.complete = True
        return
    raise ImageFetchFailed(f"{field}: the image server closed the connection before the answer was complete")

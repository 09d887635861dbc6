"""Images in requests: the types providers take, what the bytes really are, data URLs (docs/api.md#images-by-url).

A declared media type is never trusted alone: the type an image *is* comes
from its first bytes, and a declaration that disagrees is refused, so a
provider never receives an HTML page labelled ``image/png``. Every refusal is
an ``InvalidRequest`` (400) that names the request field it is about.
"""

from __future__ import annotations

import base64
import binascii

import msgspec

from domain.errors import InvalidRequest

# The four types every provider with vision takes (Bedrock Converse: png, jpeg, gif, webp).
ALLOWED_MEDIA_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
# Bedrock refuses an image over 3.75 MB (Converse `Message.content`), the strictest provider limit.
DEFAULT_MAX_IMAGE_BYTES = 3_750_000
# Spellings seen in the wild for the same type.
_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg"}
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


class FetchedImage(msgspec.Struct, frozen=True, kw_only=True):
    """An image's bytes and the media type they were sniffed as (one of ``ALLOWED_MEDIA_TYPES``)."""

    data: bytes
    media_type: str


def sniff_media_type(data: bytes) -> str | None:
    """The type the magic bytes at the start of ``data`` announce; ``None`` when it is none of the four."""
    for signature, media_type in _SIGNATURES:
        if data.startswith(signature):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def normalize_media_type(declared: str) -> str:
    """``Image/JPG; q=1`` → ``image/jpeg``: lower case, parameters dropped, aliases folded."""
    bare = declared.split(";", 1)[0].strip().lower()
    return _ALIASES.get(bare, bare)


def check_image(data: bytes, *, declared: str | None, max_bytes: int, field: str) -> FetchedImage:
    """The image, if ``data`` is a png, jpeg, gif or webp of at most ``max_bytes`` matching ``declared``.

    ``declared`` ``None`` (or empty) lets the bytes decide alone.
    """
    if not data:
        raise InvalidRequest(f"{field}: the image is empty")
    if len(data) > max_bytes:
        raise InvalidRequest(f"{field}: the image has {len(data)} bytes, more than MAX_IMAGE_BYTES ({max_bytes})")
    sniffed = sniff_media_type(data)
    if sniffed is None:
        raise InvalidRequest(f"{field}: the bytes are not a png, jpeg, gif or webp image")
    if declared and (claimed := normalize_media_type(declared)) != sniffed:
        raise InvalidRequest(f"{field}: declared as {claimed} but the bytes are {sniffed}")
    return FetchedImage(data=data, media_type=sniffed)


def is_data_url(url: str) -> bool:
    return url[:5].lower() == "data:"


def parse_data_url(url: str, *, max_bytes: int, field: str) -> FetchedImage:
    """Decode ``data:image/<type>;base64,<payload>`` into a checked image.

    The size is checked on the encoded length before decoding, so an oversized
    payload costs no decoding. Only base64 payloads are taken: images are binary.
    """
    if not is_data_url(url):
        raise InvalidRequest(f"{field}: expected a data URL (data:image/png;base64,...)")
    header, comma, payload = url[5:].partition(",")
    media_type, *parameters = header.split(";")
    if not comma or not parameters or parameters[-1].strip().lower() != "base64":
        raise InvalidRequest(f"{field}: a data URL must read data:<media type>;base64,<data>")
    declared = normalize_media_type(media_type)
    if declared not in ALLOWED_MEDIA_TYPES:
        raise InvalidRequest(f"{field}: media type {declared or '(none)'!r} is not png, jpeg, gif or webp")
    if len(payload) > _encoded_length(max_bytes):
        raise InvalidRequest(f"{field}: the image is larger than MAX_IMAGE_BYTES ({max_bytes} bytes)")
    try:
        data = base64.b64decode(payload, validate=True)
    except binascii.Error:
        raise InvalidRequest(f"{field}: the data URL's payload is not valid base64") from None
    return check_image(data, declared=declared, max_bytes=max_bytes, field=field)


def _encoded_length(size: int) -> int:
    """The base64 length of ``size`` bytes, padding included."""
    return 4 * ((size + 2) // 3)

"""The image rules: sniffing, declared types, data URLs and the size cap (docs/api.md#images-by-url)."""

from __future__ import annotations

import base64

import pytest

from domain.errors import InvalidRequest
from domain.images import (
    ALLOWED_MEDIA_TYPES,
    DEFAULT_MAX_IMAGE_BYTES,
    check_image,
    is_data_url,
    normalize_media_type,
    parse_data_url,
    sniff_media_type,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 24
GIF = b"GIF89a" + b"\x00" * 24
WEBP = b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x00" * 16


def data_url(data: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


@pytest.mark.parametrize(
    ("data", "media_type"),
    [
        (PNG, "image/png"),
        (JPEG, "image/jpeg"),
        (GIF, "image/gif"),
        (b"GIF87a" + GIF[6:], "image/gif"),
        (WEBP, "image/webp"),
    ],
)
def test_each_allowed_type_is_recognised_by_its_magic_bytes(data: bytes, media_type: str) -> None:
    assert sniff_media_type(data) == media_type
    assert media_type in ALLOWED_MEDIA_TYPES


@pytest.mark.parametrize(
    "data",
    [b"<html><body>hi</body></html>", b"<svg xmlns='http://www.w3.org/2000/svg'/>", b"RIFF\0\0\0\0WAVEfmt ", b"BM"],
)
def test_other_bytes_are_no_image(data: bytes) -> None:
    assert sniff_media_type(data) is None


def test_declared_types_are_normalised() -> None:
    assert normalize_media_type(" Image/JPG; charset=binary") == "image/jpeg"
    assert normalize_media_type("image/PNG") == "image/png"


def test_the_bytes_decide_the_media_type_when_nothing_is_declared() -> None:
    assert check_image(GIF, declared=None, max_bytes=100, field="image").media_type == "image/gif"


def test_a_declared_type_that_the_bytes_contradict_is_refused() -> None:
    with pytest.raises(InvalidRequest, match=r"messages\[0\]: declared as image/png but the bytes are image/jpeg"):
        check_image(JPEG, declared="image/png", max_bytes=100, field="messages[0]")


def test_html_labelled_as_an_image_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="not a png, jpeg, gif or webp"):
        check_image(b"<html></html>", declared="image/png", max_bytes=100, field="image")


def test_an_empty_image_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="empty"):
        check_image(b"", declared=None, max_bytes=100, field="image")


def test_an_image_over_the_cap_is_refused_naming_the_setting() -> None:
    check_image(PNG, declared=None, max_bytes=len(PNG), field="image")
    with pytest.raises(InvalidRequest, match="MAX_IMAGE_BYTES"):
        check_image(PNG, declared=None, max_bytes=len(PNG) - 1, field="image")


def test_the_default_cap_is_bedrocks_per_image_limit() -> None:
    assert DEFAULT_MAX_IMAGE_BYTES == 3_750_000


@pytest.mark.parametrize("data", [PNG, JPEG, GIF, WEBP])
def test_a_data_url_decodes_to_its_image(data: bytes) -> None:
    media_type = sniff_media_type(data)
    assert media_type is not None
    image = parse_data_url(data_url(data, media_type), max_bytes=1000, field="image")
    assert (image.data, image.media_type) == (data, media_type)


def test_data_url_scheme_and_parameters_are_case_insensitive() -> None:
    url = "DATA:image/JPG;name=x.jpg;BASE64," + base64.b64encode(JPEG).decode()
    assert is_data_url(url)
    assert parse_data_url(url, max_bytes=1000, field="image").media_type == "image/jpeg"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://example.com/a.png", "expected a data URL"),
        ("data:image/png;base64", "must read data:<media type>;base64,<data>"),
        ("data:image/png," + PNG.hex(), "must read data:<media type>;base64,<data>"),
        ("data:image/svg+xml;base64,PHN2Zy8+", "'image/svg+xml' is not png, jpeg, gif or webp"),
        ("data:;base64," + base64.b64encode(PNG).decode(), "'(none)' is not png"),
        ("data:image/png;base64,not base64!", "not valid base64"),
        (data_url(JPEG, "image/png"), "declared as image/png but the bytes are image/jpeg"),
        (data_url(b"<html></html>", "image/png"), "not a png, jpeg, gif or webp image"),
    ],
)
def test_a_bad_data_url_is_a_400_naming_the_field(url: str, message: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_data_url(url, max_bytes=1000, field="messages[1].content[0].image")
    assert caught.value.message.startswith("messages[1].content[0].image: ")
    assert message in caught.value.message


def test_a_data_url_at_the_cap_passes_and_one_byte_more_is_refused() -> None:
    cap = len(PNG) + 5
    assert parse_data_url(data_url(PNG + b"\0" * 5), max_bytes=cap, field="image").data == PNG + b"\0" * 5
    with pytest.raises(InvalidRequest, match="MAX_IMAGE_BYTES"):
        parse_data_url(data_url(PNG + b"\0" * 6), max_bytes=cap, field="image")


def test_an_oversized_data_url_is_refused_before_it_is_decoded() -> None:
    # Invalid base64 past the cap: refused for its size, so the payload was never decoded.
    with pytest.raises(InvalidRequest, match="larger than MAX_IMAGE_BYTES"):
        parse_data_url("data:image/png;base64," + "!" * 10_000, max_bytes=100, field="image")

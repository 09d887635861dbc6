"""``DisabledImageFetcher``: the image fetcher when ``IMAGE_FETCH_ENABLED`` is off (the default)."""

from __future__ import annotations

from domain.errors import InvalidRequest
from domain.images import DEFAULT_MAX_IMAGE_BYTES, FetchedImage, is_data_url, parse_data_url


class DisabledImageFetcher:
    """Decodes data URLs, which never leave the gateway; refuses every other URL with a 400 naming the setting."""

    def __init__(self, *, max_bytes: int = DEFAULT_MAX_IMAGE_BYTES) -> None:
        self._max_bytes = max_bytes

    async def fetch(self, url: str, *, field: str = "image") -> FetchedImage:
        if is_data_url(url):
            return parse_data_url(url, max_bytes=self._max_bytes, field=field)
        raise InvalidRequest(
            f"{field}: this gateway does not fetch images by URL (IMAGE_FETCH_ENABLED=false); "
            "send the image as a data URL (data:image/png;base64,...) or as bytes"
        )

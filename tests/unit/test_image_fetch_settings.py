"""The image-fetch settings: safe defaults, bad values named, and the fetcher the container builds from them."""

from __future__ import annotations

import pytest

from adapters.images.disabled import DisabledImageFetcher
from adapters.images.http import HttpImageFetcher
from domain.errors import InvalidRequest
from entrypoints.bootstrap.adapter_choice import build_image_fetcher
from entrypoints.bootstrap.container import build_container
from entrypoints.config import ConfigError, load_settings


def test_fetching_is_off_https_only_and_capped_at_bedrocks_limit_by_default() -> None:
    settings = load_settings([], {}, None)
    assert (settings.image_fetch_enabled, settings.image_fetch_allow_http) == (False, False)
    assert (settings.max_image_bytes, settings.image_fetch_timeout_seconds) == (3_750_000, 10.0)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("IMAGE_FETCH_ENABLED", "sometimes"),
        ("MAX_IMAGE_BYTES", "0"),
        ("MAX_IMAGE_BYTES", "5MB"),
        ("IMAGE_FETCH_TIMEOUT_SECONDS", "0"),
        ("IMAGE_FETCH_TIMEOUT_SECONDS", "inf"),
        ("IMAGE_FETCH_ALLOW_HTTP", "yes please"),
    ],
)
def test_a_bad_image_setting_stops_the_start_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        load_settings([], {variable: value}, None)


async def test_by_default_the_container_refuses_urls_and_decodes_data_urls() -> None:
    fetcher = build_container(load_settings([], {"MAX_IMAGE_BYTES": "100"}, None)).image_fetcher()
    assert isinstance(fetcher, DisabledImageFetcher)
    with pytest.raises(InvalidRequest, match="IMAGE_FETCH_ENABLED"):
        await fetcher.fetch("https://images.example/cat.png")
    with pytest.raises(InvalidRequest, match=r"MAX_IMAGE_BYTES \(100 bytes\)"):
        await fetcher.fetch("data:image/png;base64," + "A" * 400)


async def test_enabled_fetching_applies_the_settings() -> None:
    environ = {"IMAGE_FETCH_ENABLED": "true", "IMAGE_FETCH_ALLOW_HTTP": "false"}
    fetcher = build_image_fetcher(load_settings([], environ, None))
    assert isinstance(fetcher, HttpImageFetcher)
    with pytest.raises(InvalidRequest, match="IMAGE_FETCH_ALLOW_HTTP=false"):
        await fetcher.fetch("http://images.example/cat.png")

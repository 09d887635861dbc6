"""Where an Azure OpenAI resource is and how to authenticate: checked once for the SDK and the lean client."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_API_VERSION = "2024-10-21"


@dataclass(frozen=True, slots=True)
class AzureAccess:
    """A checked ``AZURE_ENDPOINT`` (no trailing slash), API version and exactly one credential."""

    endpoint: str
    api_version: str
    api_key: str
    ad_token: str


def azure_access(endpoint: str, *, api_version: str = "", api_key: str = "", ad_token: str = "") -> AzureAccess:
    """``ValueError`` without an endpoint or without exactly one of an API key and an Entra bearer token.

    An empty ``api_version`` means the default (``AZURE_API_VERSION`` set to nothing).
    """
    if not endpoint:
        raise ValueError("AZURE_ENDPOINT is required for the azure provider")
    if bool(api_key) == bool(ad_token):
        raise ValueError("set exactly one of AZURE_API_KEY and AZURE_AD_TOKEN for the azure provider")
    return AzureAccess(
        endpoint=endpoint.rstrip("/"),
        api_version=api_version or DEFAULT_API_VERSION,
        api_key=api_key,
        ad_token=ad_token,
    )

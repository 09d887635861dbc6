"""The image fetcher port (``domain.ports.ImageFetcher``): over HTTP with an SSRF guard, or disabled."""

"""Container health probe: exit 0 when the gateway's /healthz answers 200.

Used by the Dockerfile's HEALTHCHECK because the slim base image has no curl or
wget. Standard library only, so it adds nothing to the image. It follows the
same settings as the server (HTTP_PORT, ENABLE_TLS), so a container started with
TLS on is probed over https; the certificate is not verified because the probe
connects to 127.0.0.1, which the certificate does not usually name.
"""

from __future__ import annotations

import os
import ssl
import sys
import urllib.error
import urllib.request


def main() -> int:
    port = os.environ.get("HTTP_PORT", "8090").strip() or "8090"
    tls = os.environ.get("ENABLE_TLS", "").strip().lower() in {"1", "true", "yes", "on"}
    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}/healthz"
    context = ssl._create_unverified_context() if tls else None
    try:
        with urllib.request.urlopen(url, timeout=3, context=context) as response:
            return 0 if response.status == 200 else 1
    except (OSError, urllib.error.URLError) as exc:
        print(f"healthcheck {url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""The response-cache key (docs/api.md#cache).

``ai:`` + SHA-256 over a canonical encoding of everything that changes the
answer. The encoding is a JSON array with a fixed order, so two requests share
a key exactly when provider, model, system prompt, every message sent, the
token cap and the temperature are all equal.
"""

from __future__ import annotations

import hashlib

import msgspec

from domain.models import ProviderCall

_KEY_VERSION = 1
_encoder = msgspec.json.Encoder()


def cache_key(provider: str, call: ProviderCall) -> str:
    canonical = [
        _KEY_VERSION,
        provider,
        call.model,
        call.system,
        [[message.role, message.content] for message in call.messages],
        call.max_tokens,
        # repr keeps every bit of the float; 0.7 and 0.70000001 are different requests.
        repr(float(call.temperature)),
    ]
    return "ai:" + hashlib.sha256(_encoder.encode(canonical)).hexdigest()

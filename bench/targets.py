"""What each system under test is asked: the same question, in each one's own API.

- ``direct``: the fake upstream's OpenAI-compatible ``/v1/chat/completions``, the body the gateway
  itself sends upstream (so ``gateway - direct`` is the gateway's own cost);
- ``gateway``: ``POST /api/v1/generate`` (or ``/generate/stream``) with a prompt and the model;
- ``openai_door``: the gateway's ``POST /v1/chat/completions`` with the body ``direct`` sends;
- ``anthropic_door``: the gateway's ``POST /v1/messages`` with the same question, cap and temperature;
- ``responses_door``: the gateway's ``POST /v1/responses`` with the same question, ``store: false``
  (the chat door and the native route keep nothing either), or ``store: true`` (the API's default);
- ``gateway_session``: ``gateway`` with a new session per request (``X-User-ID``/``X-Session-ID``): one
  stored turn and no history, the native route's counterpart of a stored response;
- ``litellm``: LiteLLM proxy's ``/v1/chat/completions`` with its master key.

Prompts carry a counter (and a per-run tag) so that no two requests are alike unless a scenario
wants cache hits (``distinct=N`` cycles through N prompts).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from bench.loadgen import Target
from bench.procs import FAKE_KEY, MODEL

RUN_TAG = uuid.uuid4().hex[:8]


def _prompt(n: int, distinct: int | None) -> str:
    return f"bench {RUN_TAG} {n % distinct if distinct else n}"


def direct(port: int, *, stream: bool = False) -> Target:
    tail = b',"stream":true,"stream_options":{"include_usage":true}' if stream else b""

    def body(n: int) -> bytes:
        prompt = _prompt(n, None).encode()
        return b'{"model":"%s","messages":[{"role":"user","content":"%s"}],"max_tokens":4096,"temperature":0.7%s}' % (
            MODEL.encode(),
            prompt,
            tail,
        )

    return Target("127.0.0.1", port, "/v1/chat/completions", body, (("Authorization", f"Bearer {FAKE_KEY}"),), stream)


def gateway(port: int, *, stream: bool = False, distinct: int | None = None) -> Target:
    def body(n: int) -> bytes:
        return b'{"prompt":"%s","model":"%s"}' % (_prompt(n, distinct).encode(), MODEL.encode())

    path = "/api/v1/generate/stream" if stream else "/api/v1/generate"
    return Target("127.0.0.1", port, path, body, (), stream)


@dataclass(frozen=True)
class _FreshSession(Target):
    """Each request names a session of its own, so every request stores one turn and reads no history."""

    def request_bytes(self, n: int) -> bytes:
        session = (("X-User-ID", f"bench-{RUN_TAG}"), ("X-Session-ID", f"s-{RUN_TAG}-{n}"))
        return Target(self.host, self.port, self.path, self.body, self.headers + session, self.stream).request_bytes(n)


def gateway_session(port: int, *, stream: bool = False) -> Target:
    same = gateway(port, stream=stream)
    return _FreshSession(same.host, same.port, same.path, same.body, (), stream)


def openai_door(port: int, *, stream: bool = False) -> Target:
    """The gateway's OpenAI-compatible door: the same chat-completions body as ``direct``, no key."""
    same = direct(port, stream=stream)
    return Target("127.0.0.1", port, same.path, same.body, (), stream)


def anthropic_door(port: int, *, stream: bool = False) -> Target:
    """The gateway's Anthropic door: the question ``direct`` asks, as a Messages request, no key."""
    tail = b',"stream":true' if stream else b""

    def body(n: int) -> bytes:
        prompt = _prompt(n, None).encode()
        return b'{"model":"%s","max_tokens":4096,"temperature":0.7,"messages":[{"role":"user","content":"%s"}]%s}' % (
            MODEL.encode(),
            prompt,
            tail,
        )

    return Target("127.0.0.1", port, "/v1/messages", body, (), stream)


def responses_door(port: int, *, stream: bool = False, store: bool = False) -> Target:
    """The gateway's Responses API door: the same question, cap and temperature as ``direct``, stored or not."""
    tail = (b"true" if store else b"false") + (b',"stream":true' if stream else b"")

    def body(n: int) -> bytes:
        prompt = _prompt(n, None).encode()
        return b'{"model":"%s","input":"%s","max_output_tokens":4096,"temperature":0.7,"store":%s}' % (
            MODEL.encode(),
            prompt,
            tail,
        )

    return Target("127.0.0.1", port, "/v1/responses", body, (), stream)


def litellm(port: int, key: str, *, stream: bool = False) -> Target:
    """The same chat-completions body as ``direct``, through LiteLLM's proxy."""
    same = direct(port, stream=stream)
    return Target("127.0.0.1", port, same.path, same.body, (("Authorization", f"Bearer {key}"),), stream)


def batch_body(items: int) -> bytes:
    requests = ",".join(f'{{"prompt":"batch {RUN_TAG} {i}","model":"{MODEL}"}}' for i in range(items))
    return f'{{"requests":[{requests}]}}'.encode()

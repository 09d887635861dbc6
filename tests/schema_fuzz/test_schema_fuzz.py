"""The bounded schema fuzzing of CI: schemathesis over ``/schema/openapi.json``, every operation, every check.

Two real servers on embedded defaults: one open (no keys), one with API keys
and rate limits, fuzzed with the admin key (schemathesis also drops it, for
the 401s) and then with a user key over the admin routes (the 403s). A few
examples per operation and a fixed seed keep it within about a minute on two
busy cores; ``python -m tests.schema_fuzz`` is the long form.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, cast

import httpx
import jsonschema
import pytest

from tests.schema_fuzz.runner import ADMIN_KEY, KEYED_ENV, NO_STATEFUL, USER_KEY, FuzzResult, run_schemathesis
from tests.support.server import ServerProcess

SEED = 20261202
EXAMPLES = 4
# An answer slower than this fails (max_response_time): the mock answers in microseconds, so only a stall
# (a blocked event loop, a lost wake-up) or a very busy machine comes near it.
MAX_RESPONSE_SECONDS = 5.0


@pytest.fixture(scope="module")
def open_server() -> Iterator[ServerProcess]:
    with ServerProcess() as server:
        yield server


@pytest.fixture(scope="module")
def keyed_server() -> Iterator[ServerProcess]:
    with ServerProcess(KEYED_ENV) as server:
        yield server


def _explain(result: FuzzResult) -> str:
    return (
        f"{result.cases} cases, {result.unique_failures} failures (exit {result.returncode}):\n{result.output[-20000:]}"
    )


def test_every_operation_conforms_without_keys(open_server: ServerProcess) -> None:
    result = run_schemathesis(
        open_server.base_url, max_examples=EXAMPLES, max_response_time=MAX_RESPONSE_SECONDS, seed=SEED
    )
    assert result.passed, _explain(result)
    assert result.cases > 100  # every operation was fuzzed, not a document that failed to load


def test_every_operation_conforms_with_keys_and_limits(keyed_server: ServerProcess) -> None:
    result = run_schemathesis(
        keyed_server.base_url,
        max_examples=EXAMPLES,
        max_response_time=MAX_RESPONSE_SECONDS,
        seed=SEED,
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    assert result.passed, _explain(result)
    assert result.cases > 100


def test_admin_routes_conform_for_a_user_key(keyed_server: ServerProcess) -> None:
    result = run_schemathesis(
        keyed_server.base_url,
        max_examples=3,
        max_response_time=MAX_RESPONSE_SECONDS,
        seed=SEED,
        headers={"X-API-Key": USER_KEY},
        extra=["--include-path-regex", "^/api/v1/cache/(invalidate|blacklist)", *NO_STATEFUL],
    )
    assert result.passed, _explain(result)
    assert result.cases > 0


# Each failure class the fuzzing found, as a regression test of its own (docs/reliability.md#schema-fuzzing).


def _document(server: ServerProcess, headers: dict[str, str] | None = None) -> dict[str, Any]:
    answer = httpx.get(server.base_url + "/schema/openapi.json", headers=headers, timeout=30)
    assert answer.status_code == 200
    return cast(dict[str, Any], answer.json())


def _body_schema(document: dict[str, Any], path: str) -> dict[str, Any]:
    return cast(dict[str, Any], document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"])


def test_a_405_says_which_methods_the_path_has(open_server: ServerProcess) -> None:
    for method, path, allowed in (
        ("TRACE", "/api/v1/models", "GET, OPTIONS"),
        ("GET", "/api/v1/generate", "OPTIONS, POST"),  # a route FastGenerate answers: Litestar declares it
        ("PUT", "/api/v1/sessions/abc", "DELETE, GET, OPTIONS"),
    ):
        answer = httpx.request(method, open_server.base_url + path, timeout=30)
        assert answer.status_code == 405
        assert set(answer.headers["allow"].split(", ")) == set(allowed.split(", ")), (method, path)
        assert set(answer.json()) == {"error", "code", "requestId"}


def test_options_on_a_path_of_two_handlers_lists_both(open_server: ServerProcess) -> None:
    answer = httpx.options(open_server.base_url + "/api/v1/sessions/abc", timeout=30)
    assert answer.status_code == 204
    assert answer.headers["allow"] == "DELETE, GET, OPTIONS"  # was "GET, OPTIONS": Litestar's first handler only


def test_errors_are_documented_in_the_shape_the_gateway_sends(open_server: ServerProcess) -> None:
    document = _document(open_server)
    generate = document["paths"]["/api/v1/generate"]["post"]["responses"]
    assert {"200", "400", "404", "408", "413", "429", "502", "503", "504"} <= set(generate)
    error = generate["400"]["content"]["application/json"]["schema"]
    assert error["required"] == ["error", "code", "requestId"]  # not Litestar's {status_code, detail}
    refused = httpx.post(open_server.base_url + "/api/v1/generate", json={"prompt": ""}, timeout=30)
    assert refused.status_code == 400
    jsonschema.validate(refused.json(), error)
    for status in ("429", "503"):
        assert generate[status]["headers"]["Retry-After"]["required"] is True
    assert generate["200"]["headers"]["X-Request-ID"]["required"] is True
    stream = document["paths"]["/api/v1/generate/stream"]["post"]["responses"]["200"]["content"]
    assert list(stream) == ["text/event-stream"]


def test_the_limits_the_domain_checks_are_in_the_document(open_server: ServerProcess) -> None:
    schema = _body_schema(_document(open_server), "/api/v1/generate")
    refused: list[dict[str, Any]] = [
        {"temperature": 3},
        {"temperature": -0.5},
        {"maxTokens": 0},
        {"topP": 0},
        {"prompt": "  \n"},
    ]
    refused += [{"prompt": "a\x00b"}, {"stop": ["a", "b", "c", "d", "e"]}, {"tools": [{"name": "has space"}]}]
    for body in refused:
        assert not jsonschema.Draft202012Validator(schema).is_valid(body), body
        answer = httpx.post(open_server.base_url + "/api/v1/generate", json={"prompt": "hi", **body}, timeout=30)
        assert answer.status_code == 400, body  # and the gateway refuses it, as the document says
    for body in ({"prompt": "hi", "temperature": 2, "maxTokens": 1, "topP": 1, "stop": ["x"]}, {"prompt": ""}):
        assert jsonschema.Draft202012Validator(schema).is_valid(body), body


def test_a_batch_documents_its_items_without_the_rules_it_answers_in_place(open_server: ServerProcess) -> None:
    schema = _body_schema(_document(open_server), "/api/v1/generate/batch")
    assert schema["properties"]["requests"]["minItems"] == 1
    item = {"prompt": "hi", "temperature": 3}
    assert jsonschema.Draft202012Validator(schema).is_valid({"requests": [item]})
    answer = httpx.post(open_server.base_url + "/api/v1/generate/batch", json={"requests": [item]}, timeout=30)
    assert answer.status_code == 200
    assert answer.json()["responses"][0]["code"] == "invalid_request"
    assert "x-request-rules" not in json.dumps(_document(open_server))  # the marks never reach the document


def test_validate_without_a_prompt_is_a_malformed_body(open_server: ServerProcess) -> None:
    for body in ({}, {"prompt": None}):
        answer = httpx.post(open_server.base_url + "/api/v1/validate", json=body, timeout=30)
        assert answer.status_code == 400
        assert set(answer.json()) == {"error", "code", "requestId"}


def test_keys_on_puts_the_key_schemes_and_their_refusals_in_the_document(keyed_server: ServerProcess) -> None:
    document = _document(keyed_server, {"Authorization": f"Bearer {ADMIN_KEY}"})
    assert set(document["components"]["securitySchemes"]) == {"bearer", "apiKey"}
    invalidate = document["paths"]["/api/v1/cache/invalidate"]["post"]
    assert {"401", "403", "429"} <= set(invalidate["responses"])
    assert invalidate["responses"]["401"]["headers"]["WWW-Authenticate"]["required"] is True
    assert invalidate["security"] == [{"bearer": []}, {"apiKey": []}]
    health = document["paths"]["/healthz"]["get"]
    assert "401" not in health["responses"] and "security" not in health  # public: no key asked
    refused = httpx.post(keyed_server.base_url + "/api/v1/generate", json={"prompt": "hi"}, timeout=30)
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")


def test_an_open_gateway_documents_no_key_refusals(open_server: ServerProcess) -> None:
    document = _document(open_server)
    assert "securitySchemes" not in document.get("components", {})
    assert "401" not in document["paths"]["/api/v1/generate"]["post"]["responses"]


def test_a_blank_cache_key_is_refused_by_the_document_as_by_the_gateway(open_server: ServerProcess) -> None:
    document = _document(open_server)
    schema = _body_schema(document, "/api/v1/cache/invalidate")
    assert not jsonschema.Draft202012Validator(schema).is_valid({"cache_key": " \t"})
    answer = httpx.post(open_server.base_url + "/api/v1/cache/invalidate", json={"cache_key": " \t"}, timeout=30)
    assert answer.status_code == 400
    (parameter,) = document["paths"]["/api/v1/cache/blacklist/{cache_key}"]["delete"]["parameters"]
    for segment in (" ", ".", "..", "a/b", "a\x01b"):
        assert not jsonschema.Draft202012Validator(parameter["schema"]).is_valid(segment), segment
    assert jsonschema.Draft202012Validator(parameter["schema"]).is_valid("ai:0f3e")


def test_the_openai_door_is_documented_in_its_own_error_shape(keyed_server: ServerProcess) -> None:
    document = _document(keyed_server, {"Authorization": f"Bearer {ADMIN_KEY}"})
    chat = document["paths"]["/v1/chat/completions"]["post"]["responses"]
    assert set(chat["200"]["content"]) == {"application/json", "text/event-stream"}  # `stream` picks one
    for status in ("400", "401", "404", "429"):
        assert chat[status]["content"]["application/json"]["schema"]["required"] == ["error"], status
    refused = httpx.post(keyed_server.base_url + "/v1/chat/completions", json={"model": "mock-1"}, timeout=30)
    assert refused.status_code == 401
    jsonschema.validate(refused.json(), chat["401"]["content"]["application/json"]["schema"])
    native = document["paths"]["/api/v1/generate"]["post"]["responses"]["401"]["content"]["application/json"]
    assert native["schema"]["required"] == ["error", "code", "requestId"]  # each door its own shape


def test_blank_means_what_python_strips_in_the_document_too(open_server: ServerProcess) -> None:
    """JSON Schema's ``\\s`` lacks U+001C..U+001F and U+0085 and has U+FEFF; the gateway's ``str.strip`` the reverse."""
    schema = _body_schema(_document(open_server), "/api/v1/validate")
    for prompt, taken in (("\x1e", False), ("\x85\x1c", False), ("\u3000", False), ("\ufeff", True), ("a\x1f", True)):
        assert jsonschema.Draft202012Validator(schema).is_valid({"prompt": prompt}) is taken, repr(prompt)
        answer = httpx.post(open_server.base_url + "/api/v1/validate", json={"prompt": prompt}, timeout=30)
        assert (answer.status_code == 200) is taken, repr(prompt)

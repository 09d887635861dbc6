"""OpenAI's Responses API: ``/v1/responses`` and its stored responses (docs/api.md#responses-api)."""

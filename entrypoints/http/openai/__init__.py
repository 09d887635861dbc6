"""The OpenAI-compatible dialect: ``/v1/chat/completions`` and ``/v1/models`` (docs/api.md#openai-compatible-api)."""

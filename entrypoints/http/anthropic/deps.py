"""What the Anthropic dialect's routes need, resolved once from the container."""

from __future__ import annotations

from dataclasses import dataclass

from application.count_tokens import CountTokens
from application.generate import Generate
from application.generate_stream import GenerateStream
from domain.catalogue import Catalogue
from domain.validation import RequestLimits
from entrypoints.bootstrap.container import Container, resolve
from entrypoints.config import Settings


@dataclass(frozen=True, slots=True)
class AnthropicDeps:
    catalogue: Catalogue
    limits: RequestLimits
    generate: Generate
    generate_stream: GenerateStream
    count_tokens: CountTokens
    settings: Settings

    @classmethod
    def from_container(cls, container: Container) -> AnthropicDeps:
        return resolve(cls, container)

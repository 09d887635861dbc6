"""What the OpenAI dialect's routes need, resolved once from the container."""

from __future__ import annotations

from dataclasses import dataclass

from application.generate import Generate
from application.generate_stream import GenerateStream
from application.list_models import ListModels
from application.tool_loop import ToolLoop
from domain.catalogue import Catalogue
from domain.embedding_catalogue import EmbeddingCatalogue
from domain.validation import RequestLimits
from entrypoints.bootstrap.container import Container, resolve


@dataclass(frozen=True, slots=True)
class OpenAIDeps:
    catalogue: Catalogue
    limits: RequestLimits
    generate: Generate
    generate_stream: GenerateStream
    list_models: ListModels
    embedding_catalogue: EmbeddingCatalogue
    tool_loop: ToolLoop

    @classmethod
    def from_container(cls, container: Container) -> OpenAIDeps:
        return resolve(cls, container)

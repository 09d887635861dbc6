"""What the Responses API's routes need, resolved once from the container."""

from __future__ import annotations

from dataclasses import dataclass

from application.generate import Generate
from application.generate_stream import GenerateStream
from application.response_chains import ResponseChains
from application.tool_loop import ToolLoop
from domain.catalogue import Catalogue
from domain.validation import RequestLimits
from entrypoints.bootstrap.container import Container, resolve


@dataclass(frozen=True, slots=True)
class ResponsesDeps:
    catalogue: Catalogue
    limits: RequestLimits
    generate: Generate
    generate_stream: GenerateStream
    response_chains: ResponseChains
    tool_loop: ToolLoop

    @classmethod
    def from_container(cls, container: Container) -> ResponsesDeps:
        return resolve(cls, container)

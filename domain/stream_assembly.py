"""Whole tool calls and reasoning blocks from the fragments of a stream (docs/api.md#stream).

A provider streams a tool call as fragments that share an ``index``: the first
names the call (``id``, ``name``), the rest carry the next pieces of its JSON
arguments; fragments of parallel calls may interleave. Reasoning streams as
text fragments, and a signature (or a redacted payload) closes the block.
The assembled parts are what the answer, the cache and the session keep.
"""

from __future__ import annotations

from domain.content import ReasoningDelta, ReasoningPart, ToolCallDelta, ToolCallPart


class ToolCallAssembly:
    """The tool calls of one streamed answer, in the order of their indexes."""

    def __init__(self) -> None:
        self._calls: dict[int, tuple[str, str, list[str]]] = {}

    def add(self, delta: ToolCallDelta) -> None:
        call_id, name, arguments = self._calls.get(delta.index, ("", "", []))
        arguments.append(delta.arguments)
        self._calls[delta.index] = (call_id or delta.id, name or delta.name, arguments)

    def calls(self) -> tuple[ToolCallPart, ...]:
        return tuple(
            ToolCallPart(id=call_id, name=name, arguments="".join(arguments) or "{}")
            for _, (call_id, name, arguments) in sorted(self._calls.items())
        )


class ReasoningAssembly:
    """The reasoning blocks of one streamed answer: text runs until a signature or redacted payload closes it."""

    def __init__(self) -> None:
        self._blocks: list[ReasoningPart] = []
        self._text: list[str] = []

    def add(self, delta: ReasoningDelta) -> None:
        self._text.append(delta.text)
        if delta.signature or delta.redacted:
            self._blocks.append(
                ReasoningPart(text="".join(self._text), signature=delta.signature, redacted=delta.redacted)
            )
            self._text = []

    def blocks(self) -> tuple[ReasoningPart, ...]:
        tail = "".join(self._text)
        return (*self._blocks, ReasoningPart(text=tail)) if tail else tuple(self._blocks)

"""A tool call through /mcp is a span of its own in the caller's trace, the parent of what the call does."""

from __future__ import annotations

from tests.support.mcp_peers import mcp_client
from tests.support.otlp_receiver import OtlpReceiver
from tests.support.server import ServerProcess


async def test_a_tool_call_is_an_mcp_tool_call_span_and_the_generation_is_its_child() -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    with OtlpReceiver() as collector:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.url, "OTEL_BSP_SCHEDULE_DELAY": "100"}
        with ServerProcess(env) as server:
            headers = {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
            async with mcp_client(server, headers=headers) as client:
                result = await client.call_tool("generate", {"prompt": "traced"})
            assert not result.is_error
            spans = collector.wait_for_spans(trace_id, count=3)
    by_name = {span.name: span for span in spans}
    assert {"POST /mcp", "mcp.tool_call", "generate"} <= set(by_name)
    assert by_name["generate"].parent_span_id == by_name["mcp.tool_call"].span_id

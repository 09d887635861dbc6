// Streams one answer from POST /api/v1/generate/stream and shows it as it arrives.
// EventSource can only GET, so the page reads the text/event-stream body of a fetch() itself.
"use strict";

(() => {
  const { $, formRequest, session, apiKey, setStatus, append, clear, showFinal } = window.McpExamples;
  let controller = null;

  function headers() {
    const result = { "Content-Type": "application/json", Accept: "text/event-stream" };
    const { userId, sessionId } = session();
    if (userId) result["X-User-ID"] = userId;
    if (sessionId) result["X-Session-ID"] = sessionId;
    if (apiKey()) result.Authorization = `Bearer ${apiKey()}`;
    return result;
  }

  // One SSE event is a block of lines ended by a blank line; its data: lines joined are one JSON object.
  async function readEvents(body, onEvent) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block
          .split("\n")
          .filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(5).trimStart())
          .join("\n");
        if (data) onEvent(JSON.parse(data)); // ": ping" comments carry no data
      }
    }
  }

  function onEvent(event) {
    if (event.error) {
      setStatus(`Error (${event.code}): ${event.error}`, "error");
    } else if (event.finished) {
      showFinal(event);
      setStatus("Done.", "done");
    } else {
      append(event.content);
    }
  }

  async function failure(response) {
    const body = await response.json().catch(() => ({ error: response.statusText, code: "" }));
    setStatus(`HTTP ${response.status} (${body.code}): ${body.error}`, "error");
  }

  function busy(running) {
    $("#send").disabled = running;
    $("#stop").disabled = !running;
  }

  async function send(event) {
    event.preventDefault();
    clear();
    busy(true);
    setStatus("Streaming…", "streaming");
    controller = new AbortController();
    try {
      const response = await fetch("/api/v1/generate/stream", {
        method: "POST",
        headers: headers(),
        body: JSON.stringify(formRequest()),
        signal: controller.signal,
      });
      if (!response.ok) {
        await failure(response);
        return;
      }
      await readEvents(response.body, onEvent);
      if ($("#status").dataset.state === "streaming") setStatus("The stream ended without a final event.", "error");
    } catch (error) {
      if (error.name === "AbortError") setStatus("Stopped: the gateway cancels the upstream call.", "ready");
      else setStatus(`Error: ${error.message}`, "error");
    } finally {
      busy(false);
    }
  }

  $("#form").addEventListener("submit", send);
  $("#stop").addEventListener("click", () => controller && controller.abort());
  setStatus("Ready.", "ready");
})();

// Helpers shared by the example pages: the request object of SPEC §3 from the form, and the status line.
"use strict";

window.McpExamples = (() => {
  const $ = (selector) => document.querySelector(selector);

  // Only the fields the user filled in: absent fields take the gateway's defaults.
  function formRequest() {
    const request = { prompt: $("#prompt").value };
    const model = $("#model").value.trim();
    const system = $("#system").value.trim();
    if (model) request.model = model;
    if (system) request.system = system;
    return request;
  }

  function session() {
    return { userId: $("#userId").value.trim(), sessionId: $("#sessionId").value.trim() };
  }

  function apiKey() {
    return $("#apiKey").value.trim();
  }

  // state: ready | streaming | done | error | connecting | open | closed (tests and styles read data-state).
  function setStatus(text, state) {
    const status = $("#status");
    status.textContent = text;
    status.dataset.state = state;
    status.classList.toggle("error", state === "error");
  }

  function append(text) {
    $("#output").append(document.createTextNode(text));
  }

  function clear() {
    $("#output").textContent = "";
    $("#stats").textContent = "";
  }

  function showFinal(chunk) {
    const lines = [
      `model ${chunk.model} via ${chunk.provider}${chunk.cached ? " (cached)" : ""}`,
      `tokens ${chunk.totalTokens} (prompt ${chunk.promptTokens}, completion ${chunk.completionTokens})`,
      `finish ${chunk.finishReason}, ${chunk.processingTime}, request ${chunk.requestId}`,
    ];
    $("#stats").textContent = lines.join("\n");
  }

  return { $, formRequest, session, apiKey, setStatus, append, clear, showFinal };
})();

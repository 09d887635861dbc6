// Talks to /ws: one socket, many requests, each answer's frames matched by the request's id.
"use strict";

(() => {
  const { $, formRequest, session, apiKey, setStatus, append, clear, showFinal } = window.McpExamples;
  let socket = null;
  let nextId = 1;
  let current = null; // the id whose answer the page shows

  // ?ws=ws://host:8091/ws picks another endpoint; by default the /ws of the server that served this page.
  function defaultUrl() {
    const chosen = new URLSearchParams(location.search).get("ws");
    if (chosen) return chosen;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}/ws`;
  }

  function connect() {
    if (socket) socket.close();
    // Browsers cannot set headers on a WebSocket: the key travels as ?apiKey= (use wss:// outside localhost).
    const url = new URL($("#url").value.trim() || defaultUrl(), location.href);
    if (apiKey()) url.searchParams.set("apiKey", apiKey());
    const opened = new WebSocket(url);
    socket = opened;
    setStatus("Connecting…", "connecting");
    // Events of a socket that was replaced (Reconnect) must not overwrite the state of the new one.
    const mine = (handler) => (event) => opened === socket && handler(event);
    opened.addEventListener("open", mine(() => setStatus("Connected.", "open")));
    opened.addEventListener("close", mine((event) => setStatus(`Disconnected (code ${event.code}).`, "closed")));
    opened.addEventListener("message", mine((event) => onFrame(JSON.parse(event.data))));
  }

  function onFrame(frame) {
    if (frame.id !== current) return; // a frame of an earlier request the page no longer shows
    if (frame.error) {
      setStatus(`Error (${frame.code}): ${frame.error}`, "error");
    } else if (frame.finished) {
      showFinal(frame);
      setStatus("Done.", "done");
    } else {
      append(frame.content);
    }
  }

  function send(event) {
    event.preventDefault();
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      setStatus("Not connected: press Reconnect.", "error");
      return;
    }
    current = `req-${nextId++}`;
    const request = { ...formRequest(), id: current };
    const { userId, sessionId } = session();
    if (userId) request.userId = userId;
    if (sessionId) request.sessionId = sessionId;
    clear();
    setStatus("Streaming…", "streaming");
    socket.send(JSON.stringify(request));
  }

  $("#url").value = defaultUrl();
  $("#form").addEventListener("submit", send);
  $("#reconnect").addEventListener("click", connect);
  $("#apiKey").addEventListener("change", connect);
  connect();
})();

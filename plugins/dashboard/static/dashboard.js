// The dashboard's shared script: the session's CSRF token, a WebSocket helper, the live badge.
"use strict";
window.hubDashboard = (function () {
  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrf = meta ? meta.content : "";

  async function post(url) {
    const response = await fetch(url, {method: "POST", headers: {"X-CSRF-Token": csrf, "Accept": "application/json"},
                                       credentials: "same-origin"});
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || ("The Hub answered " + response.status));
    return body;
  }

  // A Hub WebSocket on this origin, authenticated by its first message with the session's
  // short-lived token; onConnected runs once the Hub has accepted it.
  async function socket(path, onMessage, onConnected) {
    const {token} = await post(document.body.dataset.tokenUrl || "socket-token-url-missing");
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + path);
    ws.addEventListener("open", () => ws.send(JSON.stringify({type: "auth", token: token})));
    ws.addEventListener("message", (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      if (message.type === "ping") { ws.send(JSON.stringify({type: "pong"})); return; }
      if (message.type === "connected") { if (onConnected) onConnected(ws); return; }
      onMessage(message, ws);
    });
    return ws;
  }

  function liveBadge() {
    const badge = document.getElementById("unread");
    if (!badge) return;
    socket("/ws/notifications", (message) => {
      if (["pong", "authenticated", "error"].includes(message.type)) return;
      const count = parseInt(badge.dataset.count || "0", 10) + 1;
      badge.dataset.count = String(count);
      badge.textContent = String(count);
    }, () => { badge.dataset.live = "true"; }).catch(() => {});
  }

  document.addEventListener("DOMContentLoaded", liveBadge);
  return {csrf: csrf, post: post, socket: socket};
})();

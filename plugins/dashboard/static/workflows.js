// Run a workflow and follow its execution live: listen on /ws first, then start it, then show
// every workflow.execution.* event of that execution as it arrives.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  const card = document.getElementById("progress-card");
  const log = document.getElementById("execution-log");
  const statusText = document.getElementById("execution-status");
  const bar = document.getElementById("execution-progress");
  let current = null;
  let socket = null;
  let early = [];  // events that arrived before the run's answer named the execution

  function show(message) {
    const data = message.data || {};
    if (!current) { early.push(message); return; }
    if (data.execution_id !== current) return;
    const item = document.createElement("li");
    item.textContent = message.type + (data.node_id ? " · " + data.node_id : "") + (data.status ? " · " + data.status : "");
    log.appendChild(item);
    if (message.type.indexOf("workflow.execution.step_") !== 0 && data.status) statusText.textContent = data.status;
    if (typeof data.progress === "number") bar.value = data.progress;
    if (["completed", "failed", "cancelled", "timed_out"].includes(data.status) && message.type.indexOf("step_") < 0) {
      card.dataset.finished = data.status;
      if (data.status === "completed") bar.value = 100;
    }
  }

  for (const form of document.querySelectorAll(".run-form")) {
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      card.hidden = false;
      log.textContent = "";
      bar.value = 0;
      statusText.textContent = "connecting";
      delete card.dataset.finished;
      try {
        if (!socket || socket.readyState !== WebSocket.OPEN) {
          await new Promise((resolve, reject) => {
            window.hubDashboard.socket("/ws", show, resolve).then((ws) => {
              socket = ws;
              ws.addEventListener("close", () => { socket = null; });
              ws.addEventListener("error", reject);
            }, reject);
          });
        }
        statusText.textContent = "starting";
        current = null;
        early = [];
        const started = await window.hubDashboard.post(form.action);
        current = started.execution_id;
        document.getElementById("execution-id").textContent = current;
        statusText.textContent = started.status || "pending";
        const buffered = early;
        early = [];
        buffered.forEach(show);
      } catch (error) {
        statusText.textContent = "error: " + error.message;
      }
    });
  }
});

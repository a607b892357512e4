// The workspace heartbeat: tells the server this agent is still connected, every few seconds.
(function () {
  "use strict";
  var root = document.getElementById("workspace");
  if (!root) return;
  var url = root.dataset.heartbeatUrl;
  var interval = Math.max(5, parseInt(root.dataset.interval, 10) || 15) * 1000;
  var statusEl = document.getElementById("agent-status");
  var loadEl = document.getElementById("agent-load");
  var capacityEl = document.getElementById("agent-capacity");
  var connection = document.getElementById("connection");

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    var field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  function beat() {
    fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" },
    })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        if (statusEl.textContent !== data.status) {
          // Changed elsewhere (another tab, or a connectivity lapse): reload to show the toggle right.
          window.location.reload();
          return;
        }
        loadEl.textContent = data.load;
        capacityEl.textContent = data.capacity;
        connection.textContent = "Connected. Last heartbeat " + new Date().toLocaleTimeString() + ".";
      })
      .catch(function () {
        connection.textContent = "Connection problem: retrying…";
      });
  }

  beat();
  window.setInterval(beat, interval);
})();

// Team Pulse: refresh every agent's status, load and capacity from pulse.json without a reload.
// The page is complete without this script (server-rendered, with a Refresh link).
(() => {
  "use strict";

  // The product's one way to write times and durations (core/timefmt.py does the same).
  const clock = (at) => [at.getHours(), at.getMinutes(), at.getSeconds()]
    .map((n) => String(n).padStart(2, "0")).join(":");
  const ago = (seconds) => {
    if (seconds === null || seconds === undefined) return "—";
    if (seconds < 5) return "just now";
    const s = Math.floor(seconds), m = Math.floor(s / 60), h = Math.floor(s / 3600), d = Math.floor(s / 86400);
    if (s < 60) return `${s} s ago`;
    if (h === 0) return `${m} min ago`;
    if (d === 0) return m - h * 60 ? `${h} h ${m - h * 60} min ago` : `${h} h ago`;
    return h - d * 24 ? `${d} d ${h - d * 24} h ago` : `${d} d ago`;
  };
  const table = document.getElementById("pulse-table");
  if (!table || !window.fetch) return;
  const body = table.tBodies[0];
  const interval = Math.max(1000, Number(table.dataset.interval) || 3000);
  const updated = document.getElementById("pulse-updated");
  const timelineUrl = (id) => table.dataset.timeline.replace("/0/", `/${id}/`);
  const SVG = "http://www.w3.org/2000/svg";
  let failures = 0;

  // data-label names a cell on a phone, where each row is a card (app.css), as in the template.
  const cell = (tag, field, label) => {
    const element = document.createElement(tag);
    if (field) element.dataset.field = field;
    if (label !== undefined) element.dataset.label = label;
    return element;
  };

  const statusText = (agent) => (agent.signed_in ? agent.status : "Signed out");

  const fill = (row, agent) => {
    row.dataset.agentId = agent.id;
    row.dataset.state = agent.state;
    row.classList.toggle("over", agent.over_capacity);
    row.querySelector('[data-field="name"]').textContent = agent.name;
    const pill = row.querySelector('[data-field="status"] .pill');
    pill.className = `pill pill-${agent.state}`;
    pill.textContent = statusText(agent);
    row.querySelector('[data-field="load"] .load-text').textContent = agent.load;
    const share = agent.capacity > 0 ? (100 * agent.load) / agent.capacity : agent.load > 0 ? 100 : 0;
    row.querySelector('[data-field="load"] .load-bar rect').setAttribute("width", Math.min(100, share));
    row.querySelector('[data-field="capacity"]').textContent = agent.capacity;
    const heartbeat = row.querySelector('[data-field="heartbeat"]');
    heartbeat.textContent = ago(agent.heartbeat_age_seconds);
  };

  const newRow = (agent) => {
    const row = document.createElement("tr");
    const name = cell("th", "name");
    name.scope = "row";
    const status = cell("td", "status", "Status");
    const pill = document.createElement("span");
    status.append(pill);
    const load = cell("td", "load", "Load");
    const text = document.createElement("span");
    text.className = "load-text";
    const bar = document.createElementNS(SVG, "svg");
    bar.setAttribute("class", "load-bar");
    bar.setAttribute("viewBox", "0 0 100 1");
    bar.setAttribute("preserveAspectRatio", "none");
    bar.setAttribute("aria-hidden", "true");
    const fillRect = document.createElementNS(SVG, "rect");
    fillRect.setAttribute("height", "1");
    bar.append(fillRect);
    load.append(text, bar);
    const link = document.createElement("a");
    link.href = timelineUrl(agent.id);
    link.textContent = "Timeline";
    const last = cell("td", null, "");
    last.append(link);
    row.append(name, status, load, cell("td", "capacity", "Capacity"), cell("td", "heartbeat", "Last heartbeat"), last);
    return row;
  };

  const render = (data) => {
    const existing = new Map([...body.querySelectorAll("tr[data-agent-id]")].map((row) => [row.dataset.agentId, row]));
    body.querySelectorAll("tr.no-agents").forEach((row) => row.remove());
    data.agents.forEach((agent) => {
      const row = existing.get(String(agent.id)) || newRow(agent);
      existing.delete(String(agent.id));
      fill(row, agent);
      body.append(row); // keeps the server's order (by name)
    });
    existing.forEach((row) => row.remove());
    Object.entries(data.summary).forEach(([key, value]) => {
      const target = document.querySelector(`[data-summary="${key}"]`);
      if (target) target.textContent = value;
    });
    const at = new Date(data.generated_at);
    updated.textContent = `Live: updated ${clock(at)}.`;
    updated.dataset.generatedAt = data.generated_at;
  };

  const poll = async () => {
    try {
      const response = await fetch(table.dataset.src, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      render(await response.json());
      failures = 0;
    } catch (error) {
      failures += 1;
      updated.textContent = "Live updates paused: the server could not be reached. Retrying…";
    }
    // Back off while failing, so a down server is not hammered.
    setTimeout(poll, interval * Math.min(10, 2 ** failures));
  };
  setTimeout(poll, interval);
})();

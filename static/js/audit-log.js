// Audit Log page enhancements: instant sub-filters, Before/After popovers on hover and focus,
// and background exports with a live progress bar. The page works without this script.
(() => {
  "use strict";

  // Sub-filters: a hidden group is also disabled, so its fields are not submitted.
  const typeSelect = document.querySelector("[data-event-type]");
  const groups = document.querySelectorAll("[data-subfilters-for]");
  const syncSubfilters = () => {
    const chosen = (typeSelect.value || "").split(",");
    groups.forEach((group) => {
      const active = chosen.includes(group.dataset.subfiltersFor);
      group.hidden = !active;
      group.disabled = !active;
    });
  };
  if (typeSelect) typeSelect.addEventListener("change", syncSubfilters);

  // Popovers: open on hover or keyboard focus, stay open while the pointer is over them,
  // close on leaving, blur or Escape.
  const supportsPopover = typeof HTMLElement.prototype.showPopover === "function";
  let hideTimer = null;
  const popoverOf = (button) => document.getElementById(button.getAttribute("popovertarget"));

  const place = (button, popover) => {
    const cell = button.getBoundingClientRect();
    popover.classList.add("anchored");
    const width = popover.offsetWidth;
    const height = popover.offsetHeight;
    let left = Math.min(cell.left, window.innerWidth - width - 8);
    let top = cell.bottom + 6;
    if (top + height > window.innerHeight - 8) top = Math.max(8, cell.top - height - 6);
    popover.style.left = `${Math.max(8, left)}px`;
    popover.style.top = `${top}px`;
  };

  const show = (button) => {
    const popover = popoverOf(button);
    if (!popover || !supportsPopover) return;
    clearTimeout(hideTimer);
    document.querySelectorAll(".value-popover:popover-open").forEach((open) => {
      if (open !== popover) open.hidePopover();
    });
    if (!popover.matches(":popover-open")) popover.showPopover();
    button.setAttribute("aria-expanded", "true");
    place(button, popover);
  };

  const hide = (button, delay = 0) => {
    const popover = popoverOf(button);
    if (!popover) return;
    clearTimeout(hideTimer);
    hideTimer = setTimeout(() => {
      if (popover.matches(":popover-open") && !popover.matches(":hover")) popover.hidePopover();
      button.setAttribute("aria-expanded", "false");
    }, delay);
  };

  const table = document.getElementById("audit-table");
  if (table && supportsPopover) {
    table.addEventListener("mouseover", (event) => {
      const button = event.target.closest("button.value");
      if (button && !button.contains(event.relatedTarget)) show(button);
    });
    table.addEventListener("mouseout", (event) => {
      const button = event.target.closest("button.value");
      if (button && !button.contains(event.relatedTarget)) hide(button, 150);
    });
    table.addEventListener("focusin", (event) => {
      const button = event.target.closest("button.value");
      if (button) show(button);
    });
    table.addEventListener("focusout", (event) => {
      const button = event.target.closest("button.value");
      if (button) hide(button);
    });
    // With script the click pins the popover open instead of toggling it shut after hover.
    table.addEventListener("click", (event) => {
      const button = event.target.closest("button.value");
      if (button) {
        event.preventDefault();
        show(button);
      }
    });
    document.querySelectorAll(".value-popover").forEach((popover) => {
      popover.addEventListener("mouseleave", () => popover.hidePopover());
    });
    document.addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      document.querySelectorAll(".value-popover:popover-open").forEach((open) => open.hidePopover());
    });
    window.addEventListener("scroll", () => {
      document.querySelectorAll(".value-popover:popover-open").forEach((open) => open.hidePopover());
    }, { passive: true });
  }

  // Export: start a background export and show its progress; fall back to the streamed
  // download when the background export is not available.
  const exportBox = document.querySelector("[data-export]");
  if (exportBox && window.fetch) {
    const bar = exportBox.querySelector("progress");
    const progressBox = exportBox.querySelector("[data-export-progress]");
    const statusText = exportBox.querySelector("[data-export-status]");
    const say = (text) => { statusText.textContent = text; };
    const finished = new Set(["done", "completed", "complete", "succeeded", "success", "ready"]);
    const failed = new Set(["failed", "error", "expired", "cancelled"]);

    const poll = async (url) => {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok) { say(`Export status unavailable (${response.status}).`); return; }
      const job = await response.json();
      const percent = Math.max(0, Math.min(100, Number(job.progress) || 0));
      bar.value = percent;
      if (failed.has(job.status)) { say(`Export ${job.status}.`); return; }
      if (finished.has(job.status) && job.download_url) {
        bar.value = 100;
        statusText.innerHTML = "";
        const link = document.createElement("a");
        link.href = job.download_url;
        link.textContent = "Download export";
        link.setAttribute("download", "");
        link.dataset.exportDownload = "";
        statusText.append("Ready: ", link);
        return;
      }
      waited += 1;
      if (job.status === "pending" && waited > 15 && fallback) {
        // No worker has picked it up yet: offer the streamed download of the same set.
        statusText.innerHTML = "";
        const direct = document.createElement("a");
        direct.href = fallback;
        direct.textContent = "download it directly";
        statusText.append("Waiting for the export worker… or ", direct);
      } else {
        say(`Exporting… ${percent}%`);
      }
      setTimeout(() => poll(url), 700);
    };
    let waited = 0;
    let fallback = null;

    exportBox.addEventListener("click", async (event) => {
      const link = event.target.closest("[data-export-format]");
      if (!link) return;
      event.preventDefault();
      progressBox.hidden = false;
      bar.value = 0;
      say("Starting export…");
      let response;
      try {
        response = await fetch("/api/v1/exports/", {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": exportBox.dataset.csrf },
          body: JSON.stringify({ format: link.dataset.exportFormat, filters: JSON.parse(exportBox.dataset.filters || "{}") }),
        });
      } catch (error) {
        window.location.href = link.href;
        return;
      }
      if (response.status === 404 || response.status === 405) {
        progressBox.hidden = true;
        window.location.href = link.href;
        return;
      }
      if (!response.ok) {
        let detail = "";
        try { detail = JSON.stringify(await response.json()); } catch (error) { detail = response.statusText; }
        say(`Export could not start: ${detail}`);
        return;
      }
      const job = await response.json();
      waited = 0;
      fallback = link.href;
      poll(job.url || `/api/v1/exports/${job.id}/`);
    });
  }
})();

// Audit Log page enhancements: Before/After popovers on hover, focus and
// click, and background exports with a live progress bar. The page works without this script.
(() => {
  "use strict";

  // Popovers: open on hover or keyboard focus and close on leaving, blur or Escape; a click (or
  // Enter) pins one open until Escape or a click elsewhere. A popover sits below its cell, or
  // above it when there is no room below, and never covers it; one opened by hover lets the
  // pointer through (audit-log.css), so it never holds itself open over the next row.
  const supportsPopover = typeof HTMLElement.prototype.showPopover === "function";
  const GAP = 6;
  const MARGIN = 8;
  let hideTimer = null;
  const popoverOf = (button) => document.getElementById(button.getAttribute("popovertarget"));
  const openPopovers = () => document.querySelectorAll(".value-popover:popover-open");
  const buttonOf = (popover) => document.querySelector(`button.value[popovertarget="${popover.id}"]`);

  const place = (button, popover) => {
    const cell = button.getBoundingClientRect();
    popover.classList.add("anchored");
    popover.style.maxHeight = "";
    const below = window.innerHeight - cell.bottom - GAP - MARGIN;
    const above = cell.top - GAP - MARGIN;
    let height = popover.offsetHeight;
    const downwards = height <= below || below >= above;
    const room = Math.max(downwards ? below : above, 0);
    if (height > room) {
      popover.style.maxHeight = `${room}px`;
      height = room;
    }
    const width = popover.offsetWidth;
    const left = Math.max(MARGIN, Math.min(cell.left, window.innerWidth - width - MARGIN));
    popover.style.left = `${left}px`;
    popover.style.top = `${downwards ? cell.bottom + GAP : cell.top - GAP - height}px`;
  };

  const show = (button, { pin = false } = {}) => {
    const popover = popoverOf(button);
    if (!popover || !supportsPopover) return;
    clearTimeout(hideTimer);
    openPopovers().forEach((open) => {
      if (open !== popover) open.hidePopover();
    });
    // The button as its source: closing the popover returns focus to it.
    if (!popover.matches(":popover-open")) popover.showPopover({ source: button });
    popover.classList.toggle("pinned", pin || popover.classList.contains("pinned"));
    button.setAttribute("aria-expanded", "true");
    place(button, popover);
  };

  const hide = (button, delay = 0) => {
    const popover = popoverOf(button);
    if (!popover || popover.classList.contains("pinned")) return;
    clearTimeout(hideTimer);
    hideTimer = setTimeout(() => {
      if (popover.matches(":popover-open")) popover.hidePopover();
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
      if (button && !button.contains(event.relatedTarget) && button !== document.activeElement) {
        hide(button, 100);
      }
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
        show(button, { pin: true });
      }
    });
    document.querySelectorAll(".value-popover").forEach((popover) => {
      // However it closes (Escape, a click elsewhere, another popover), it is unpinned and its
      // button says so.
      popover.addEventListener("toggle", (event) => {
        if (event.newState === "open") return;
        popover.classList.remove("pinned");
        const button = buttonOf(popover);
        if (button) button.setAttribute("aria-expanded", "false");
      });
    });
    document.addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      openPopovers().forEach((open) => {
        const hadFocus = open.contains(document.activeElement);
        open.hidePopover();
        const button = buttonOf(open);
        if (button && hadFocus) button.focus({ preventScroll: true });
      });
    });
    // Scrolling (the page, or the browser bringing a focused button into view) keeps each open
    // popover beside its cell, and closes it once the cell is out of sight.
    const follow = () => {
      openPopovers().forEach((open) => {
        const button = buttonOf(open);
        const cell = button && button.getBoundingClientRect();
        if (!cell || cell.bottom < 0 || cell.top > window.innerHeight) open.hidePopover();
        else place(button, open);
      });
    };
    window.addEventListener("scroll", follow, { passive: true });
    window.addEventListener("resize", follow);
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

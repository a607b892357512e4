// The Audit Log's volume strip (an SVG document of its own) as one tab stop: the arrow keys move
// between days, Home and End to the first and last, Page Up and Page Down by a week; Enter
// follows the focused day's link. The server renders one day with tabindex="0", the rest -1.
(() => {
  "use strict";
  const days = Array.from(document.querySelectorAll("a[data-day]"));
  if (!days.length) return;

  const rove = (to) => {
    days.forEach((day) => day.setAttribute("tabindex", day === to ? "0" : "-1"));
    to.focus();
  };

  const steps = { ArrowLeft: -1, ArrowRight: 1, PageUp: -7, PageDown: 7 };

  document.addEventListener("keydown", (event) => {
    const current = event.target.closest ? event.target.closest("a[data-day]") : null;
    if (!current || event.altKey || event.ctrlKey || event.metaKey) return;
    const index = days.indexOf(current);
    let next = -1;
    if (event.key === "Home") next = 0;
    else if (event.key === "End") next = days.length - 1;
    else if (event.key in steps) next = Math.max(0, Math.min(days.length - 1, index + steps[event.key]));
    if (next < 0) return;
    event.preventDefault();
    rove(days[next]);
  });

  // A day chosen by pointer becomes the strip's tab stop too.
  document.addEventListener("focusin", (event) => {
    const day = event.target.closest ? event.target.closest("a[data-day]") : null;
    if (day && day.getAttribute("tabindex") !== "0") rove(day);
  });
})();

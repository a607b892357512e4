// The Audit Log page: a change with many properties shows its first few; "Show N more
// properties" reveals the rest (without JavaScript, the event's own page lists them all).
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-expand]");
  if (!button) return;
  const change = button.closest("tbody.change");
  const expanded = button.getAttribute("aria-expanded") === "true";
  for (const row of change.querySelectorAll("tr.more")) row.hidden = expanded;
  button.setAttribute("aria-expanded", String(!expanded));
  const count = change.querySelectorAll("tr.more").length;
  button.textContent = expanded ? `Show ${count} more properties` : "Show fewer properties";
});

// Event types are checkboxes: a type's sub-filters show (and are submitted) while it is the
// only one chosen, as the server shows them.
(() => {
  const boxes = document.querySelectorAll('[data-event-types] input[name="event_type"]');
  const groups = document.querySelectorAll("[data-subfilters-for]");
  const summary = document.querySelector("[data-event-types] summary");
  const sync = () => {
    const chosen = [...boxes].filter((box) => box.checked).map((box) => box.value);
    groups.forEach((group) => {
      const active = chosen.includes(group.dataset.subfiltersFor);
      group.hidden = !active;
      group.disabled = !active;
    });
    if (summary) summary.textContent = chosen.length ? `${chosen.length} chosen` : "All event types";
  };
  boxes.forEach((box) => box.addEventListener("change", sync));

  // A preset replaces the custom dates; typing a date goes back to a custom range.
  const preset = document.querySelector("[data-preset]");
  const dates = document.querySelectorAll("#f-start, #f-end, #f-start-time, #f-end-time");
  if (preset) {
    preset.addEventListener("change", () => {
      if (preset.value) dates.forEach((input) => { input.value = ""; });
    });
    dates.forEach((input) => input.addEventListener("input", () => { preset.value = ""; }));
  }

  // "Mine": the browser's own time zone.
  const own = document.querySelector("[data-own-zone]");
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (own && zone) {
    const select = own.closest("select");
    const saved = [...select.options].find((option) => option.value === zone && option !== own);
    if (saved) {
      own.remove();
    } else {
      own.value = zone;
      own.textContent = `Mine (${zone})`;
      own.disabled = false;
    }
  }
})();

// The search box suggests qualifiers and values for the word being typed (the rest of the
// query is kept in front of each suggestion, as a <datalist> matches whole values).
(() => {
  const input = document.querySelector("#f-q[data-suggestions]");
  const list = document.getElementById("q-suggestions");
  if (!input || !list) return;
  const suggestions = JSON.parse(input.dataset.suggestions || "[]");
  const refresh = () => {
    const text = input.value;
    const cut = text.search(/\S*$/);
    const before = text.slice(0, cut);
    const word = text.slice(cut).replace(/^-/, "").toLowerCase();
    const negated = text.slice(cut).startsWith("-") ? "-" : "";
    list.replaceChildren(
      ...suggestions
        .filter((item) => word && item.toLowerCase().startsWith(word) && item.toLowerCase() !== word)
        .slice(0, 12)
        .map((item) => {
          const option = document.createElement("option");
          option.value = before + negated + item;
          return option;
        }),
    );
  };
  input.addEventListener("input", refresh);
})();

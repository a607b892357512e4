// Structured editors for criteria and actions, layered over the JSON textareas.
// The textarea stays the source of truth (and works without JavaScript): every change in the
// editor rewrites the JSON, and valid JSON typed by hand rebuilds the editor.
(function () {
  "use strict";
  const source = document.getElementById("criteria-language");
  if (!source) return;
  const lang = JSON.parse(source.textContent);

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([key, value]) => {
      if (key === "text") node.textContent = value;
      else if (value !== undefined && value !== null) node.setAttribute(key, value);
    });
    (children || []).forEach((child) => node.append(child));
    return node;
  }

  function select(options, value, label) {
    const node = el("select", { "aria-label": label });
    options.forEach(([optionValue, text]) => {
      const option = el("option", { value: optionValue, text: text });
      if (String(optionValue) === String(value)) option.selected = true;
      node.append(option);
    });
    return node;
  }

  function button(text, onClick, className) {
    const node = el("button", { type: "button", class: className || "link", text: text });
    node.addEventListener("click", onClick);
    return node;
  }

  function parse(textarea) {
    try {
      return JSON.parse(textarea.value);
    } catch (error) {
      return undefined;
    }
  }

  function write(textarea, value) {
    textarea.value = JSON.stringify(value, null, 2);
  }

  function criteriaEditor(host, textarea) {
    let state;
    function render() {
      host.replaceChildren();
      const match = select([["all", "all"], ["any", "any"]], state.match, "Match");
      match.addEventListener("change", () => { state.match = match.value; sync(); });
      host.append(el("p", {}, ["Match ", match, " of these conditions:"]));
      const list = el("ol", { class: "condition-list" });
      state.conditions.forEach((condition, index) => list.append(conditionRow(condition, index)));
      host.append(list);
      host.append(button("+ Add condition", () => {
        state.conditions.push({ field: "status", operator: "equals", value: "open" });
        sync(); render();
      }));
    }
    function conditionRow(condition, index) {
      const field = lang.fields[condition.field] || lang.fields.status;
      const fieldSelect = select(
        Object.entries(lang.fields).map(([name, spec]) => [name, spec.label]),
        condition.field, "Field " + (index + 1));
      const operators = lang.operators_by_kind[field.kind];
      const operatorSelect = select(
        operators.map((name) => [name, lang.operators[name]]),
        condition.operator, "Operator " + (index + 1));
      let valueInput = null;
      if (!lang.valueless.includes(condition.operator)) {
        if (condition.operator === "in") {
          valueInput = el("input", {
            type: "text", "aria-label": "Values " + (index + 1), placeholder: "one, two",
            value: Array.isArray(condition.value) ? condition.value.join(", ") : "",
          });
        } else if (field.choices.length) {
          valueInput = select(field.choices.map((c) => [c, c]), condition.value, "Value " + (index + 1));
        } else {
          valueInput = el("input", {
            type: "text", "aria-label": "Value " + (index + 1), value: condition.value || "",
          });
        }
      }
      fieldSelect.addEventListener("change", () => {
        const spec = lang.fields[fieldSelect.value];
        const ops = lang.operators_by_kind[spec.kind];
        condition.field = fieldSelect.value;
        if (!ops.includes(condition.operator)) condition.operator = ops[0];
        condition.value = spec.choices.length ? spec.choices[0] : "";
        if (condition.operator === "in") condition.value = [];
        if (lang.valueless.includes(condition.operator)) condition.value = null;
        sync(); render();
      });
      operatorSelect.addEventListener("change", () => {
        const before = condition.operator;
        condition.operator = operatorSelect.value;
        if (lang.valueless.includes(condition.operator)) condition.value = null;
        else if (condition.operator === "in" && before !== "in") condition.value = condition.value ? [condition.value] : [];
        else if (condition.operator !== "in" && before === "in") condition.value = (condition.value || [])[0] || "";
        else if (condition.value === null) condition.value = field.choices[0] || "";
        sync(); render();
      });
      if (valueInput) {
        const update = () => {
          condition.value = condition.operator === "in"
            ? valueInput.value.split(",").map((v) => v.trim()).filter(Boolean)
            : valueInput.value;
          sync();
        };
        valueInput.addEventListener("input", update);
        valueInput.addEventListener("change", update);
      }
      const remove = button("Remove", () => { state.conditions.splice(index, 1); sync(); render(); }, "link danger");
      return el("li", { class: "condition" }, [fieldSelect, operatorSelect].concat(valueInput ? [valueInput] : [], [remove]));
    }
    function sync() { write(textarea, state); }
    return {
      load(value) {
        if (!value || typeof value !== "object" || Array.isArray(value) || !Array.isArray(value.conditions || [])) return false;
        state = { match: value.match === "any" ? "any" : "all", conditions: (value.conditions || []).map((c) => Object.assign({}, c)) };
        if (state.conditions.some((c) => !c || !lang.fields[c.field] || !lang.operators[c.operator])) return false;
        render();
        return true;
      },
    };
  }

  function actionsEditor(host, textarea) {
    let state;
    function render() {
      host.replaceChildren();
      const list = el("ol", { class: "condition-list" });
      state.forEach((action, index) => list.append(actionRow(action, index)));
      host.append(list);
      host.append(button("+ Add action", () => {
        state.push({ type: "add_tag", value: "" });
        sync(); render();
      }));
    }
    function actionRow(action, index) {
      const typeSelect = select(Object.entries(lang.actions), action.type, "Action " + (index + 1));
      let valueInput;
      if (action.type === "set_priority") {
        valueInput = select(lang.priorities.map((p) => [p, p]), action.value, "Priority " + (index + 1));
      } else if (action.type === "assign_to") {
        valueInput = select(lang.users.map((u) => [u.id, u.name]), action.value, "User " + (index + 1));
      } else {
        valueInput = el("input", { type: "text", "aria-label": "Value " + (index + 1), value: action.value || "" });
      }
      typeSelect.addEventListener("change", () => {
        action.type = typeSelect.value;
        if (action.type === "set_priority") action.value = "high";
        else if (action.type === "assign_to") action.value = lang.users.length ? lang.users[0].id : null;
        else action.value = "";
        sync(); render();
      });
      const update = () => {
        action.value = action.type === "assign_to" ? Number(valueInput.value) : valueInput.value;
        sync();
      };
      valueInput.addEventListener("input", update);
      valueInput.addEventListener("change", update);
      const remove = button("Remove", () => { state.splice(index, 1); sync(); render(); }, "link danger");
      return el("li", { class: "condition" }, [typeSelect, valueInput, remove]);
    }
    function sync() { write(textarea, state); }
    return {
      load(value) {
        if (!Array.isArray(value) || value.some((a) => !a || !lang.actions[a.type])) return false;
        state = value.map((a) => Object.assign({}, a));
        render();
        return true;
      },
    };
  }

  document.querySelectorAll(".structured[data-editor]").forEach((host) => {
    const textarea = document.getElementById(host.dataset.for);
    if (!textarea) return;
    const editor = host.dataset.editor === "criteria" ? criteriaEditor(host, textarea) : actionsEditor(host, textarea);
    const note = el("p", { class: "muted structured-note", role: "status" });
    host.after(note);
    function refresh() {
      const ok = editor.load(parse(textarea));
      host.hidden = !ok;
      note.textContent = ok ? "Edit with the controls above, or the JSON below." : "The JSON below cannot be shown as a form; edit it directly (it is checked when you save).";
    }
    // Rebuilt while typing (debounced), not on blur: a layout shift on blur would move the
    // Save button away from under the pointer and swallow the click.
    let timer;
    textarea.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(refresh, 400); });
    refresh();
  });
})();

// A form for a JSON Schema (pydantic's model_json_schema()): $defs/$ref, nested objects,
// arrays, enums, defaults, booleans, numbers, Optional (anyOf with null), required fields.
// SchemaForm.render(host, schema) -> { value(), showErrors({path: message}), clearErrors() }.
(function () {
  "use strict";

  function resolve(schema, root, depth = 0) {
    if (!schema || depth > 20) return schema || {};
    if (schema.$ref) {
      const path = schema.$ref.replace(/^#\//, "").split("/");
      let target = root;
      for (const part of path) target = target?.[part];
      const { $ref, ...rest } = schema;
      return resolve({ ...target, ...rest }, root, depth + 1);
    }
    if (schema.allOf && schema.allOf.length === 1) {
      const { allOf, ...rest } = schema;
      return resolve({ ...allOf[0], ...rest }, root, depth + 1);
    }
    return schema;
  }

  // Optional[X] is anyOf [X, {type: null}]: show X, allow empty.
  function unwrapOptional(schema, root) {
    const options = schema.anyOf || schema.oneOf;
    if (options) {
      const real = options.filter((o) => o.type !== "null");
      if (real.length === 1) {
        const { anyOf, oneOf, ...rest } = schema;
        return { schema: resolve({ ...resolve(real[0], root), ...rest }, root), nullable: real.length < options.length };
      }
    }
    return { schema, nullable: false };
  }

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "text") node.textContent = v; else node.setAttribute(k, v === true ? "" : v);
    }
    children.forEach((c) => c && node.appendChild(c));
    return node;
  }

  let counter = 0;
  const MAX_DEPTH = 12;

  // pydantic's default title of a field: "home_address" -> "Home Address".
  function titleOf(key) {
    return String(key).replace(/_/g, " ").replace(/\b\w/g, (c) => c.toUpperCase());
  }

  function build(schema, root, path, required, depth = 0) {
    if (depth > MAX_DEPTH) throw new Error("the schema nests deeper than " + MAX_DEPTH + " levels");
    const resolved = resolve(schema, root);
    const { schema: s, nullable } = unwrapOptional(resolved, root);
    const id = "sf-" + ++counter;
    // A field's own title or name, not that of the type it refers to (two Address fields).
    const key = path[path.length - 1];
    const label = schema.title || (key !== undefined && !/^\d+$/.test(key) ? titleOf(key) : s.title) || "";
    const wrapper = el("div", { class: "sf-field", "data-path": path.join(".") });
    const head = el("label", { for: id }, document.createTextNode(label));
    if (required) head.appendChild(el("span", { class: "required", title: "required", text: " *" }));
    const help = s.description ? el("small", { class: "sf-help", text: s.description }) : null;
    const error = el("small", { class: "sf-error", role: "alert", hidden: true });
    const type = Array.isArray(s.type) ? s.type.find((t) => t !== "null") : s.type;
    let getter;

    if (s.enum) {
      const select = el("select", { id, name: path.join(".") });
      // A required choice without a default starts unchosen: the person must pick one.
      const unchosen = !required || nullable ? "—" : s.default === undefined ? "Choose…" : null;
      if (unchosen) select.appendChild(el("option", { value: "", text: unchosen }));
      s.enum.forEach((option, i) => select.appendChild(el("option", { value: String(i), text: String(option), selected: s.default === option })));
      getter = () => (select.value === "" ? undefined : s.enum[Number(select.value)]);
      wrapper.append(head, select);
    } else if (type === "boolean") {
      const box = el("input", { type: "checkbox", id, name: path.join("."), checked: s.default === true });
      getter = () => box.checked;
      wrapper.classList.add("sf-check");
      wrapper.append(box, head);
    } else if (type === "integer" || type === "number") {
      const input = el("input", { type: "number", id, name: path.join("."), step: type === "integer" ? "1" : "any",
        min: s.minimum, max: s.maximum, value: s.default ?? "", required: required && !nullable });
      getter = () => (input.value === "" ? undefined : Number(input.value));
      wrapper.append(head, input);
    } else if (type === "object" || s.properties) {
      const legend = el("legend", { text: label });
      const fieldset = el("fieldset", { class: "sf-object", "data-path": path.join(".") }, legend);
      const children = {};
      const needed = new Set(s.required || []);
      for (const [childKey, child] of Object.entries(s.properties || {})) {
        const built = build(child, root, [...path, childKey], needed.has(childKey), depth + 1);
        children[childKey] = built;
        fieldset.appendChild(built.node);
      }
      if (help) fieldset.appendChild(help);
      fieldset.appendChild(error);
      // Optional[Model]: left out (null) unless the person chooses to fill it in.
      let included = () => true;
      if (nullable) {
        const toggle = el("input", { type: "checkbox", id, checked: s.default !== null && s.default !== undefined });
        legend.replaceChildren(el("label", { class: "sf-include", for: id }, toggle, document.createTextNode(label)));
        const sync = () => fieldset.querySelectorAll(":scope > .sf-field, :scope > .sf-object").forEach((n) => { n.hidden = !toggle.checked; });
        toggle.addEventListener("change", sync);
        sync();
        included = () => toggle.checked;
      }
      getter = () => {
        if (!included()) return null;
        const out = {};
        for (const [childKey, child] of Object.entries(children)) {
          const v = child.get();
          if (v !== undefined) out[childKey] = v;
        }
        return out;
      };
      return { node: fieldset, get: getter, error };
    } else if (type === "array") {
      const items = [];
      const list = el("div", { class: "sf-array" });
      const add = el("button", { type: "button", class: "small", text: "+ Add" });
      // This array's path as it is now: an enclosing array renumbers it when an item goes.
      const here = () => (wrapper.dataset.path ? wrapper.dataset.path.split(".") : []);
      // Errors come back by item index: after a removal, the items after it move up one.
      const renumber = () => items.forEach((entry, i) => {
        if (entry.index === i) return;
        const from = [...here(), entry.index].join("."), to = [...here(), i].join(".");
        entry.row.querySelectorAll("[data-path]").forEach((n) => {
          const p = n.dataset.path;
          if (p === from || p.startsWith(from + ".")) n.dataset.path = to + p.slice(from.length);
        });
        // The item's own label (only its text: a legend may hold a checkbox too).
        const label = entry.row.querySelector(":scope > .sf-field > label, :scope > .sf-object > legend");
        const walker = label && document.createTreeWalker(label, NodeFilter.SHOW_TEXT);
        for (let node = walker?.nextNode(); node; node = walker.nextNode()) {
          if (node.nodeValue.startsWith("Item ")) { node.nodeValue = `Item ${i + 1}`; break; }
        }
        entry.index = i;
      });
      const addItem = () => {
        const row = el("div", { class: "sf-item" });
        const index = items.length;
        const built = build({ title: `Item ${index + 1}`, ...(s.items || {}) }, root, [...here(), String(index)], false, depth + 1);
        const remove = el("button", { type: "button", class: "small ghost", text: "✕", title: "Remove" });
        const entry = { built, row, index };
        remove.addEventListener("click", () => { items.splice(items.indexOf(entry), 1); row.remove(); renumber(); });
        row.append(built.node, remove);
        items.push(entry);
        list.appendChild(row);
      };
      add.addEventListener("click", () => addItem());
      (Array.isArray(s.default) ? s.default : []).forEach(() => addItem());
      getter = () => items.map((entry) => entry.built.get()).filter((v) => v !== undefined);
      wrapper.append(head, list, add);
    } else {
      const long = s.format === "textarea" || (s.maxLength || 0) > 200;
      const input = el(long ? "textarea" : "input", { id, name: path.join("."), type: long ? undefined : "text",
        value: long ? undefined : s.default ?? "", required: required && !nullable, minlength: s.minLength, maxlength: s.maxLength });
      if (long && s.default) input.value = s.default;
      getter = () => (input.value === "" && (!required || nullable) ? (nullable ? null : undefined) : input.value);
      wrapper.append(head, input);
    }
    if (help) wrapper.appendChild(help);
    wrapper.appendChild(error);
    return { node: wrapper, get: getter, error };
  }

  function render(host, schema) {
    const root = build(schema, schema, [], true);
    host.replaceChildren(root.node);
    return {
      value: () => root.get(),
      clearErrors() {
        host.querySelectorAll(".sf-error").forEach((e) => { e.hidden = true; e.textContent = ""; });
        host.querySelectorAll(".invalid").forEach((e) => e.classList.remove("invalid"));
      },
      showErrors(errors) {
        let first = null;
        for (const [path, message] of Object.entries(errors)) {
          const field = host.querySelector(`[data-path="${CSS.escape(path)}"]`) || host.querySelector(".sf-object");
          const box = field?.querySelector(":scope > .sf-error") || field?.querySelector(".sf-error");
          if (box) { box.textContent = message; box.hidden = false; field.classList.add("invalid"); first = first || field; }
        }
        first?.scrollIntoView({ block: "nearest" });
      },
    };
  }

  window.SchemaForm = { render };
})();

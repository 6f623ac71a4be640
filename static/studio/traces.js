// The trace view: waterfall bars to scale, children loaded on demand, the span <-> reply links.
(function () {
  "use strict";

  // The scale: the run's (or trace's) first start and last end, from #trace-window; else the rows'.
  function scale(tree) {
    const win = document.getElementById("trace-window");
    let t0 = win ? parseFloat(win.dataset.t0) : NaN;
    let t1 = win ? parseFloat(win.dataset.t1) : NaN;
    if (Number.isNaN(t0) || Number.isNaN(t1)) {
      t0 = Infinity; t1 = -Infinity;
      tree.querySelectorAll(".span-row").forEach((row) => {
        t0 = Math.min(t0, parseFloat(row.dataset.start));
        t1 = Math.max(t1, parseFloat(row.dataset.end));
      });
    }
    return [t0, Math.max(t1 - t0, 0.001)];
  }

  function formatMs(ms) {
    if (ms < 1) return (ms * 1000).toFixed(0) + " µs";
    if (ms < 1000) return ms.toFixed(ms < 10 ? 1 : 0) + " ms";
    if (ms < 60000) return (ms / 1000).toFixed(2) + " s";
    return Math.floor(ms / 60000) + "m " + String(Math.round((ms % 60000) / 1000)).padStart(2, "0") + "s";
  }

  function layout() {
    document.querySelectorAll("[data-trace-tree]").forEach((tree) => {
      const [t0, span] = scale(tree);
      tree.querySelectorAll(".span-row").forEach((row) => {
        const bar = row.querySelector(".span-bar");
        if (!bar) return;
        const start = parseFloat(row.dataset.start), end = parseFloat(row.dataset.end);
        const left = Math.min(100, Math.max(0, ((start - t0) / span) * 100));
        bar.style.left = left + "%";
        bar.style.width = Math.max(0.4, Math.min(100 - left, ((end - start) / span) * 100)) + "%";
        bar.title = formatMs(end - start) + " at +" + formatMs(start - t0);
      });
      const axis = tree.querySelector(".axis-track");
      if (axis) {
        axis.innerHTML = "";
        const width = axis.clientWidth, parts = width < 140 ? 1 : width < 260 ? 2 : 4;  // labels must not overlap
        for (let i = 0; i <= parts; i++) {
          const tick = document.createElement("span");
          tick.style.left = (i * 100) / parts + "%";
          tick.textContent = i === 0 ? "0" : formatMs((span * i) / parts);
          axis.appendChild(tick);
        }
      }
    });
  }

  function setExpanded(button, open) {
    button.setAttribute("aria-expanded", open ? "true" : "false");
    button.textContent = open ? "▾" : "▸";
  }

  function kidsOf(row) {
    return row.parentElement?.querySelector(":scope > .span-kids");
  }

  function expand(button, open) {
    const kids = kidsOf(button.closest(".span-row"));
    if (!kids) return Promise.resolve();
    const wanted = open ?? button.getAttribute("aria-expanded") !== "true";
    setExpanded(button, wanted);
    kids.hidden = !wanted;
    if (!wanted || kids.dataset.loaded) return Promise.resolve();
    kids.dataset.loaded = "1";
    return htmx.ajax("GET", button.dataset.childrenUrl, { target: kids, swap: "innerHTML" });
  }

  // After a live row replacement, show the toggle as the open list says.
  function syncToggles(root) {
    root.querySelectorAll?.(".span-row .toggle[data-children-url]").forEach((button) => {
      const kids = kidsOf(button.closest(".span-row"));
      setExpanded(button, !!kids && !kids.hidden);
    });
  }

  // Open the tree down to a span that is not shown yet: its ancestors, root first.
  async function revealPath(ancestors) {
    for (const id of ancestors) {
      const node = document.getElementById("span-" + id);
      if (!node) return false;
      const toggle = node.querySelector(":scope > .span-row .toggle[data-children-url]");
      if (toggle && toggle.getAttribute("aria-expanded") !== "true") await expand(toggle, true);
    }
    return true;
  }

  async function highlight(spanId, reveal, ancestors = []) {
    document.querySelectorAll(".span-node.highlight").forEach((n) => n.classList.remove("highlight"));
    document.querySelectorAll(".span-row.selected").forEach((n) => n.classList.remove("selected"));
    if (reveal && !document.getElementById("span-" + spanId) && !(ancestors.length && await revealPath(ancestors))) {
      window.studioToast?.("This span's root is older than the spans shown: “Show earlier spans” loads it.");
      return;
    }
    const node = document.getElementById("span-" + spanId);
    if (!node) return;
    node.classList.add("highlight");
    const row = node.querySelector(":scope > .span-row");
    row?.classList.add("selected");
    const toggle = row?.querySelector(".toggle[data-children-url]");
    if (reveal && toggle && toggle.getAttribute("aria-expanded") !== "true") expand(toggle, true);
    row?.scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("click", (event) => {
    const toggle = event.target.closest(".span-row .toggle[data-children-url]");
    if (toggle) { event.preventDefault(); expand(toggle); return; }
    const wide = event.target.closest("[data-trace-wide]");
    if (wide) {
      const on = document.body.classList.toggle("trace-wide");
      wide.setAttribute("aria-pressed", on ? "true" : "false");
      localStorage.setItem("studio-trace-wide", on ? "1" : "");
      layout();
      return;
    }
    const goto = event.target.closest("[data-goto-reply]");
    if (goto) {
      const reply = document.getElementById(goto.dataset.gotoReply);
      if (reply) {
        event.preventDefault();
        reply.scrollIntoView({ block: "center", behavior: "smooth" });
        reply.classList.add("flash");
        setTimeout(() => reply.classList.remove("flash"), 1600);
      } else {
        event.preventDefault();
        window.studioToast?.("That reply is further up the chat: scroll up to load it.");
      }
    }
  });

  document.addEventListener("htmx:afterSwap", (event) => {
    const target = event.detail.target;
    layout();
    syncToggles(document);
    const detail = document.getElementById("span-detail");
    if (detail && detail.dataset.spanId && (target === detail || !document.body.contains(target))) {
      // A span was opened (from the tree, or from a reply's "Spans" button): show it in the tree.
      const fromReply = event.detail.requestConfig?.elt?.classList.contains("reply-spans");
      highlight(detail.dataset.spanId, fromReply, (detail.dataset.ancestors || "").split(" ").filter(Boolean));
      if (event.detail.requestConfig?.elt?.classList.contains("reply-spans")) {
        detail.scrollIntoView({ block: "start", behavior: "smooth" });
      }
    }
  });
  document.addEventListener("studio:live", (event) => {
    const el = event.detail;
    if (el.id === "trace-window" || el.id === "trace-roots" || el.classList?.contains("span-node") || el.classList?.contains("span-row")) {
      syncToggles(el.parentElement || document);
      layout();
    }
  });
  document.addEventListener("DOMContentLoaded", () => {
    if (localStorage.getItem("studio-trace-wide")) document.body.classList.add("trace-wide");
    layout();
    // A trace of its own page that is not too big opens its first level at once.
    document.querySelectorAll("[data-open-roots] #trace-roots > .span-node > .span-row .toggle[data-children-url]")
      .forEach((toggle, i) => { if (i < 10) expand(toggle, true); });
  });
})();

// Live regions: one WebSocket per page (docs/LIVE.md). Fragments say with data-live where they go.
(function () {
  "use strict";
  const url = document.body.dataset.liveUrl;
  if (!url) return;
  const status = document.getElementById("live-status");
  const chat = document.getElementById("chat");
  let socket, retry = 0;

  function atBottom() {
    return !chat || chat.scrollHeight - chat.scrollTop - chat.clientHeight < 40;
  }

  // Insert `el` into `target`, before the first child whose data-live-order is larger.
  function insertOrdered(target, el, prepend) {
    const order = Number(el.dataset.liveOrder);
    if (!Number.isNaN(order)) {
      for (const child of target.children) {
        const other = Number(child.dataset.liveOrder);
        if (!Number.isNaN(other) && other > order) { target.insertBefore(el, child); return; }
      }
      target.appendChild(el);
    } else if (prepend) {
      target.prepend(el);
    } else {
      target.appendChild(el);
    }
  }

  function apply(el) {
    const mode = el.dataset.live || "replace";
    const existing = el.id ? document.getElementById(el.id) : null;
    const target = el.dataset.liveInto ? document.querySelector(el.dataset.liveInto) : null;
    if (mode === "remove") { if (existing) existing.remove(); return; }
    if (existing) {
      if (mode === "insert-missing" || mode === "prepend-missing") return;
      // Keep what the person opened (a <details>) open across the replacement.
      existing.querySelectorAll("details[open]").forEach((d, i) => {
        const twin = el.querySelectorAll("details")[i]; if (twin) twin.open = true;
      });
      if (existing.classList.contains("current")) el.classList.add("current");
      // A half-written answer (text, form fields, attachments) survives any update of the
      // requests around it: a request still pending keeps the very form the person is filling.
      existing.querySelectorAll("form[data-answer-form][id]").forEach((form) => {
        const twin = el.querySelector("#" + CSS.escape(form.id));
        if (!twin) return;
        // Shown or not as the update says (the request that was shown may be gone).
        form.classList.toggle("active", twin.classList.contains("active"));
        twin.replaceWith(form);
      });
      const activeTab = existing.querySelector("[data-ask-tab].active");
      const twinTab = activeTab && el.querySelector(`[data-ask-tab="${activeTab.dataset.askTab}"]`);
      if (twinTab) {
        el.querySelectorAll("[data-ask-tab], [data-answer-form]").forEach((n) => n.classList.remove("active"));
        twinTab.classList.add("active");
        el.querySelector("#ask-" + CSS.escape(activeTab.dataset.askTab))?.classList.add("active");
      }
      existing.replaceWith(el);
    } else if (target && mode !== "replace") {
      if (target.hasAttribute("data-live-no-new")) return;  // a filtered list: not its news
      insertOrdered(target, el, mode === "prepend-missing" || el.hasAttribute("data-live-prepend"));
    } else {
      return;
    }
    if (window.htmx) htmx.process(el);
    document.dispatchEvent(new CustomEvent("studio:live", { detail: el }));
  }

  function onMessage(event) {
    const data = JSON.parse(event.data);
    if (data.type === "html") {
      const follow = atBottom();
      const template = document.createElement("template");
      template.innerHTML = data.html;
      const elements = Array.from(template.content.children);
      elements.forEach(apply);
      // Only news in the chat moves it (or offers to): not a details or trace refresh.
      if (chat && elements.some((el) => el.isConnected && chat.contains(el))) {
        if (follow) chat.scrollTop = chat.scrollHeight;
        else document.getElementById("jump-latest")?.removeAttribute("hidden");
      }
    } else {
      document.dispatchEvent(new CustomEvent("studio:message", { detail: data }));
    }
  }

  // Updates sent while the socket was down are lost: reload, unless the person is writing.
  function catchUp() {
    const writing = Array.from(document.querySelectorAll("textarea")).some((t) => t.value.trim())
      || document.querySelector("[data-answer-form][data-touched]");
    if (!writing) location.reload();
    else window.studioToast?.("Reconnected. Reload the page to see what happened meanwhile.");
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + url);
    socket.onopen = () => {
      status?.classList.add("on");
      status?.setAttribute("title", "Live");
      if (retry > 0) catchUp();
      retry = 0;
    };
    socket.onmessage = onMessage;
    socket.onclose = (event) => {
      status?.classList.remove("on");
      document.dispatchEvent(new CustomEvent("studio:disconnected"));
      status?.setAttribute("title", "Reconnecting…");
      if (event.code === 4404) return;  // the run was deleted, or is not this person's to see
      if (event.code === 4401) {  // team mode, and not (or no longer) logged in
        location.assign("/login/?next=" + encodeURIComponent(location.pathname + location.search));
        return;
      }
      retry = Math.min(retry + 1, 6);
      setTimeout(connect, 250 * 2 ** retry);
    };
  }

  // For the answer forms (app.js): send JSON on this page's socket.
  window.studioLive = {
    send(payload) {
      if (!socket || socket.readyState !== WebSocket.OPEN) return false;
      socket.send(JSON.stringify(payload));
      return true;
    },
  };
  connect();
})();

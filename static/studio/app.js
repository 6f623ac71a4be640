// Page behaviour htmx does not cover: theme, keyboard, chat scrolling, answering agents.
(function () {
  "use strict";
  const root = document.documentElement;
  const THEMES = ["auto", "light", "dark"];

  document.getElementById("theme-toggle")?.addEventListener("click", () => {
    const next = THEMES[(THEMES.indexOf(root.dataset.theme) + 1) % THEMES.length];
    root.dataset.theme = next;
    localStorage.setItem("studio-theme", next);
    document.getElementById("theme-toggle").title = "Theme: " + next + " (click to switch)";
  });

  // ---- chat scrolling ----
  const chat = document.getElementById("chat");
  const jump = document.getElementById("jump-latest");
  if (chat) {
    // A link to one message (a search result: ?message=<pk>#msg-<pk>) opens the chat on it, or
    // on its reply when the message is among the reply's earlier ones; else on the newest.
    const anchor = location.hash.startsWith("#msg-")
      && (document.getElementById(location.hash.slice(1)) || document.getElementById(chat.dataset.anchorFallback || ""));
    if (anchor && chat.contains(anchor)) {
      anchor.scrollIntoView({ block: "center" });
      anchor.classList.add("found");
      // The browser's own jump to the #fragment comes after this script: centre it again.
      window.addEventListener("load", () => anchor.scrollIntoView({ block: "center" }), { once: true });
    } else {
      chat.scrollTop = chat.scrollHeight;
    }
    // Older replies load when the person scrolls near the top: asked for here, not by an
    // "intersect" trigger, which also fires while the page is still being laid out and, after a
    // load, on the next loader before the scroll position is restored (a chain of loads).
    const loadOlder = () => {
      const older = chat.querySelector(".older");
      if (!older || older.dataset.requested) return;
      if (chat.scrollTop < 400 || chat.scrollHeight <= chat.clientHeight) {
        older.dataset.requested = "1";
        htmx.trigger(older, "studio:older");
      }
    };
    chat.addEventListener("scroll", () => {
      if (chat.scrollHeight - chat.scrollTop - chat.clientHeight < 40) jump?.setAttribute("hidden", "");
      loadOlder();
    }, { passive: true });
    // A chat shorter than its box cannot be scrolled: fill it.
    document.addEventListener("DOMContentLoaded", () => { if (chat.scrollHeight <= chat.clientHeight) loadOlder(); });
    jump?.addEventListener("click", () => {
      chat.scrollTo({ top: chat.scrollHeight, behavior: "smooth" });
      jump.setAttribute("hidden", "");
    });
    // Older replies load above what the person is reading: keep it where it is.
    document.body.addEventListener("htmx:beforeSwap", (e) => {
      if (e.detail.target?.hasAttribute("data-keep-scroll")) chat.dataset.heightBefore = chat.scrollHeight;
    });
    document.body.addEventListener("htmx:afterSwap", () => {
      if (chat.dataset.heightBefore) {
        chat.scrollTop += chat.scrollHeight - Number(chat.dataset.heightBefore);
        delete chat.dataset.heightBefore;
        if (chat.scrollHeight <= chat.clientHeight) loadOlder();
      }
    });
  }

  // ---- tool calls and their results (same id, in the same reply) ----
  // In the reply when grouped by reply; anywhere on the page when one bubble is one message.
  function pairTools() {
    document.querySelectorAll(".tool-use[data-call]").forEach((call) => {
      const selector = `.tool-result[data-call="${call.dataset.call}"]`;
      const result = call.closest("[data-reply]")?.querySelector(selector) || document.querySelector(selector);
      call.classList.toggle("answered", Boolean(result));
      call.querySelector(".tool-state")?.replaceChildren(document.createTextNode(result ? "✓ returned" : "… running"));
    });
  }
  document.addEventListener("mouseover", (e) => {
    const tool = e.target.closest?.(".tool[data-call]");
    document.querySelectorAll(".tool.paired").forEach((t) => t.classList.remove("paired"));
    if (!tool) return;
    document.querySelectorAll(`.tool[data-call="${tool.dataset.call}"]`).forEach((t) => t.classList.add("paired"));
  });
  pairTools();
  document.addEventListener("studio:live", pairTools);

  // ---- keyboard: j / k between replies, / to search ----
  document.addEventListener("keydown", (e) => {
    if (e.target.closest("input, textarea, select, [contenteditable]") || e.metaKey || e.ctrlKey || e.altKey) return;
    if (e.key === "/") {
      const search = document.querySelector("[data-search]");
      if (search) { e.preventDefault(); search.focus(); search.select(); }
    } else if ((e.key === "j" || e.key === "k") && chat) {
      const replies = Array.from(chat.querySelectorAll("[data-reply]"));
      if (!replies.length) return;
      let index = replies.findIndex((r) => r.classList.contains("focused"));
      if (index === -1) index = e.key === "j" ? -1 : replies.length;
      index = Math.max(0, Math.min(replies.length - 1, index + (e.key === "j" ? 1 : -1)));
      replies.forEach((r) => r.classList.remove("focused"));
      replies[index].classList.add("focused");
      replies[index].scrollIntoView({ block: "nearest", behavior: "smooth" });
      replies[index].focus({ preventScroll: true });
    }
  });

  function toast(message, kind) {
    const box = document.getElementById("toast");
    box.textContent = message;
    box.className = "toast " + (kind || "");
    box.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { box.hidden = true; }, 6000);
  }
  window.studioToast = toast;

  // ---- htmx actions the server refuses ----
  // A form that says so (data-swap-errors) shows its 400 answer in place: the form with the
  // problem beside the field. Any other refusal is a toast, never a silent nothing.
  const REFUSED = {
    403: "Your role in this project does not allow this.",
    404: "Not found: it may have been deleted, or is not yours to see.",
    429: "Too many attempts; try again later.",
  };
  // The element that made the request (the event's own `elt` is the swap's target).
  const swapsErrors = (e) => e.detail.xhr.status === 400 && Boolean((e.detail.requestConfig?.elt || e.detail.elt)?.closest("[data-swap-errors]"));
  document.body.addEventListener("htmx:beforeSwap", (e) => {
    if (swapsErrors(e)) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });
  document.body.addEventListener("htmx:responseError", (e) => {
    const status = e.detail.xhr.status;
    if (status === 401 || swapsErrors(e)) return;  // 401: HX-Redirect to the login
    toast(REFUSED[status] || `The server answered ${status}; see its log.`, "error");
  });

  // ---- answering agents (docs/WEBSOCKET.md) ----
  // The server's STUDIO_MAX_ANSWER_BYTES, given by the form: the UTF-8 bytes of the answer's
  // compact JSON [blocks, structured], measured here as the server measures it. Attachments
  // travel as base64, a third larger than the files.
  const maxAnswerBytes = (form) => Number(form.dataset.maxAnswerBytes) || 15 * 1024 * 1024;
  const base64Bytes = (size) => Math.ceil(size / 3) * 4;
  const mb = (bytes) => (bytes / 1048576).toFixed(1).replace(/\.0$/, "");
  const pendingFiles = new WeakMap();

  function setupForms(scope) {
    scope.querySelectorAll("[data-answer-form]").forEach((form) => {
      if (form.dataset.ready) return;
      form.dataset.ready = "1";
      pendingFiles.set(form, []);
      // First, so that nothing below can leave the form to the browser's own submit.
      form.addEventListener("submit", (e) => { e.preventDefault(); sendAnswer(form); });
      form.addEventListener("input", () => { form.dataset.touched = "1"; });
      const textarea = form.querySelector("textarea");
      textarea.addEventListener("keydown", (e) => {
        if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
      });
      form.querySelector("input[type=file]").addEventListener("change", (e) => addFiles(form, e.target));
      const schemaHost = form.querySelector("[data-schema-form]");
      if (schemaHost && window.SchemaForm) {
        try {
          const schema = JSON.parse(document.getElementById(form.dataset.schemaId).textContent);
          form.schemaForm = window.SchemaForm.render(schemaHost, schema);
        } catch (error) {
          form.brokenSchema = true;
          schemaHost.textContent = "This form cannot be shown (" + error.message + "). Answer it over HTTP: see docs/WEBSOCKET.md.";
        }
      }
    });
    scope.querySelectorAll("[data-ask-tab]").forEach((tab) => {
      tab.addEventListener("click", () => {
        const section = tab.closest(".asks");
        section.querySelectorAll("[data-ask-tab]").forEach((t) => { t.classList.toggle("active", t === tab); t.setAttribute("aria-selected", t === tab); });
        section.querySelectorAll("[data-answer-form]").forEach((f) => f.classList.toggle("active", f.id === "ask-" + tab.dataset.askTab));
        section.querySelector("#ask-" + tab.dataset.askTab + " textarea")?.focus();
      });
    });
  }

  function showError(form, message) {
    const box = form.querySelector("[data-form-error]");
    box.textContent = message || "";
    box.hidden = !message;
  }

  function addFiles(form, input) {
    const list = pendingFiles.get(form);
    const limit = maxAnswerBytes(form);
    for (const file of input.files) {
      const total = list.reduce((sum, f) => sum + base64Bytes(f.size), base64Bytes(file.size));
      if (total > limit) {
        showError(form, `${file.name} (${mb(file.size)} MB) would make the answer ${mb(total)} MB: at most ${mb(limit)} MB can be sent to an agent.`);
        continue;
      }
      const kind = file.type.split("/")[0];
      if (!["image", "audio", "video"].includes(kind)) { showError(form, `${file.name}: only images, audio and video can be attached.`); continue; }
      list.push(file);
    }
    input.value = "";
    renderAttachments(form);
  }

  function renderAttachments(form) {
    const host = form.querySelector("[data-attachments]");
    host.replaceChildren();
    pendingFiles.get(form).forEach((file, i) => {
      const chip = document.createElement("span");
      chip.className = "chip";
      chip.textContent = file.name + " ";
      const remove = document.createElement("button");
      remove.type = "button"; remove.textContent = "✕"; remove.title = "Remove";
      remove.addEventListener("click", () => { pendingFiles.get(form).splice(i, 1); renderAttachments(form); });
      chip.appendChild(remove);
      host.appendChild(chip);
    });
  }

  function readAsBase64(file) {
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result).split(",", 2)[1]);
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(file);
    });
  }

  async function sendAnswer(form) {
    // One answer at a time: a second Enter while files are read or the answer is on its way
    // would send it again (and be told it was already answered).
    if (form.classList.contains("sending") || form.classList.contains("sent")) return;
    if (form.hasAttribute("data-read-only")) return;  // a viewer's: the server would refuse it
    form.classList.add("sending");
    let problem;
    try {
      problem = await trySend(form);
    } catch (error) {  // e.g. an attached file that changed or vanished meanwhile
      problem = "The answer could not be prepared: " + (error?.message || error);
    }
    if (problem) { form.classList.remove("sending"); showError(form, problem); }
  }

  async function trySend(form) {
    showError(form, "");
    if (form.brokenSchema) return "This form cannot be shown, so it cannot be sent from here.";
    const text = form.querySelector("textarea").value;
    const blocks = [];
    if (text.trim()) blocks.push({ type: "text", text });
    for (const file of pendingFiles.get(form)) {
      blocks.push({ type: file.type.split("/")[0], source: { type: "base64", media_type: file.type, data: await readAsBase64(file) } });
    }
    let structured = null;
    if (form.schemaForm) {
      form.schemaForm.clearErrors();
      structured = form.schemaForm.value();
    } else if (!blocks.length) {
      return "Write an answer or attach a file first.";
    }
    const size = new TextEncoder().encode(JSON.stringify([blocks, structured])).length;
    if (size > maxAnswerBytes(form)) return `The answer is ${mb(size)} MB; at most ${mb(maxAnswerBytes(form))} MB can be sent to an agent.`;
    const payload = { type: "answer", requestId: form.dataset.requestId, blocks, structured };
    if (!window.studioLive.send(payload)) return "Not connected to the studio: reconnecting, try again in a moment.";
    return null;
  }

  document.addEventListener("studio:message", (e) => {
    const data = e.detail;
    const form = Array.from(document.querySelectorAll("[data-answer-form]")).find((f) => f.dataset.requestId === data.requestId);
    if (data.type === "answer.rejected") {
      if (!form) { toast(data.message, "error"); return; }
      form.classList.remove("sending");
      showError(form, data.message);
      if (form.schemaForm && data.errors) form.schemaForm.showErrors(data.errors);
    } else if (data.type === "answer.accepted") {
      form?.classList.remove("sending");
      form?.classList.add("sent");
      toast("Answer sent.", "ok");
    } else if (data.type === "error") {
      toast(data.message, "error");
    }
  });

  // An answer in flight when the socket dropped may never be answered: let the person resend
  // (the server takes a request's answer once, so a duplicate is refused, never doubled).
  document.addEventListener("studio:disconnected", () => {
    document.querySelectorAll("[data-answer-form].sending").forEach((form) => form.classList.remove("sending"));
  });

  setupForms(document);
  document.addEventListener("studio:live", (e) => setupForms(e.detail.parentNode || document));
})();

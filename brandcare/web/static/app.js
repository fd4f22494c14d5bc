// Keyboard shortcuts, one-shot forms, claims on intent, unsent edits kept, and HTMX's
// CSRF header. No inline scripts (CSP).
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]');
  document.addEventListener("htmx:configRequest", function (e) {
    if (csrf) e.detail.headers["X-CSRF-Token"] = csrf.content;
  });

  // A form posts once: a double click on "Approve" must not send two requests.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.classList || !form.classList.contains("once")) return;
    if (form.dataset.sent) { e.preventDefault(); return; }
    form.dataset.sent = "1";
    form.querySelectorAll("button").forEach(function (b) { setTimeout(function () { b.disabled = true; }, 0); });
  }, true);

  // --- The draft page ------------------------------------------------------------------
  var editor = document.getElementById("approve-form");
  var reply = document.getElementById("reply");
  var key = editor ? "brandcare.unsent." + editor.dataset.draft : null;

  // Claim on intent: starting to edit (or a keyboard action) holds the draft, once.
  var claiming = null;
  function claim() {
    if (!editor || editor.dataset.mine || !csrf) return Promise.resolve(true);
    if (claiming) return claiming;
    claiming = fetch(editor.dataset.claim, {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf.content, "X-Requested-With": "fetch" },
    }).then(function (r) {
      if (r.status === 204) { editor.dataset.mine = "1"; return true; }
      if (r.status === 409) {
        return r.text().then(function (why) { lost(why); return false; });
      }
      claiming = null;  // signed out, or a network error: the action itself will tell
      return true;
    }, function () { claiming = null; return true; });
    return claiming;
  }
  function lost(why) {
    var banner = document.getElementById("claim-lost");
    if (banner) { banner.textContent = why; banner.hidden = false; }
    document.querySelectorAll("#approve-form button, form.reject button").forEach(function (b) { b.disabled = true; });
  }

  // The typed reply survives a session that ends meanwhile: kept in this tab until the
  // draft shows it, and put back (never sent) when the page comes back after a login.
  function remember() {
    if (!key || !reply) return;
    try {
      if (reply.value === reply.defaultValue) sessionStorage.removeItem(key);
      else sessionStorage.setItem(key, reply.value);
    } catch (err) { /* storage off: nothing to keep */ }
  }
  function restore() {
    if (!key || !reply) return;
    var kept = null;
    try { kept = sessionStorage.getItem(key); } catch (err) { return; }
    if (kept === null) return;
    if (kept === reply.defaultValue) { sessionStorage.removeItem(key); return; }
    reply.value = kept;
    window.addEventListener("load", function () {  // once HTMX listens: the live count
      reply.dispatchEvent(new Event("input", { bubbles: true }));
    });
    var banner = document.getElementById("restored");
    if (banner) {
      banner.textContent = "Your unsent edit is back in the reply. Nothing was sent: check it, then approve or save.";
      banner.hidden = false;
    }
  }
  if (reply) {
    restore();
    reply.addEventListener("focus", claim);
    reply.addEventListener("input", function () { claim(); remember(); });
    if (editor) editor.addEventListener("submit", remember);
  } else {
    // No editor for this draft any more (approved, rejected, sent): forget what was kept.
    var page = location.pathname.match(/^\/drafts\/(\d+)$/);
    if (page) { try { sessionStorage.removeItem("brandcare.unsent." + page[1]); } catch (err) { /* off */ } }
  }
  var reason = document.getElementById("reject-reason");
  if (reason) reason.addEventListener("focus", claim);

  function editAtEnd() {
    if (!reply) return;
    reply.focus();
    var end = reply.value.length;
    reply.setSelectionRange(end, end);  // type after "Hi @...", never before it
    reply.scrollTop = reply.scrollHeight;
  }

  // --- The queue -----------------------------------------------------------------------
  var selected = null;
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("#queue-table tr.row")); }
  function select(i) {
    var all = rows(); if (!all.length) return;
    i = Math.max(0, Math.min(all.length - 1, i));
    all.forEach(function (r) { r.classList.remove("selected"); });
    all[i].classList.add("selected"); all[i].scrollIntoView({ block: "nearest" });
    selected = all[i].dataset.draft;
  }
  function index() { var all = rows(); for (var i = 0; i < all.length; i++) if (all[i].dataset.draft === selected) return i; return -1; }
  document.addEventListener("click", function (e) {
    var row = e.target.closest && e.target.closest("tr.row");
    if (row && !e.target.closest("a, button, form, [tabindex='0']")) window.location = row.dataset.href;
  });
  document.addEventListener("htmx:afterSwap", function () { var i = index(); if (i >= 0) select(i); });

  function typing(t) { return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable); }
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var t = e.target;
    if (e.key === "Escape" && typing(t)) { t.blur(); return; }
    if (typing(t)) return;
    var onQueue = !!document.getElementById("queue");
    if (onQueue) {
      if (e.key === "j") { select(index() + 1); e.preventDefault(); }
      else if (e.key === "k") { select(index() - 1); e.preventDefault(); }
      else if (e.key === "Enter" && selected) { window.location = "/drafts/" + selected; }
      else if (e.key === "/") { var s = document.getElementById("search"); if (s) { s.focus(); e.preventDefault(); } }
      return;
    }
    if (e.key === "a") {
      var approve = document.getElementById("approve");
      if (approve && !approve.disabled) { e.preventDefault(); remember(); approve.form.requestSubmit(approve); }
    } else if (e.key === "e") {
      if (reply) { e.preventDefault(); editAtEnd(); }
    } else if (e.key === "r") {
      if (reason) { e.preventDefault(); reason.focus(); }
    } else if (e.key === "n") {
      var next = document.getElementById("next-form");
      if (next) { e.preventDefault(); next.requestSubmit(); }
      else { var link = document.getElementById("next-link"); if (link && link.href) window.location = link.href; }
    } else if (e.key === "u" || e.key === "i") {
      window.location = "/inbox";
    }
  });
})();

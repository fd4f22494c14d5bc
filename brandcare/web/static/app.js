// Keyboard shortcuts, one-shot forms and HTMX's CSRF header. No inline scripts (CSP).
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

  // Queue rows: click anywhere, or j/k then Enter.
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
    if (row && !e.target.closest("a, button, form")) window.location = row.dataset.href;
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
      if (approve && !approve.disabled) { e.preventDefault(); approve.form.requestSubmit(approve); }
    } else if (e.key === "e") {
      var reply = document.getElementById("reply"); if (reply) { e.preventDefault(); reply.focus(); }
    } else if (e.key === "r") {
      var reason = document.getElementById("reject-reason"); if (reason) { e.preventDefault(); reason.focus(); }
    } else if (e.key === "n") {
      var next = document.getElementById("next-link"); if (next) window.location = next.href;
    } else if (e.key === "u" || e.key === "i") {
      window.location = "/inbox";
    }
  });
})();

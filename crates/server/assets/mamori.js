// mamori: the browser side of the idle lock. The server enforces the lock on its own; this
// script clears the screen on time and keeps an active user's session from idling out.
(function () {
  "use strict";
  var body = document.body;
  if (!body || !body.dataset.idleMinutes) { return; }
  var idleMs = Number(body.dataset.idleMinutes) * 60 * 1000;
  var csrf = body.dataset.csrf || "";
  var lastActivity = Date.now();
  var lastPing = Date.now();
  function activity() {
    lastActivity = Date.now();
    if (lastActivity - lastPing > 60 * 1000) {
      lastPing = lastActivity;
      var form = new URLSearchParams();
      form.set("_csrf", csrf);
      fetch("/api/v1/session/ping", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: form.toString()
      }).then(function (r) {
        if (r.status === 401) { window.location.assign("/lock"); }
      }).catch(function () { /* offline: the server decides at the next request */ });
    }
  }
  ["keydown", "mousedown", "mousemove", "touchstart", "scroll"].forEach(function (ev) {
    window.addEventListener(ev, activity, { passive: true });
  });
  window.setInterval(function () {
    if (Date.now() - lastActivity >= idleMs) {
      document.documentElement.classList.add("locking");
      window.location.assign("/lock");
    }
  }, 5000);
})();

// Buttons that print the page, and forms that ask before an irreversible step (data-confirm).
(function () {
  "use strict";
  document.querySelectorAll("[data-print]").forEach(function (b) {
    b.addEventListener("click", function () { window.print(); });
  });
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.dataset.confirm)) { e.preventDefault(); }
    });
  });
})();

// File inputs with a size limit (data-max-bytes) refuse a larger file before it is sent; the
// server checks again.
(function () {
  "use strict";
  document.querySelectorAll("input[type=file][data-max-bytes]").forEach(function (input) {
    input.addEventListener("change", function () {
      var max = Number(input.dataset.maxBytes);
      var big = Array.prototype.some.call(input.files || [], function (f) { return f.size > max; });
      input.setCustomValidity(big ? (input.dataset.tooLarge || "") : "");
      if (big) { input.reportValidity(); }
    });
  });
})();

// Tables with a column of checkboxes: a header box ticks them all (data-check-all="name"), and a
// button ticks those the server suggests (data-check-suggested="name" ticks [data-suggest-revoke]).
(function () {
  "use strict";
  function boxes(name) {
    return document.querySelectorAll("input[type=checkbox][name='" + name + "']");
  }
  document.querySelectorAll("[data-check-all]").forEach(function (all) {
    all.addEventListener("change", function () {
      boxes(all.dataset.checkAll).forEach(function (b) { b.checked = all.checked; });
    });
  });
  document.querySelectorAll("[data-check-suggested]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      boxes(btn.dataset.checkSuggested).forEach(function (b) {
        b.checked = b.hasAttribute("data-suggest-revoke");
      });
    });
  });
})();

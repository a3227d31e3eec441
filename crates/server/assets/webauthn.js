// mamori: security keys and passkeys (WebAuthn). A form with data-webauthn="register" or
// "login" asks the server for options (data-start), runs the browser ceremony, puts the result
// into its hidden `credential` field and submits. Works without any library.
(function () {
  "use strict";
  function b64uToBuf(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) { s += "="; }
    var bin = atob(s), b = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { b[i] = bin.charCodeAt(i); }
    return b.buffer;
  }
  function bufToB64u(buf) {
    var b = new Uint8Array(buf), s = "";
    for (var i = 0; i < b.length; i++) { s += String.fromCharCode(b[i]); }
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function clean(o) { // drop null members: WebIDL dictionaries refuse null for sequences
    if (Array.isArray(o)) { return o.map(clean); }
    if (o && typeof o === "object") {
      var out = {};
      Object.keys(o).forEach(function (k) { if (o[k] !== null) { out[k] = clean(o[k]); } });
      return out;
    }
    return o;
  }
  function start(url, csrf) {
    var body = new URLSearchParams();
    body.set("_csrf", csrf);
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: body.toString()
    }).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok) { throw new Error((j && j.message) || r.status + "", { cause: j && j.code }); }
        return j;
      });
    });
  }
  document.querySelectorAll("form[data-webauthn]").forEach(function (form) {
    var error = form.querySelector("[data-webauthn-error]");
    var show = function (msg) { if (error) { error.textContent = msg; error.hidden = false; } };
    if (!window.PublicKeyCredential || !navigator.credentials) {
      show(form.dataset.unsupported || "WebAuthn is not available in this browser.");
      form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
      return;
    }
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var mode = form.dataset.webauthn;
      var csrf = form.querySelector("input[name=_csrf]").value;
      start(form.dataset.start, csrf).then(function (opts) {
        var pk = clean(opts.publicKey);
        pk.challenge = b64uToBuf(pk.challenge);
        if (mode === "register") {
          pk.user.id = b64uToBuf(pk.user.id);
          (pk.excludeCredentials || []).forEach(function (c) { c.id = b64uToBuf(c.id); });
          return navigator.credentials.create({ publicKey: pk });
        }
        (pk.allowCredentials || []).forEach(function (c) { c.id = b64uToBuf(c.id); });
        return navigator.credentials.get({ publicKey: pk });
      }).then(function (cred) {
        var r = cred.response;
        var out = {
          id: cred.id,
          rawId: bufToB64u(cred.rawId),
          type: cred.type,
          extensions: {},
          response: { clientDataJSON: bufToB64u(r.clientDataJSON) }
        };
        if (mode === "register") {
          out.response.attestationObject = bufToB64u(r.attestationObject);
        } else {
          out.response.authenticatorData = bufToB64u(r.authenticatorData);
          out.response.signature = bufToB64u(r.signature);
          out.response.userHandle = r.userHandle ? bufToB64u(r.userHandle) : null;
        }
        form.querySelector("input[name=credential]").value = JSON.stringify(out);
        form.submit();
      }).catch(function (e) {
        show((form.dataset.failed || "") + " " + (e && e.message ? e.message : ""));
      });
    });
  });
})();

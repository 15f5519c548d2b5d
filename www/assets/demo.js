// The demo shop's own member system (login, sign-up, logout). A real Craft Cart shop has these
// already; the Amazon parts only need the sign-up prefill and the server-side link after login.
(function () {
  "use strict";
  var session = fetch("/api/amazonpay2/session", { credentials: "same-origin" }).then(function (r) {
    return r.json();
  });

  function post(path, body) {
    return session.then(function (s) {
      return fetch("/api/amazonpay2/demo/" + path, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-AmazonPay2-CSRF": s.csrfToken },
        body: JSON.stringify(body || {}),
      });
    }).then(function (response) {
      return response.json().then(function (json) {
        if (!response.ok) throw new Error(json.error ? json.error.message : "HTTP " + response.status);
        location.assign(json.redirect);
      });
    });
  }

  // Header: who is logged in.
  session.then(function (s) {
    var member = s.member && s.member.state === "member";
    document.querySelectorAll("[data-member-name]").forEach(function (e) {
      e.textContent = member ? s.member.name + " 様" + (s.member.linked ? "（Amazon 連携済み）" : "") : "";
    });
    document.querySelectorAll("[data-guest-only]").forEach(function (e) { e.hidden = member; });
    document.querySelectorAll("[data-member-only]").forEach(function (e) { e.hidden = !member; });
  });
  document.querySelectorAll("[data-logout]").forEach(function (button) {
    button.addEventListener("click", function () { post("logout"); });
  });

  // Forms: login and sign-up.
  document.querySelectorAll("[data-demo-form]").forEach(function (form) {
    var error = form.querySelector(".form-error");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = {};
      new FormData(form).forEach(function (value, name) { body[name] = String(value); });
      error.hidden = true;
      post(form.getAttribute("data-demo-form"), body).catch(function (e) {
        error.textContent = e.message;
        error.hidden = false;
      });
    });
  });

  // Sign-up: fill in what the Amazon account provides (no furigana: Amazon has none).
  var signup = document.querySelector('[data-demo-form="signup"]');
  if (signup) {
    fetch("/api/amazonpay2/signup/prefill", { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (prefill) {
        if (!prefill) return;
        Object.keys(prefill).forEach(function (name) {
          var field = signup.elements.namedItem(name);
          if (field && prefill[name]) field.value = prefill[name];
        });
      });
  }
})();

// Demo only: switches the demo shopper between guest and member, so that every block can be
// seen in each state. A real Craft Cart shop has its own member login instead.
(function () {
  "use strict";
  var bar = document.getElementById("demo-bar");
  if (!bar) return;
  var state = bar.querySelector("[data-demo-state]");
  var csrfToken = null;

  function describe(member) {
    if (!member || member.state !== "member") return "ゲスト（未ログイン）";
    return "会員: " + member.name + (member.linked ? "（Amazon 連携済み）" : "（Amazon 未連携）");
  }

  function post(path, body) {
    return fetch("/api/amazonpay2/demo/" + path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-AmazonPay2-CSRF": csrfToken || "" },
      body: JSON.stringify(body || {}),
    }).then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      location.reload();
    }).catch(function (error) {
      state.textContent = "切り替えに失敗しました: " + error.message;
    });
  }

  // The widget announces the shopper's state (and the session's CSRF token) after each answer.
  document.addEventListener("amazonpay2:state", function (event) {
    csrfToken = event.detail.csrfToken;
    state.textContent = describe(event.detail.member);
  });
  bar.addEventListener("click", function (event) {
    var action = event.target.getAttribute("data-demo");
    if (action === "guest") post("logout");
    if (action === "member") post("login", { linked: false });
    if (action === "linked") post("login", { linked: true });
  });
})();

// The demo shop's own member system (login, sign-up, logout). A real Craft Cart shop has these
// already; the Amazon parts only need the sign-up prefill and the server-side link after login.
(function () {
  "use strict";
  function currentSession() {
    return fetch("/api/amazonpay2/session", { credentials: "same-origin" }).then(function (r) {
      return r.json();
    });
  }
  var session = currentSession();

  // The CSRF token is read right before each change, not kept from the page load: on a first
  // visit the page's own requests (this script's and the widget's) may each have started a
  // session, and the browser keeps only the last cookie.
  function post(path, body) {
    return currentSession().then(function (s) {
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

  function yen(amount) {
    return Number(amount).toLocaleString("ja-JP");
  }

  function api(path, body) {
    return (body ? currentSession() : session).then(function (s) {
      return fetch("/api/amazonpay2/" + path, {
        method: body ? "POST" : "GET",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-AmazonPay2-CSRF": s.csrfToken },
        body: body ? JSON.stringify(body) : undefined,
      });
    }).then(function (response) {
      return response.json().then(function (json) {
        if (!response.ok) throw new Error(json.error ? json.error.message : "HTTP " + response.status);
        return json;
      });
    });
  }

  function cell(text, className) {
    var td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  // Cart: products, lines, shipping method (a change reloads, so the Amazon block follows).
  function showCart(cart, shipping) {
    document.querySelectorAll("[data-cart]").forEach(function (table) {
      var body = table.querySelector("tbody");
      body.textContent = "";
      cart.lines.forEach(function (line) {
        var row = document.createElement("tr");
        row.appendChild(cell(line.name));
        row.appendChild(cell(yen(line.price) + " 円 × " + line.quantity, "num"));
        if (!table.hasAttribute("data-readonly")) {
          [["−", line.quantity - 1], ["＋", line.quantity + 1]].forEach(function (change) {
            var td = document.createElement("td");
            var button = document.createElement("button");
            button.type = "button";
            button.textContent = change[0];
            button.setAttribute("aria-label", line.name + (change[0] === "＋" ? " を1つ増やす" : " を1つ減らす"));
            button.addEventListener("click", function () {
              api("demo/cart", { productId: line.productId, quantity: change[1] }).then(function () { location.reload(); });
            });
            td.appendChild(button);
            row.appendChild(td);
          });
        }
        body.appendChild(row);
      });
      if (!cart.lines.length) body.appendChild(document.createElement("tr")).appendChild(cell("カートは空です。"));
    });
    document.querySelectorAll("[data-total]").forEach(function (e) { e.textContent = yen(cart.total); });
    document.querySelectorAll("[data-recurring]").forEach(function (e) { e.hidden = !cart.recurring; });
    document.querySelectorAll("[data-shipping]").forEach(function (select) {
      select.textContent = "";
      shipping.forEach(function (method) {
        var option = document.createElement("option");
        option.value = method.id;
        option.textContent = method.name + "（" + yen(method.fee) + " 円）" + (method.amazonPayAllowed ? "" : "※Amazon Pay 不可");
        option.selected = method.id === cart.shippingMethodId;
        select.appendChild(option);
      });
      select.onchange = function () {
        api("demo/cart", { shippingMethodId: Number(select.value) }).then(function () { location.reload(); });
      };
    });
  }

  if (document.querySelector("[data-cart], [data-catalogue]")) {
    Promise.all([api("demo/cart"), api("demo/catalogue")]).then(function (both) {
      showCart(both[0], both[1].shippingMethods);
      if (both[1].storeName) {
        document.querySelectorAll(".logo").forEach(function (e) { e.textContent = both[1].storeName; });
      }
      document.querySelectorAll("[data-catalogue]").forEach(function (list) {
        both[1].products.forEach(function (product) {
          var card = document.createElement("div");
          card.className = "product";
          card.innerHTML = '<div class="photo"></div><p></p><p class="price"></p><button class="button" type="button"></button>';
          card.querySelector("p").textContent = product.name;
          card.querySelector(".price").textContent = yen(product.price) + " 円" + (product.recurring ? "／月" : "");
          card.querySelector("button").textContent = product.recurring ? "定期購入を申し込む" : "カートに入れる";
          card.querySelector("button").setAttribute("data-add-product", product.id);
          list.appendChild(card);
        });
      });
    });
  }
  document.addEventListener("click", function (event) {
    var product = event.target.getAttribute && event.target.getAttribute("data-add-product");
    if (!product) return;
    api("demo/cart", { productId: Number(product), quantity: 1 }).then(function () {
      location.assign("/shopping/cart.html");
    });
  });

  document.querySelectorAll("[data-edit-address]").forEach(function (button) {
    button.addEventListener("click", function () {
      document.querySelector("[data-address-warning]").hidden = false;
    });
  });
  document.querySelectorAll("[data-order-number]").forEach(function (e) {
    e.textContent = new URLSearchParams(location.search).get("order") || "";
  });

  // My Page: orders with their credit status (仮売上 …) and subscriptions.
  if (document.querySelector("[data-orders]")) {
    session.then(function (s) {
      if (!s.member || s.member.state !== "member") return;
      api("demo/orders").then(function (history) {
        var orders = document.querySelector("[data-orders] tbody");
        if (history.orders.length) orders.textContent = "";
        history.orders.forEach(function (order) {
          var row = orders.appendChild(document.createElement("tr"));
          row.appendChild(cell("注文番号 " + order.orderNumber + (order.recurring ? "（定期購入）" : "")));
          row.appendChild(cell(yen(order.total) + " 円", "num"));
          row.appendChild(cell(order.creditStatus));
          if (order.note) row.appendChild(cell(order.note, "small"));
        });
        var subscriptions = document.querySelector("[data-subscriptions] tbody");
        if (history.subscriptions.length) subscriptions.textContent = "";
        history.subscriptions.forEach(function (sub) {
          var row = subscriptions.appendChild(document.createElement("tr"));
          row.appendChild(cell("毎月 " + yen(sub.amount) + " 円"));
          row.appendChild(cell("次回 " + sub.nextCycle));
          row.appendChild(cell("Amazon Pay"));
          // The manual's two rules for subscriptions paid with Amazon Pay.
          [["お届け先を変更", "お届け先を変更すると、マーケットプレイス保証対象外となります。"],
           ["支払方法を変更", "定期購入の支払方法を Amazon Pay に変更したり、登録クレジットカードを変更したりすることはできません。"]]
            .forEach(function (action) {
              var td = row.appendChild(document.createElement("td"));
              var button = td.appendChild(document.createElement("button"));
              button.type = "button";
              button.textContent = action[0];
              button.addEventListener("click", function () {
                var note = td.querySelector(".form-error") || td.appendChild(document.createElement("p"));
                note.className = "form-error";
                note.setAttribute("role", "alert");
                note.textContent = action[1];
              });
            });
        });
      });
    });
  }

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

/*! Amazon Pay widget for Craft Cart shops: <script src="/amazonpay2/widget.js"></script> */
// build.sh puts wasm-bindgen's glue where the marker below stands, so the whole widget is this
// one classic script plus its .wasm. Everything lives inside this function: the page gains no
// global names, whatever other scripts a shop runs.
//
// On a phone every round trip counts, so the loader does not wait for the wasm to start the
// others: as soon as the blocks are parsed the page's one API request goes out, and with it
// checkout.js when a block there usually shows an Amazon button (a login or checkout block, or
// what this tab saw last time), else when the answer says one will be drawn. In the simple case
// (one block on the page is to show an Amazon button, and it can be seen) the loader draws that
// button itself as soon as the answer and checkout.js are there, and only then fetches the wasm,
// so that the wasm's 80 KB do not share the link with them; otherwise the wasm is fetched as soon
// as the answer shows the case is not simple (at once where no answer is to be waited for).
// The wasm then takes over the answer, checkout.js and the drawn button (and a click on it meanwhile)
// instead of asking again, and alone decides what each block shows from then on. The answer is also
// remembered for this tab, so that the next view of the same blocks shows it at once while the
// fresh one comes.
(function () {
  "use strict";

  // A second copy of the tag does nothing. A registry symbol is not a name any script can clash
  // with by accident.
  var KEY = Symbol.for("amazonpay2.widget");
  if (window[KEY]) {
    return;
  }

  // Only readable while this script first runs; the wasm is fetched relative to it, so the
  // widget may be served from another origin than the page.
  var script = document.currentScript || document.querySelector('script[src*="/amazonpay2/widget.js"]');
  var src = script && script.src ? script.src : new URL("/amazonpay2/widget.js", location.href).href;
  var attribute = function (name) {
    return script ? script.getAttribute(name) : null;
  };
  var settings = {
    endpoint: new URL(attribute("data-endpoint") || "/api/amazonpay2", src).href.replace(/\/+$/, ""),
    lang: attribute("data-lang") || "ja",
    debug: !!(script && script.hasAttribute("data-debug")),
  };
  window[KEY] = { settings: settings };

  // No layout shift: until the widget settles a block, the block keeps the height it had on this
  // page last time in this tab, so content below does not move when the button arrives; a new
  // visitor (a guest) gets the sign-in button's height on a login block that nothing outranks.
  // Every block has at least 1px from the start (the widget needs it to tell an empty block from a
  // hidden one), so that an empty block stays as it was. This only works from <head>, before the
  // page is drawn.
  var HEIGHTS = "amazonpay2:heights:" + location.pathname;
  var store = function (key, value) {
    try {
      return value === undefined ? sessionStorage.getItem(key) : sessionStorage.setItem(key, value);
    } catch (e) {
      return null; // storage disabled: nothing remembered
    }
  };
  var KIND = function (kind) {
    return '[data-amazonpay="' + kind + '"]:not([data-amazonpay2-settled])';
  };
  (function reserve() {
    var heights = null;
    try {
      heights = JSON.parse(store(HEIGHTS));
    } catch (e) {}
    // With the width the wasm's style sheet gives the button, should the loader draw it.
    var css =
      "[data-amazonpay]{min-height:1px}.amazonpay2--pc .amazonpay2-button{width:300px;max-width:100%}" +
      ".amazonpay2--sp .amazonpay2-button{width:100%}";
    if (heights && typeof heights === "object") {
      Object.keys(heights).forEach(function (kind) {
        var height = Number(heights[kind]);
        if (/^[a-z]{1,16}$/.test(kind) && height > 1 && height < 1000) {
          css += KIND(kind) + "{min-height:" + Math.round(height) + "px}";
        }
      });
    } else if (store("amazonpay2:member") !== "member") {
      css += ':root:not(:has([data-amazonpay="checkout"],[data-amazonpay="mypage"])) ' + KIND("login") + "{min-height:45px}";
    }
    var style = document.createElement("style");
    style.id = "amazonpay2-reserve";
    style.textContent = css;
    (document.head || document.documentElement).appendChild(style);
  })();
  var remember = function () {
    var heights = {};
    document.querySelectorAll("[data-amazonpay][data-amazonpay2-settled]").forEach(function (block) {
      var kind = (block.getAttribute("data-amazonpay") || "").trim();
      heights[kind] = Math.max(heights[kind] || 0, block.getBoundingClientRect().height);
    });
    store(HEIGHTS, JSON.stringify(heights));
  };
  addEventListener("pagehide", remember);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") remember();
  });

  // The block descriptions the wasm will ask for (the same rules, the same JSON): each kind that
  // asks the server, with its placement and colour or their defaults, once each, in page order.
  // Should the wasm describe the page otherwise (a block added meanwhile), it asks itself.
  var KINDS = ["checkout", "login", "mypage", "review"];
  var PLACEMENTS = ["Home", "Product", "Cart", "Checkout", "Other"];
  var COLORS = ["Gold", "LightGray", "DarkGray"];
  var TIMEOUT_MS = 10000;
  // The server writes its checkout.js URL here when it serves this file; served as built, the
  // placeholder stays and checkout.js starts with the answer instead.
  var CHECKOUT_JS = "@@CHECKOUT_JS@@";
  var ANSWER = "amazonpay2:answer:";
  var memory = function (key, value) {
    return store(ANSWER + key, value);
  };
  // The server's notice in the address (on the way back from Amazon) goes into a block: the wasm's.
  var notice = /[?&]amazonpay2=/.test(location.search);
  // What the tab remembered no longer holds once the shopper's state changed: on the way back
  // from Amazon and after an unlink (the wasm calls this).
  settings.forget = function () {
    try {
      for (var i = sessionStorage.length - 1; i >= 0; i--) {
        var key = sessionStorage.key(i);
        if (key && key.indexOf(ANSWER) === 0) sessionStorage.removeItem(key);
      }
    } catch (e) {}
  };
  if (notice) settings.forget();
  // Every block with its description (none for a kind that does not ask the server), in page order.
  function blocks() {
    return [].map.call(document.querySelectorAll("[data-amazonpay]"), function (block) {
      var value = function (name, allowed, fallback) {
        var v = (block.getAttribute(name) || "").trim();
        return allowed.indexOf(v) < 0 ? fallback : v;
      };
      var kind = value("data-amazonpay", KINDS, null);
      return [
        block,
        kind &&
          JSON.stringify({
            kind: kind,
            placement: value("data-placement", PLACEMENTS, kind === "checkout" ? "Checkout" : "Other"),
            buttonColor: value("data-button-color", COLORS, "Gold"),
          }),
      ];
    });
  }
  function describe() {
    var seen = [];
    blocks().forEach(function (block) {
      if (block[1] && seen.indexOf(block[1]) < 0) seen.push(block[1]);
    });
    return seen.length ? '{"blocks":[' + seen.join(",") + "]}" : null;
  }

  // A promise settled by `start` within the widget's timeout (as the wasm's own requests are).
  function timed(start, what) {
    return new Promise(function (resolve, reject) {
      var timer = setTimeout(function () {
        reject("timed out loading " + what);
      }, TIMEOUT_MS);
      start(
        function (value) {
          clearTimeout(timer);
          resolve(value);
        },
        function (error) {
          clearTimeout(timer);
          reject(error);
        }
      );
    });
  }

  function loadCheckoutJs(url) {
    return timed(function (resolve, reject) {
      var tag = document.createElement("script");
      tag.src = url;
      tag.async = true;
      tag.onload = resolve;
      tag.onerror = function () {
        reject("failed to load " + url);
      };
      (document.head || document.documentElement).appendChild(tag);
    }, url);
  }

  var pay = function () {
    var amazon = window.amazon && window.amazon.Pay;
    return amazon && typeof amazon.renderButton === "function" ? amazon : null;
  };
  function startCheckoutJs(url) {
    if (settings.checkoutJs || pay()) return;
    settings.checkoutJs = { url: url, loaded: loadCheckoutJs(url) };
    // The wasm reports a failure when it gets there; this copy must not count as unhandled.
    settings.checkoutJs.loaded.catch(function () {});
  }

  // The block to draw the Amazon button into without the wasm, with its options: only when the
  // answer to `body` has one block on the page showing an Amazon button, nothing for the review
  // block, every block on the page described in it, and that block can be seen. Everything else
  // (several candidates, a hidden one, a block added since, a notice, diagnostics) is the wasm's.
  function simple(answer, body) {
    var found = null;
    var count = 0;
    var views = answer && answer.blocks;
    if (!Array.isArray(views) || notice || settings.debug) return null;
    var specs = JSON.parse(body).blocks.map(JSON.stringify);
    var all = blocks();
    for (var i = 0; i < all.length; i++) {
      if (!all[i][1]) continue;
      var view = views[specs.indexOf(all[i][1])];
      if (!view || view.view === "review") return null;
      if (view.view === "button") {
        count++;
        found = [all[i][0], view.options];
      }
    }
    return count === 1 && found[0].checkVisibility && found[0].checkVisibility({ visibilityProperty: true })
      ? found
      : null;
  }

  // Draws the button as the wasm would (the same markup, layout and container), in decoupled
  // mode; a click before the wasm is ready waits for it in `settings.drawn`.
  function draw(found) {
    var amazon = pay();
    if (!amazon || settings.booted || settings.drawn) return;
    var block = found[0];
    var device = (block.getAttribute("data-device") || "").trim();
    var wrapper = document.createElement("div");
    var container = document.createElement("div");
    wrapper.className =
      "amazonpay2 amazonpay2--" +
      (device === "sp" || (device !== "pc" && matchMedia("(max-width: 767px)").matches) ? "sp" : "pc");
    wrapper.lang = settings.lang === "en" ? "en" : "ja";
    container.id = "amazonpay2-button-0";
    container.className = "amazonpay2-button";
    wrapper.appendChild(container);
    block.replaceChildren(wrapper);
    var drawn = { block: block, container: container, options: found[1], clicked: false };
    try {
      drawn.button = amazon.renderButton("#" + container.id, found[1]);
      drawn.button.onClick(function () {
        if (drawn.onClick) drawn.onClick();
        else drawn.clicked = true;
      });
      settings.drawn = drawn;
    } catch (e) {
      // Not a decoupled button after all: the wasm draws and explains.
      wrapper.remove();
    }
  }

  function drawsAmazon(answer) {
    return !!(answer && answer.blocks && answer.blocks.some(function (block) {
      return block && (block.view === "button" || block.view === "review");
    }));
  }

  // The wasm: fetched (and compiled as it streams) once the loader has drawn the button or knows
  // it will not; then it takes over.
  var booting = null;
  function startWasm() {
    if (booting) return;
    booting = wasm_bindgen(fetch(new URL("@@WASM_FILE@@", src))).then(
      function () {
        // Started in a task of its own: not in the one that instantiated the wasm.
        settings.booted = true;
        setTimeout(wasm_bindgen.boot, 0, settings);
      },
      function (error) {
        // The shop page must keep working: no button that cannot be clicked; why in the console,
        // and in the blocks only when the designer asked for diagnostics.
        var wrapper = settings.drawn && settings.drawn.container.parentNode;
        if (wrapper) wrapper.remove();
        console.warn("Amazon Pay: the widget could not start:", error);
        if (settings.debug) {
          document.querySelectorAll("[data-amazonpay]").forEach(function (block) {
            block.textContent = "[Amazon Pay] widget could not start: " + error;
          });
        }
      }
    );
  }

  function prefetch() {
    var body = describe();
    if (!body) return null;
    var key = settings.endpoint + " " + body;
    var remembered = memory(key);
    var controller = new AbortController();
    var response = timed(function (resolve, reject) {
      fetch(settings.endpoint + "/buttons", {
        method: "POST",
        credentials: "include",
        headers: { "Content-Type": "application/json" },
        body: body,
        signal: controller.signal,
      }).then(resolve, reject);
    }, "the widget API").catch(function (error) {
      controller.abort();
      throw error;
    });
    settings.prefetch = { body: body, response: response, remembered: remembered };
    // The wasm waits only where the loader may draw the one button itself: one login or checkout
    // block, no review block. Elsewhere it is needed anyway, and the sooner the better.
    var buttons = blocks().filter(function (block) {
      return /"kind":"(login|checkout)"/.test(block[1]);
    });
    if (buttons.length !== 1 || /"review"/.test(body) || notice || settings.debug) startWasm();
    var last = null;
    try {
      last = remembered && JSON.parse(remembered);
    } catch (e) {}
    if (drawsAmazon(last)) {
      startCheckoutJs(last.checkoutJs);
    } else if (/^https?:/.test(CHECKOUT_JS) && !last && /"kind":"(login|checkout)"/.test(body)) {
      startCheckoutJs(CHECKOUT_JS);
    }
    // The answer to draw from: the remembered one at once, then the fresh one.
    var latest = last;
    var fresh = response
      .then(function (answer) {
        return answer.ok ? answer.clone().json() : null;
      })
      .then(function (answer) {
        latest = null;
        if (!answer || typeof answer.checkoutJs !== "string") return;
        latest = answer;
        store("amazonpay2:member", answer.member && answer.member.state === "member" ? "member" : "guest");
        // Remembered without the shopper's state and token, and never Amazon's address details.
        var views = answer.blocks.filter(function (block) {
          return block && block.view !== "review";
        });
        if (views.length === answer.blocks.length) {
          memory(key, JSON.stringify({ blocks: views, checkoutJs: answer.checkoutJs }));
        }
        if (drawsAmazon(answer) && !settings.booted) startCheckoutJs(answer.checkoutJs);
      })
      .catch(function () {
        latest = null;
      });
    // Without a remembered answer, a page with a login or checkout block waits for the fresh one.
    (last || !/"kind":"(login|checkout)"/.test(body) ? Promise.resolve() : fresh)
      .then(function () {
        if (simple(latest, body)) {
          return Promise.resolve(settings.checkoutJs && settings.checkoutJs.loaded).then(function () {
            // Again: the fresh answer may have come meanwhile.
            var found = simple(latest, body);
            if (found) draw(found);
          });
        }
      })
      .catch(function () {})
      .then(startWasm);
    return body;
  }

  /*@@WASM_BINDGEN_GLUE@@*/

  // The blocks are all there once the parser is done: `readystatechange` to "interactive" comes
  // at that very moment (DOMContentLoaded only in a task after it). On a page this tab has seen,
  // the widget starts even before: as soon as the blocks it had last time are all parsed (the
  // wasm then watches the rest of the page as it does for blocks added later).
  var BLOCKS = "amazonpay2:blocks:" + location.pathname;
  var expected = store(BLOCKS);
  // Where this tab drew an Amazon button on this page last time, checkout.js starts now rather
  // than once the blocks are parsed: on a phone its load is the longest wait of a repeat view.
  try {
    var early = JSON.parse(memory(settings.endpoint + " " + expected));
    // In a task of its own: starting a script costs a slow phone a few milliseconds, which
    // would lengthen the loader's first task (the blocks' parsing waits for it).
    if (drawsAmazon(early)) setTimeout(startCheckoutJs, 0, early.checkoutJs);
  } catch (e) {}
  var started = false;
  function start() {
    if (started) return;
    started = true;
    settings.parsed = true;
    var body = prefetch();
    if (body) store(BLOCKS, body);
    else startWasm();
    document.dispatchEvent(new Event("amazonpay2:parsed"));
  }
  if (document.readyState === "loading") {
    document.addEventListener("readystatechange", start);
    if (expected && window.MutationObserver) {
      var watching = new MutationObserver(function () {
        if (started || document.readyState !== "loading") return watching.disconnect();
        if (describe() === expected) {
          watching.disconnect();
          start();
        }
      });
      watching.observe(document, { childList: true, subtree: true });
    }
  } else {
    start();
  }
})();

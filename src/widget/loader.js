/*! Amazon Pay widget for Craft Cart shops: <script src="/amazonpay2/widget.js"></script> */
// build.sh puts wasm-bindgen's glue where the marker below stands, so the whole widget is this
// one classic script plus its .wasm. Everything lives inside this function: the page gains no
// global names, whatever other scripts a shop runs.
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
    endpoint: new URL(attribute("data-endpoint") || "/api/amazonpay2", src).href,
    lang: attribute("data-lang") || "ja",
    debug: !!(script && script.hasAttribute("data-debug")),
  };
  window[KEY] = { settings: settings };

  /*@@WASM_BINDGEN_GLUE@@*/

  wasm_bindgen({ module_or_path: new URL("amazonpay2_bg.wasm", src) }).then(
    function () {
      wasm_bindgen.boot(settings);
    },
    function (error) {
      // The shop page must keep working: say why in the console, and in the blocks only when
      // the designer asked for diagnostics.
      console.warn("Amazon Pay: the widget could not start:", error);
      if (settings.debug) {
        document.querySelectorAll("[data-amazonpay]").forEach(function (block) {
          block.textContent = "[Amazon Pay] widget could not start: " + error;
        });
      }
    }
  );
})();

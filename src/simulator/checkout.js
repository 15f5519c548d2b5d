/*
 * Amazon Pay simulator: stand-in for https://static-fe.payments-amazon.com/checkout.js.
 *
 * The demo server serves this file at <simulator origin>/checkout.js so that shop pages run the
 * same widget code paths offline as against Amazon. It mirrors what the real script does:
 *   - validation errors are thrown as plain strings prefixed "AmazonPay:\n" (not Error objects),
 *     because callers (and peers such as Magento) catch and log exactly those strings;
 *   - the button is drawn into an open shadow root on the container, so a second renderButton on
 *     the same element fails the way it does with Amazon's script;
 *   - a click posts a hidden form to <origin>/checkout/initiate (redirect, never a popup); the
 *     signature is checked there, server side, as Amazon does after the click.
 * Deliberate extra: amazon.Pay._simulator.renders records every accepted renderButton call and
 * amazon.Pay._simulator.checkouts every checkout started, so tests can assert what the widget
 * asked for. Legacy AJAX `createCheckoutSession` is not simulated.
 *
 * Both button styles work: a config given to renderButton (the manual's pasted template), and the
 * decoupled button (renderButton with none of createCheckoutSession, createCheckoutSessionConfig
 * or signInConfig returns {onClick, initCheckout, updateButtonInfo}; a click only calls the
 * onClick handler, and initCheckout(config) checks the config as a click on the other style does).
 *
 * Plain ES2017, classic script, no dependencies: it must load with a bare <script src> tag.
 */
(function () {
  "use strict";

  // Loading the script twice must not replace the first copy's state (renders, listeners).
  if (window.amazon && window.amazon.Pay && typeof window.amazon.Pay.renderButton === "function") {
    return;
  }

  // Every hosted page (initiate, initiate_auth, signout) lives on the origin that served us.
  // currentScript is null only if we were not run as a classic script; fall back to the page.
  const scriptSrc = (document.currentScript && document.currentScript.src) || location.href;
  const ORIGIN = new URL(scriptSrc, location.href).origin;

  const PREFIX = "AmazonPay:\n";
  const DEFAULT_ALGORITHM = "AMZN-PAY-RSASSA-PSS";
  const ENUMS = {
    placement: ["Home", "Product", "Cart", "Checkout", "Other"],
    ledgerCurrency: ["USD", "EUR", "GBP", "JPY"],
    productType: ["PayAndShip", "PayOnly", "SignIn"],
    buttonColor: ["Gold", "LightGray", "DarkGray"],
    checkoutLanguage: ["en_US", "en_GB", "de_DE", "fr_FR", "it_IT", "es_ES", "ja_JP"],
    algorithm: [DEFAULT_ALGORITHM, "AMZN-PAY-RSASSA-PSS-V2"],
    changeAction: ["changeAddress", "changePayment"],
  };
  const REQUIRED = ["merchantId", "ledgerCurrency", "placement"];
  const CONFIG_NAMES = ["createCheckoutSessionConfig", "signInConfig"];
  // Allowed decimal places of estimatedOrderAmount per currency (the real table `kt`: JPY=0).
  const DECIMALS = { JPY: 0, USD: 2, EUR: 2, GBP: 2 };
  const COLORS = {
    Gold: { background: "#FFD814", border: "#FCD200", text: "#0F1111" },
    LightGray: { background: "#E7E9EC", border: "#D5D9D9", text: "#0F1111" },
    DarkGray: { background: "#232F3E", border: "#232F3E", text: "#FFFFFF" },
  };
  const TEXTS = {
    ja: {
      payLabel: "Amazon Pay でお支払い",
      signIn: "Amazon アカウントでログイン",
      micro: "Amazonアカウントにご登録の住所・クレジットカード情報を利用して、簡単にご注文が完了できます。",
    },
    en: {
      payLabel: "Amazon Pay - Use your Amazon Pay Account",
      signIn: "Sign in with Amazon",
      micro: "Use the address and payment details saved in your Amazon account.",
    },
  };

  /** Throws the real script's error shape: one string, prefix, one line per problem. */
  function fail(lines) {
    throw PREFIX + [].concat(lines).join("\n");
  }

  function isMissing(value) {
    return value === undefined || value === null || value === "";
  }

  function enumError(name, value) {
    return "Invalid value '" + value + "' for '" + name +
      "', please use one of the available values: " + ENUMS[name].join(", ") + ".";
  }

  // Without checkoutLanguage the real script follows the browser language; for anything it does
  // not support we fall back to ja_JP, the language of this (FE, Japan) build [inferred].
  function defaultLanguage() {
    const nav = String(navigator.language || "").replace("-", "_").toLowerCase();
    const langs = ENUMS.checkoutLanguage;
    return langs.find((l) => l.toLowerCase() === nav) ||
      langs.find((l) => l.slice(0, 2) === nav.slice(0, 2)) || "ja_JP";
  }

  /** Checks selector and options, then resolves the element; `api` names the caller in errors. */
  function findElement(selector, options, api) {
    if (isMissing(selector)) fail("Missing 'selector' parameter for amazon.Pay." + api + ".");
    if (!options || typeof options !== "object") {
      fail("Missing 'options' parameter for amazon.Pay." + api + ".");
    }
    let element = null;
    try {
      element = typeof selector === "string" ? document.querySelector(selector) : null;
    } catch (_syntaxError) {
      element = null; // an invalid CSS selector finds nothing; report it in the Amazon shape
    }
    if (!element) fail("Can not find element " + selector + " for amazon.Pay." + api + ".");
    return element;
  }

  /**
   * estimatedOrderAmount is only a risk hint, so the real script never throws for it: it logs
   * and drops a bad value. Returns the cleaned value or undefined.
   */
  function checkAmount(value) {
    if (value === undefined || value === null) return undefined;
    const amount = value && value.amount;
    const text = String(typeof amount === "number" || typeof amount === "string" ? amount : "");
    const decimals = DECIMALS[value && value.currencyCode];
    const match = /^\d+(?:\.(\d+))?$/.exec(text.trim());
    if (decimals === undefined || !match || !(Number(text) > 0) ||
        (match[1] || "").length > decimals) {
      console.error(PREFIX + "Invalid value " + JSON.stringify(value) +
        " for 'estimatedOrderAmount', the amount must be a positive number with at most the " +
        "currency's decimals and currencyCode one of: " + ENUMS.ledgerCurrency.join(", ") +
        ". The field is ignored.");
      return undefined;
    }
    return { amount: text.trim(), currencyCode: value.currencyCode };
  }

  /**
   * Validates button options the way the real script does before drawing anything, and returns
   * a private copy with defaults filled in (the caller may reuse or change its own object).
   */
  function prepare(options) {
    const s = Object.assign({}, options);
    const errors = REQUIRED.filter((name) => isMissing(s[name]))
      .map((name) => "Missing parameter '" + name + "' in the options object.");
    if (errors.length) fail(errors);

    s.productType = isMissing(s.productType) ? "PayAndShip" : s.productType;
    s.buttonColor = isMissing(s.buttonColor) ? "Gold" : s.buttonColor;
    s.checkoutLanguage = isMissing(s.checkoutLanguage) ? defaultLanguage() : s.checkoutLanguage;
    ["placement", "ledgerCurrency", "productType", "buttonColor", "checkoutLanguage"]
      .filter((name) => ENUMS[name].indexOf(s[name]) < 0)
      .forEach((name) => errors.push(enumError(name, s[name])));

    const keyIds = [];
    if (s.publicKeyId === "") errors.push("Invalid value '' for 'publicKeyId'");
    else if (typeof s.publicKeyId === "string") keyIds.push(s.publicKeyId);
    CONFIG_NAMES.filter((name) => s[name] && typeof s[name] === "object").forEach((name) => {
      const config = (s[name] = Object.assign({}, s[name]));
      if (config.algorithm !== undefined && ENUMS.algorithm.indexOf(config.algorithm) < 0) {
        errors.push(enumError("algorithm", config.algorithm));
      }
      if (config.publicKeyId === "") errors.push("Invalid value '' for 'publicKeyId'");
      else if (typeof config.publicKeyId === "string") keyIds.push(config.publicKeyId);
    });

    // Environment: an explicit `sandbox` must agree with env-prefixed key ids; without it, a
    // SANDBOX- key id alone selects the sandbox, as the real script does.
    if (s.sandbox === undefined || s.sandbox === null) {
      s.sandbox = keyIds.some((id) => /^sandbox-/i.test(id));
    } else {
      s.sandbox = s.sandbox === true || s.sandbox === "true";
      keyIds.filter((id) => (s.sandbox ? /^live-/i : /^sandbox-/i).test(id)).forEach((id) => {
        errors.push("PublicKeyId '" + id + "' does not match 'sandbox: " + s.sandbox + "'");
      });
    }

    const signIn = s.productType === "SignIn";
    if ((signIn && s.createCheckoutSessionConfig) || (!signIn && s.signInConfig)) {
      errors.push("Invalid button definition, productType " + s.productType +
        " and configName do not match.");
    }
    if (errors.length) fail(errors);

    if (s.design === "C0001") s.buttonColor = "Gold"; // that design only exists in Gold
    s.estimatedOrderAmount = checkAmount(s.estimatedOrderAmount);
    if (s.estimatedOrderAmount === undefined) delete s.estimatedOrderAmount;
    return s;
  }

  /**
   * Starts checkout or sign-in from validated settings: posts the signed payload to the hosted
   * page, which verifies the signature (errors there appear on the page, not in JS).
   */
  function startCheckout(s) {
    const configName = s.productType === "SignIn" ? "signInConfig" : "createCheckoutSessionConfig";
    if (!s[configName] && s.createCheckoutSession) {
      fail("createCheckoutSession is not supported by the Amazon Pay simulator.");
    }
    const config = s[configName] || {};
    // A top-level publicKeyId fills a config that lacks one; a different one is flagged.
    const publicKeyId = isMissing(config.publicKeyId) ? s.publicKeyId : config.publicKeyId;
    const fields = { payloadJSON: config.payloadJSON, signature: config.signature, publicKeyId };
    const missing = Object.keys(fields).filter((name) => isMissing(fields[name]))
      .map((name) => "Missing field " + name + " for " + configName + " parameter.");
    if (missing.length) fail(missing);

    const mismatch = !isMissing(s.publicKeyId) && !isMissing(config.publicKeyId) &&
      s.publicKeyId !== config.publicKeyId;
    Pay._simulator.checkouts.push({
      productType: s.productType,
      [configName]: Object.assign({ algorithm: config.algorithm || DEFAULT_ALGORITHM }, fields),
      estimatedOrderAmount: s.estimatedOrderAmount,
      at: performance.now(),
    });
    submitForm(Object.assign(fields, {
      publicKeyIdMismatch: String(mismatch),
      algorithm: config.algorithm || DEFAULT_ALGORITHM,
      checkoutLanguage: s.checkoutLanguage,
      ledgerCurrency: s.ledgerCurrency,
      merchantId: s.merchantId,
      productType: s.productType,
      placement: s.placement,
      buttonColor: s.buttonColor,
      environment: s.sandbox ? "SANDBOX" : "LIVE",
      estimatedOrderAmount: s.estimatedOrderAmount ? JSON.stringify(s.estimatedOrderAmount) : "",
      merchantDomain: location.origin,
      origin_url: location.href,
      viewType: "redirectView",
    }));
  }

  /** A real form post (not fetch): the browser leaves the shop page, as with Amazon. */
  function submitForm(fields) {
    const name = "amazonpay-checkout-signature-data-form";
    const old = document.querySelector("form[name='" + name + "']");
    if (old) old.remove(); // e.g. a page restored from the back/forward cache
    const form = document.createElement("form");
    form.name = name;
    form.method = "POST";
    form.action = ORIGIN + "/checkout/initiate";
    // The signature covers the UTF-8 bytes of payloadJSON; a Shift_JIS shop page must not
    // re-encode it.
    form.acceptCharset = "UTF-8";
    form.style.display = "none";
    Object.keys(fields).forEach((key) => {
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = key;
      input.value = String(fields[key]);
      form.appendChild(input);
    });
    document.body.appendChild(form);
    form.submit();
  }

  const STYLE = [
    ":host { display: block; cursor: pointer; }",
    ".wrap { display: flex; flex-direction: column; height: 100%; box-sizing: border-box;",
    "  font-family: Arial, 'Hiragino Sans', Meiryo, sans-serif; }",
    ".button { position: relative; flex: 1 0 auto; min-height: 45px; box-sizing: border-box;",
    "  display: flex; align-items: center; justify-content: center; padding: 0 8px;",
    "  border: 1px solid; border-radius: 3px; overflow: hidden; user-select: none; }",
    ".button:hover { filter: brightness(0.95); }",
    ".wordmark { font-weight: 700; font-size: 20px; letter-spacing: -0.5px; }",
    ".label { font-weight: 700; font-size: 14px; white-space: nowrap; }",
    ".sandbox { position: absolute; top: 0; right: 0; padding: 1px 4px; font-size: 8px;",
    "  font-weight: 700; color: #FFFFFF; background: #B12704; border-bottom-left-radius: 3px; }",
    ".micro { margin-top: 4px; font-size: 10px; line-height: 1.4; color: #565959;",
    "  text-align: center; }",
  ].join("\n");

  function el(tag, className, text) {
    const node = document.createElement(tag);
    node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  /** Draws the button; images and web fonts are avoided because the demo runs offline. */
  function draw(container, s) {
    const texts = s.checkoutLanguage === "ja_JP" ? TEXTS.ja : TEXTS.en;
    const signIn = s.productType === "SignIn";
    // attachShadow is not guarded: a second render on one host must throw the browser's
    // DOMException, exactly as Amazon's script does.
    const root = container.attachShadow({ mode: "open" });
    container.setAttribute("role", "button");
    container.setAttribute("tabindex", "0");
    container.setAttribute("aria-label", signIn ? texts.signIn : texts.payLabel);
    container.classList.add("amazonpay-button-parent-container-checkout-" + s.merchantId);

    const colors = COLORS[s.buttonColor];
    const button = el("div", "button");
    button.setAttribute("part", "button");
    button.style.background = colors.background;
    button.style.borderColor = colors.border;
    button.style.color = colors.text;
    button.appendChild(signIn
      ? el("span", "label", texts.signIn)
      : el("span", "wordmark", "amazon pay"));
    if (s.sandbox) button.appendChild(el("span", "sandbox", "SANDBOX"));

    const wrap = el("div", "wrap");
    wrap.appendChild(button);
    if (!signIn && s.design !== "C0001") wrap.appendChild(el("div", "micro", texts.micro));
    const style = document.createElement("style");
    style.textContent = STYLE;
    root.appendChild(style);
    root.appendChild(wrap);

    // The real script keeps the host 113-600 px wide (200 px when smaller) and at least 45 px
    // high with a ResizeObserver; fixed inline limits give the same result for a test double.
    // Measure before the limits apply, so a container sized below the minimum gets 200 px.
    if (container.getBoundingClientRect().width < 113) container.style.width = "200px";
    container.style.minWidth = "113px";
    container.style.maxWidth = "600px";
    container.style.minHeight = "45px";
  }

  /** Mouse clicks and Enter/Space on the focused container (it has role="button"). */
  function onActivate(container, handler) {
    container.addEventListener("click", (event) => {
      event.preventDefault();
      handler();
    });
    container.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" && event.key !== " ") return;
      event.preventDefault(); // Space would otherwise scroll the page
      handler();
    });
  }

  function renderButton(selector, options) {
    const container = findElement(selector, options, "renderButton");
    const settings = prepare(options);
    const original = Object.assign({}, options); // initCheckout re-validates from these
    Pay._simulator.renders.push({
      selector,
      options: JSON.parse(JSON.stringify(options)),
      at: performance.now(),
    });
    draw(container, settings);

    const updateButtonInfo = (estimatedOrderAmount) => {
      settings.estimatedOrderAmount = checkAmount(estimatedOrderAmount);
      if (settings.estimatedOrderAmount === undefined) delete settings.estimatedOrderAmount;
    };

    const decoupled = !CONFIG_NAMES.concat("createCheckoutSession")
      .some((name) => options[name] !== undefined && options[name] !== null);
    if (decoupled) {
      // Decoupled mode: a click only tells the shop, which fetches a signed
      // payload and then calls initCheckout on this object.
      let clickHandler = null;
      const button = {
        onClick(callback) {
          clickHandler = typeof callback === "function" ? callback : null;
        },
        initCheckout(requestConfig) {
          // Start from the original options, not `settings`: a sandbox flag inferred at render
          // time (no key id yet) must not contradict the key id that arrives only now.
          const amount = { estimatedOrderAmount: settings.estimatedOrderAmount };
          startCheckout(prepare(Object.assign({}, original, amount, requestConfig || {})));
        },
        updateButtonInfo,
      };
      onActivate(container, () => {
        if (clickHandler) clickHandler(button);
      });
      return button;
    }

    onActivate(container, () => startCheckout(settings));
    return settings.productType === "SignIn" ? undefined : { updateButtonInfo };
  }

  /** For the shop's own (non-Amazon) buttons: same options, validated, then redirect at once. */
  function initCheckout(options) {
    if (!options || typeof options !== "object") {
      fail("Missing 'options' parameter for amazon.Pay.initCheckout.");
    }
    startCheckout(prepare(options));
  }

  /** Review-page links that send the buyer back to Amazon to change address or payment. */
  function bindChangeAction(selector, options) {
    const element = findElement(selector, options, "bindChangeAction");
    const errors = ["amazonCheckoutSessionId", "changeAction"]
      .filter((name) => isMissing(options[name]))
      .map((name) => "Missing parameter '" + name + "' in the options object.");
    if (errors.length) fail(errors);
    if (ENUMS.changeAction.indexOf(options.changeAction) < 0) {
      fail(enumError("changeAction", options.changeAction));
    }
    const url = ORIGIN + "/checkout/initiate_auth" +
      "?amazonCheckoutSessionId=" + encodeURIComponent(options.amazonCheckoutSessionId) +
      "&changeAction=" + encodeURIComponent(options.changeAction) +
      "&viewType=redirectView";
    element.addEventListener("click", (event) => {
      event.preventDefault(); // the element is often an <a href="#">
      location.assign(url);
    });
  }

  /** Ends the Amazon session of this browser; the simulator must answer CORS with credentials. */
  function signout(callback) {
    const failed = PREFIX + "amazon.Pay.signout() failed.";
    return fetch(ORIGIN + "/checkout/signout", { credentials: "include" })
      .then((response) => {
        if (!response.ok) throw failed;
      }, () => {
        throw failed;
      })
      .then(() => {
        console.log(PREFIX + "amazon.Pay.signout() completed successfully.");
        if (typeof callback === "function") callback();
      });
  }

  const Pay = {
    renderButton,
    initCheckout,
    bindChangeAction,
    signout,
    // Test hook, the simulator's one deliberate extra: what the shop asked to render, and when,
    // and every checkout or sign-in started (a click on a button with its config, or
    // initCheckout), with the config as checkout.js received it, just before the form is sent.
    _simulator: { renders: [], checkouts: [] },
  };

  // Keep a page's existing `amazon` namespace (other Amazon scripts may use it); add Pay only.
  const amazon = window.amazon && typeof window.amazon === "object" ? window.amazon : {};
  amazon.Pay = Pay;
  window.amazon = amazon;
})();

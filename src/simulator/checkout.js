/*
 * Amazon Pay simulator: stand-in for https://static-fe.payments-amazon.com/checkout.js.
 *
 * The demo server serves this file at <simulator origin>/checkout.js so that shop pages run the
 * same code paths offline as against Amazon. Our own code, written to behave as Amazon's script
 * does. The model is a public copy of Amazon's NA build (static-na.payments-amazon.com, minified;
 * names in brackets below are that build's function names, to find the rule there). The builds
 * share their logic and differ in a configuration block; the FE (Japan) block is not public, so
 * what it holds is inferred from the NA (USD, en_US) and EU (EUR/GBP, five EU languages) blocks
 * and marked [inferred]: JPY the one ledger and amount currency, ja_JP the one language, ja_JP
 * also when neither the options nor the browser name one.
 *
 * What it does as Amazon's script does:
 *   - errors are thrown as plain strings "AmazonPay:\n<lines>" [y]; selector and options are
 *     checked first [Zt], then required options (null or undefined is missing, "" is a value),
 *     then enumerations, publicKeyId "" and estimatedOrderAmount [tn]; buttonColor is never
 *     checked (anything else than Gold/LightGray/DarkGray draws Gold [Ft]); sandbox must be the
 *     boolean true or false;
 *   - renderButton copies a top-level publicKeyId into the config [en] and, without `sandbox`,
 *     takes the sandbox from a "SANDBOX-" key ID [nn]; the global initCheckout does neither;
 *   - the button is images in an open shadow root on the container, which gets role="button",
 *     Amazon's aria-label and title [re]; a second renderButton on it throws the browser's error;
 *   - without createCheckoutSession, createCheckoutSessionConfig and signInConfig the button is
 *     "decoupled" [Ko]: a click calls the onClick callback with no argument, and the button's
 *     initCheckout takes only createCheckoutSession(Config) and estimatedOrderAmount from its
 *     argument, never a signInConfig;
 *   - a click (or Enter, on keyup) posts a hidden form to <origin>/checkout/initiate with the real
 *     field names [je, de], by redirect; the signature is checked there, as Amazon does;
 *   - renderButton and initCheckout set the `language` and `ledgerCurrency` cookies for a day,
 *     which bindChangeAction and signout read;
 *   - live mode: renderButton asks <origin>/merchantAccount/<id>/accountStatus and draws the
 *     button disabled unless the answer is ACTIVE [Go, ue].
 *
 * Deliberately not simulated: the popup ("modalView") and the experiments ("weblab", /abTestV2)
 * that choose it or the disabled button's alert, so every view is a redirect and a disabled
 * button shows no alert (the control group); metrics (/cs/uedata, performance marks); the
 * session stabilizer cookie (apaySessionSet is always ""); the iframe drawing for browsers
 * without shadow DOM; declarative buttons (div[data-amazonpay-merchant-id]); bindUpgradeAction;
 * legacy AJAX createCheckoutSession (it throws here); Amazon's several hosts (every page lives on
 * the origin that served this file, so the cookies that choose the host change nothing here).
 *
 * Deliberate extra: amazon.Pay._simulator.renders records every renderButton call that passed
 * its checks, and amazon.Pay._simulator.checkouts every checkout or sign-in form about to be
 * sent, so tests can assert what the widget asked for.
 *
 * Plain ES2017, classic script, no dependencies: it must load with a bare <script src> tag.
 */
(function () {
  "use strict";

  // Loading the script twice must not replace the first copy's state (renders, listeners).
  if (window.amazon && window.amazon.Pay && typeof window.amazon.Pay.renderButton === "function") {
    return;
  }

  // Every hosted page and endpoint lives on the origin that served us. currentScript is null
  // only if we were not run as a classic script; fall back to the page.
  const scriptSrc = (document.currentScript && document.currentScript.src) || location.href;
  const ORIGIN = new URL(scriptSrc, location.href).origin;

  const SIGN_IN = "SignIn";
  const DEFAULT_ALGORITHM = "AMZN-PAY-RSASSA-PSS";
  const REDIRECT_VIEW = "redirectView";
  const FORM_NAME = "amazonpay-checkout-signature-data-form";
  const CONTAINER_CLASS = "amazonpay-button-parent-container-checkout";
  const LANGUAGE_COOKIE = "language";
  const LEDGER_COOKIE = "ledgerCurrency";
  const SESSION_COOKIE = "apay-session-set";

  // The options checked against a list, and the lists [Pt]. `color` (not buttonColor) is the
  // name the real script checks; the FE entries are [inferred] (see the header).
  const ALLOWED = {
    checkoutLanguage: ["ja_JP"],
    color: ["Gold"],
    ledgerCurrency: ["JPY"],
    productType: ["PayAndShip", "PayOnly", SIGN_IN, "Donation"],
    placement: ["Home", "Product", "Cart", "Checkout", "Other"],
    sandbox: [true, false],
  };
  const REQUIRED = ["merchantId", "ledgerCurrency", "placement"];
  // estimatedOrderAmount.currencyCode [Dt] ([inferred] for FE) and its fraction digits [kt].
  const AMOUNT_CURRENCIES = ["JPY"];
  const FRACTION_DIGITS = { JPY: 0 };
  // Browser languages that choose checkoutLanguage, and the fallback [Jt] ([inferred] for FE).
  const BROWSER_LANGUAGES = { ja: "ja_JP", "ja-jp": "ja_JP" };
  const FALLBACK_LANGUAGE = "ja_JP";
  const COLORS = ["Gold", "LightGray", "DarkGray"];
  const COLOR_CLASSES = { Gold: "gold", LightGray: "gray", DarkGray: "ink" };

  // Amazon's texts for the container [Ct, It, Gt, xt, Tt], for the languages allowed above.
  const TEXTS = {
    ja_JP: {
      sandboxLabel: "Amazon Pay - Amazon Payテストアカウントをお使いください",
      liveLabel: "Amazon Pay - Amazonアカウントをお使いください",
      unavailable: "現在、AmazonPayはこのサイトではご利用いただけません。別の支払い方法をお試しください。",
      payTitle: "Amazonアカウントに登録されている情報を利用してお支払い",
      signInTitle: "Amazon アカウントでログイン",
    },
  };

  /** The real script's error: one string, the prefix, then the message. */
  function fail(message) {
    throw "AmazonPay:\n" + message;
  }

  function isAbsent(value) {
    return value === null || value === undefined;
  }

  /** null, undefined, an object without keys or a blank string [m]. */
  function isEmpty(value) {
    return isAbsent(value) ||
      (typeof value === "object" && Object.keys(value).length === 0) ||
      (typeof value === "string" && value.trim().length === 0);
  }

  /** The problems of `config`'s `names` that are null or undefined, one line each. */
  function missingLines(config, names, line) {
    return names.filter((name) => isAbsent(config[name])).map(line).join("\n");
  }

  function readCookie(name) {
    const prefix = name + "=";
    const found = document.cookie.split(";").map((part) => part.replace(/^ +/, ""))
      .find((part) => part.indexOf(prefix) === 0);
    return found === undefined ? null : found.slice(prefix.length);
  }

  /** A cookie on the shop's origin for `days` days, written unencoded as Amazon writes it. */
  function writeCookie(name, value, days) {
    const expires = new Date(Date.now() + days * 24 * 60 * 60 * 1000).toUTCString();
    document.cookie = name + "=" + value + "; expires=" + expires + "; path=/";
  }

  /**
   * Amazon chooses among its regional hosts by ledger currency and language [Rt]; the simulator
   * has one host, so both only say where Amazon would go.
   */
  function hostFor(_ledgerCurrency, _language) {
    return ORIGIN;
  }

  /** `name=value` pairs; absent values are left out, the two domain values are not encoded [s]. */
  function queryString(params) {
    return Object.keys(params).filter((name) => !isAbsent(params[name])).map((name) => {
      const raw = name === "originDomain" || name === "returnDomain";
      return name + "=" + (raw ? params[name] : encodeURIComponent(params[name]));
    }).join("&");
  }

  /** The origin of `url`, or null for none (file:, opaque origins) [c]. */
  function originOf(url) {
    try {
      const origin = new URL(url, location.href).origin;
      return origin && origin !== "null" ? origin : null;
    } catch (_invalid) {
      return null;
    }
  }

  /** Checks selector and options and finds the element; `api` names the caller [Zt]. */
  function findElement(api, selector, options) {
    if (!selector) fail("Missing 'selector' parameter in amazon.Pay." + api + "(selector, options) API.");
    if (!options) fail("Missing 'options' parameter in amazon.Pay." + api + "(selector, options) API.");
    // An invalid CSS selector throws the browser's SyntaxError here, as with Amazon's script.
    const element = document.querySelector(selector);
    if (!element) fail("Can not find element " + selector + " for amazon.Pay." + api + ".");
    return element;
  }

  /**
   * Whether estimatedOrderAmount is usable [$t]: it is only a risk hint, so a bad one is logged
   * (console.error, not thrown) and the caller drops it. A JSON string is read as its object.
   */
  function amountIsValid(value, sandbox) {
    let amount = value;
    if (typeof amount === "string") {
      try {
        amount = JSON.parse(amount);
      } catch (_notJson) {
        console.error("Estimated Order Amount in the payload is not in correct Json format.");
        return false;
      }
    }
    try {
      if (sandbox) console.log("Estimated order amount for sandbox is " + JSON.stringify(amount));
      const number = Number(amount.amount);
      if (isNaN(number) || !(number > 0)) {
        console.error("Invalid value '" + amount.amount +
          "' for 'amount', please check again as only positive numbers are allowed.");
        return false;
      }
      if (!AMOUNT_CURRENCIES.includes(amount.currencyCode)) {
        console.error("Invalid value '" + amount.currencyCode +
          "' for 'currencyCode', please use from one of the available values: " + AMOUNT_CURRENCIES);
        return false;
      }
      const fraction = amount.amount.toString().split(".")[1];
      if ((fraction ? fraction.length : 0) > FRACTION_DIGITS[amount.currencyCode]) {
        console.error("Invalid value '" + amount.amount +
          "' for 'amount', please pass valid fractional digits for " + amount.currencyCode);
        return false;
      }
      return true;
    } catch (_unreadable) {
      console.error("Something wrong while validating estimated order total");
      return false;
    }
  }

  /**
   * The checks of renderButton and initCheckout [tn], on the caller's object as Amazon does: it
   * throws for missing or invalid options and deletes an unusable estimatedOrderAmount.
   */
  function checkOptions(options) {
    const missing = missingLines(options, REQUIRED,
      (name) => "Missing parameter '" + name + "' in the options object.");
    if (missing !== "") fail(missing);
    const invalid = Object.keys(ALLOWED).filter((name) => {
      const wrong = ALLOWED[name].indexOf(options[name]) < 0;
      return wrong && (REQUIRED.indexOf(name) >= 0 || !isAbsent(options[name]));
    }).map((name) => "Invalid value '" + options[name] + "' for '" + name +
      "', please use one of the available values: " + ALLOWED[name].join(", ") + ".").join("\n");
    if (invalid !== "") fail(invalid);
    if (!isAbsent(options.publicKeyId) && options.publicKeyId == "") {
      fail("Invalid value '' for 'publicKeyId', please check again.");
    }
    const amount = options.estimatedOrderAmount;
    if (amount && !isEmpty(amount) && !amountIsValid(amount, options.sandbox)) {
      delete options.estimatedOrderAmount;
    }
  }

  /** renderButton only: a top-level publicKeyId fills the configs that lack one [en]. */
  function shareKeyId(options) {
    if (!options.publicKeyId) return;
    ["createCheckoutSessionConfig", "signInConfig"].forEach((name) => {
      const config = options[name];
      if (!config) return;
      if (isAbsent(config.publicKeyId)) config.publicKeyId = options.publicKeyId;
      else if (config.publicKeyId != options.publicKeyId) options.publicKeyIdMismatch = true;
    });
  }

  /**
   * renderButton only [nn]: without `sandbox`, a "SANDBOX-" key ID (top level or in a config)
   * selects the sandbox; with it, only the top-level key ID must agree.
   */
  function settleSandbox(options) {
    const isSandboxKey = (id) => typeof id === "string" && id.startsWith("SANDBOX-");
    if (isAbsent(options.sandbox)) {
      const configs = [options.createCheckoutSessionConfig, options.signInConfig];
      if (isSandboxKey(options.publicKeyId) ||
          configs.some((config) => !isAbsent(config) && isSandboxKey(config.publicKeyId))) {
        options.sandbox = true;
      }
      return;
    }
    const id = options.publicKeyId;
    if (id && ((isSandboxKey(id) && !options.sandbox) || (id.startsWith("LIVE-") && options.sandbox))) {
      fail("PublicKeyId '" + id + "' does not match 'sandbox: " + options.sandbox + "'. Please check again. ");
    }
  }

  /** The browser's language if Amazon supports it here, else the build's fallback [Jt]. */
  function checkoutLanguage(given) {
    if (given) return given;
    const languages = navigator.languages || (navigator.language ? [navigator.language] : []);
    const supported = languages.map((language) => BROWSER_LANGUAGES[language.toLowerCase()]).find(Boolean);
    return supported || FALLBACK_LANGUAGE;
  }

  /** A copy of the options over Amazon's defaults [on, it]. */
  function withDefaults(options) {
    const defaults = { buttonColor: "Gold", productType: "PayAndShip", sandbox: false,
      publicKeyIdMismatch: false, design: "D0000", scopes: [], publicKeyId: "",
      estimatedOrderAmount: {}, alwaysRedirect: false };
    return Object.assign(defaults, options, { checkoutLanguage: checkoutLanguage(options.checkoutLanguage) });
  }

  /** updateButtonInfo [Je]: a usable amount replaces the kept one; anything else changes nothing. */
  function updateAmount(settings, amount) {
    if (!isEmpty(amount) && amountIsValid(amount, settings.sandbox)) settings.estimatedOrderAmount = amount;
  }

  /**
   * Sends the shopper to Amazon as a click does [je]: checks the config the product type needs,
   * then posts the form. Sign-in needs a signInConfig; a signInConfig on another product type is
   * refused the same way.
   */
  function startCheckout(settings) {
    const signIn = settings.productType === SIGN_IN || !isAbsent(settings.signInConfig);
    let configName;
    if (signIn) {
      configName = "signInConfig";
      const config = settings.signInConfig;
      const problems = settings.productType === SIGN_IN && config
        ? missingLines(config, ["payloadJSON", "signature", "publicKeyId"],
          (name) => "Missing field " + name + " for signInConfig parameter.")
        : "Invalid button definition, productType " + settings.productType + " and configName do not match.\n";
      if (problems !== "") fail(problems);
    } else if (settings.createCheckoutSessionConfig) {
      configName = "createCheckoutSessionConfig";
      const problems = missingLines(settings.createCheckoutSessionConfig,
        ["payloadJSON", "signature", "publicKeyId"],
        (name) => "Missing field " + name + " for createCheckoutSessionConfig parameter.");
      if (problems !== "") fail(problems);
    } else if (typeof settings.createCheckoutSession === "object" ||
               typeof settings.createCheckoutSession === "function") {
      fail("createCheckoutSession is not supported by the Amazon Pay simulator.");
    } else {
      fail("Wrong type of argument for createCheckoutSession, it accepts an object (required attributes: url) or a function");
    }
    removeForms();
    const config = settings[configName];
    const fields = {
      payloadJSON: config.payloadJSON,
      signature: config.signature,
      publicKeyId: config.publicKeyId,
      publicKeyIdMismatch: settings.publicKeyIdMismatch ? "true" : "false",
      algorithm: config.algorithm || DEFAULT_ALGORITHM,
      checkoutLanguage: settings.checkoutLanguage,
      ledgerCurrency: settings.ledgerCurrency,
      merchantId: settings.merchantId,
      productType: settings.productType,
      environment: settings.sandbox ? "SANDBOX" : "LIVE",
      scopes: settings.scopes,
      merchantDomain: location.hostname,
      origin_url: location.href,
      viewType: REDIRECT_VIEW,
      weblabData: "",
      apaySessionSet: readCookie(SESSION_COOKIE) || "",
    };
    if (!signIn) {
      fields.estimatedOrderAmount = settings.estimatedOrderAmount;
      if (config.authorizationToken) fields.authorizationToken = config.authorizationToken;
    }
    Pay._simulator.checkouts.push({
      productType: settings.productType,
      [configName]: { payloadJSON: config.payloadJSON, signature: config.signature,
        publicKeyId: config.publicKeyId, algorithm: fields.algorithm },
      estimatedOrderAmount: settings.estimatedOrderAmount,
      at: performance.now(),
    });
    const form = makeForm(fields);
    document.body.appendChild(form);
    form.submit();
  }

  function removeForms() {
    document.querySelectorAll("form[name='" + FORM_NAME + "']").forEach((form) => form.remove());
  }

  /** A hidden POST form; objects are sent as JSON, everything else as its string [de]. */
  function makeForm(fields) {
    const form = document.createElement("form");
    Object.keys(fields).forEach((name) => {
      const value = fields[name];
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      input.value = value !== null && typeof value === "object" && !Array.isArray(value)
        ? JSON.stringify(value)
        : String(value);
      form.appendChild(input);
    });
    form.setAttribute("style", "display: none !important;");
    form.method = "POST";
    form.name = FORM_NAME;
    // No accept-charset, as Amazon's form has none: the page's own encoding applies.
    form.action = hostFor(fields.ledgerCurrency || readCookie(LEDGER_COOKIE), fields.checkoutLanguage) +
      "/checkout/initiate";
    return form;
  }

  // Amazon's button is artwork from its image host, fetched and decoded as images are; ours comes
  // from the simulator's origin the same way (never inlined: a data: URL is decoded at once, in
  // the script that draws the button).
  const ink = (color) => (color === "DarkGray" ? "light" : "dark");
  const image = (name) => ORIGIN + "/images/" + name + ".svg";
  const ARTWORK = {
    logo: (color) => image("logo-" + ink(color)),
    signIn: (color) => image("signin-" + ink(color)),
    sandbox: () => image("sandbox"),
    chevrons: (color) => image("chevrons-" + ink(color)),
    microtext: () => image("microtext"),
  };

  const STYLE = [
    ".amazonpay-button-container { display: grid; justify-items: stretch; position: absolute;",
    "  inset: 0; min-height: 42px; min-width: 113px; max-width: 600px; max-height: 193px;",
    "  touch-action: manipulation; }",
    ".amazonpay-button-container-rows { grid-template-rows: 65% 10% 25%; }",
    ".amazonpay-custom-button-container-rows { grid-template-rows: 100%; }",
    ".amazonpay-button-enabled { cursor: pointer; }",
    ".amazonpay-button-disabled { cursor: default; opacity: 0.25; filter: grayscale(100%); }",
    ".amazonpay-button-view1 { grid-row: 1/2; display: flex; align-items: center;",
    "  justify-content: center; gap: 4%; position: relative; box-sizing: border-box;",
    "  border: 1px solid; border-radius: 3px; }",
    ".amazonpay-button-view1:focus { outline: none; border-color: #e77600;",
    "  box-shadow: 0 0 3px 2px rgba(228, 121, 17, 0.5); }",
    ".amazonpay-button-view1-gold { border-color: #a88734 #9c7e31 #846a29;",
    "  background: linear-gradient(to bottom, #f7dfa5, #f0c14b); }",
    ".amazonpay-button-view1-gray { border-color: #ADB1B8 #A2A6AC #8D9096;",
    "  background: linear-gradient(to bottom, #F7F8FA, #E7E9EC); }",
    ".amazonpay-button-view1-ink { border-color: #3d444c #2f353b #2c3137;",
    "  background: linear-gradient(to bottom, #71777D, #444C54); }",
    ".amazonpay-button-view3 { grid-row: 3/4; }",
    "picture { display: block; height: 60%; }",
    ".amazonpay-button-sandbox-logo, .amazonpay-signin-button-sandbox-logo { position: absolute;",
    "  top: 2px; left: 2px; height: 30%; }",
    ".amazonpay-button-view3 picture { height: 100%; }",
    "img { display: block; height: 100%; width: 100%; object-fit: contain; user-select: none; }",
  ].join("\n");

  function picture(className, src) {
    const node = document.createElement("picture");
    node.className = className;
    const img = document.createElement("img");
    img.src = src;
    node.appendChild(img);
    return node;
  }

  /**
   * Draws the button into an open shadow root of `container` and sends its clicks and Enter
   * (keyup) to `activate` [re]. The container itself gets Amazon's name and role; the focusable
   * element is the button inside the shadow root.
   */
  function draw(container, settings, activate) {
    const signIn = settings.productType === SIGN_IN;
    const texts = TEXTS[settings.checkoutLanguage] || {};
    container.style.position = "relative";
    if (!signIn) container.classList.add(containerClass(settings));
    container.setAttribute("role", "button");
    container.setAttribute("aria-label", settings.sandbox ? texts.sandboxLabel : texts.liveLabel);
    container.title = signIn ? texts.signInTitle : texts.payTitle;

    // attachShadow is not guarded: a second render on one host throws the browser's DOMException,
    // exactly as with Amazon's script.
    const root = container.attachShadow({ mode: "open" });
    const box = document.createElement("div");
    box.className = "amazonpay-button-container amazonpay-button-enabled";
    const style = document.createElement("style");
    style.textContent = STYLE;
    root.appendChild(style);
    root.appendChild(box);

    settings.buttonColor = settings.design === "C0001" || COLORS.indexOf(settings.buttonColor) < 0
      ? "Gold" : settings.buttonColor;
    const color = settings.buttonColor;
    const plain = signIn || settings.design === "C0001";
    const button = document.createElement("div");
    button.className = "amazonpay-button-view1 amazonpay-button-view1-" + COLOR_CLASSES[color];
    button.tabIndex = 0;
    const prefix = signIn ? "amazonpay-signin-button-" : "amazonpay-button-";
    button.appendChild(picture(prefix + "logo", signIn ? ARTWORK.signIn(color) : ARTWORK.logo(color)));
    if (settings.sandbox) button.appendChild(picture(prefix + "sandbox-logo", ARTWORK.sandbox()));
    box.classList.add(plain ? "amazonpay-custom-button-container-rows" : "amazonpay-button-container-rows");
    box.appendChild(button);
    if (!plain) {
      button.appendChild(picture("amazonpay-button-chevrons", ARTWORK.chevrons(color)));
      const gap = document.createElement("div");
      gap.className = "amazonpay-button-view2";
      const micro = document.createElement("div");
      micro.className = "amazonpay-button-view3";
      micro.appendChild(picture("amazonpay-button-microtext", ARTWORK.microtext()));
      box.appendChild(gap);
      box.appendChild(micro);
    }

    container.addEventListener("click", (event) => activate(event));
    container.addEventListener("keyup", (event) => {
      if (event.keyCode === 13) {
        event.preventDefault();
        activate(event);
      }
    });
  }

  function containerClass(settings) {
    return settings.merchantId && settings.merchantId.length > 0
      ? CONTAINER_CLASS + "-" + settings.merchantId
      : CONTAINER_CLASS;
  }

  /**
   * The button when Amazon Pay is not available for this merchant and site [ue]: greyed out, out
   * of the tab order, named with the "not available" text; clicks and Enter stop at the container
   * (capture), so no handler runs and nothing is thrown. Amazon adds an alert with that text only
   * under an experiment (weblab CV2_DISABLED_TOOLTIP), which the simulator does not run.
   */
  function disable(container, settings) {
    const texts = TEXTS[settings.checkoutLanguage] || {};
    container.setAttribute("aria-label", texts.unavailable);
    container.title = "";
    const swallow = (event) => {
      event.preventDefault();
      event.stopPropagation();
    };
    container.addEventListener("click", swallow, true);
    container.addEventListener("keyup", swallow, true);
    if (settings.productType !== SIGN_IN) container.classList.remove(containerClass(settings));
    const root = container.shadowRoot;
    if (!root) return;
    const box = root.querySelector(".amazonpay-button-container");
    const button = root.querySelector(".amazonpay-button-view1");
    if (box) {
      box.classList.remove("amazonpay-button-enabled");
      box.classList.add("amazonpay-button-disabled");
    }
    if (button) button.tabIndex = -1;
  }

  /**
   * Live mode [Go]: asks whether the merchant's account takes payments on this site (the page's
   * origin, and the Store ID and return domain of a signed payload, when there is one). Only a
   * 200 answer with a merchantAccountStatus other than "ACTIVE" disables the button; a failed or
   * unreadable answer leaves it as it is.
   */
  function checkAccount(container, settings) {
    const params = { ledgerCurrency: settings.ledgerCurrency };
    const page = originOf(location.href);
    if (page) params.originDomain = page;
    const config = settings.createCheckoutSessionConfig || settings.signInConfig;
    if (config && config.payloadJSON) {
      try {
        const payload = JSON.parse(config.payloadJSON);
        if (payload && payload.storeId) params.storeId = payload.storeId;
        const back = payload && (payload.webCheckoutDetails
          ? payload.webCheckoutDetails.checkoutReviewReturnUrl
          : payload.signInReturnUrl);
        const domain = back && originOf(back);
        if (domain) params.returnDomain = domain;
      } catch (_notJson) {
        // An unreadable payload only leaves storeId and returnDomain out.
      }
    }
    const request = new XMLHttpRequest();
    request.open("GET", ORIGIN + "/merchantAccount/" + settings.merchantId + "/accountStatus?" +
      queryString(params), true);
    request.withCredentials = false;
    request.onload = () => {
      try {
        const answer = JSON.parse(request.responseText);
        if (request.status === 200 && answer && answer.merchantAccountStatus !== "ACTIVE") {
          disable(container, settings);
        }
      } catch (_unreadable) {
        // Left enabled, as Amazon's script leaves it.
      }
    };
    request.send();
  }

  /**
   * Amazon keeps the container 113-600 px wide (200 px when narrower) and 42 px high or more
   * (45 px when lower), at most 1/2.6 of its width, with a ResizeObserver [Lo, vo].
   */
  function keepSize(container) {
    if (container.clientWidth < 113) container.style.width = "200px";
    else if (container.clientWidth > 600) container.style.width = "600px";
    if (container.clientHeight < 42) container.style.height = "45px";
    else if (container.clientHeight > 600 / 2.6) container.style.height = 600 / 2.6 + "px";
    const fit = (width, height) => {
      const w = width < 113 ? 200 : Math.max(Math.min(width, Math.max(10 * height, 42), 600), 113);
      const h = height < 42 ? 45 : Math.max(Math.min(height, w / 2.6), 42);
      container.style.width = w + "px";
      container.style.height = h + "px";
    };
    if (typeof ResizeObserver === "function") {
      new ResizeObserver((entries) => entries.forEach((entry) => {
        requestAnimationFrame(() => {
          const rect = entry.contentRect;
          if (rect.width || rect.height) fit(rect.width, rect.height);
        });
      })).observe(container);
    }
    window.addEventListener("resize", () => {
      container.style.width = "inherit";
    });
  }

  /** The options as the shop gave them, for the test hook (the checks below change them). */
  function snapshot(options) {
    try {
      return JSON.parse(JSON.stringify(options));
    } catch (_cyclic) {
      return Object.assign({}, options);
    }
  }

  function renderButton(selector, options) {
    const container = findElement("renderButton", selector, options);
    const asked = snapshot(options);
    checkOptions(options);
    shareKeyId(options);
    settleSandbox(options);
    const settings = withDefaults(options);
    Pay._simulator.renders.push({ selector, options: asked, at: performance.now() });
    keepSize(container);

    let result;
    const decoupled = isAbsent(settings.createCheckoutSession) &&
      isAbsent(settings.createCheckoutSessionConfig) && isAbsent(settings.signInConfig);
    if (decoupled) {
      // A click only tells the shop (no argument); the shop then calls initCheckout with the
      // config it signed.
      let onClick = null;
      result = {
        onClick(callback) {
          onClick = callback;
        },
        initCheckout(request) {
          settings.createCheckoutSession = request.createCheckoutSession;
          settings.createCheckoutSessionConfig = request.createCheckoutSessionConfig;
          shareKeyId(settings);
          if (request.estimatedOrderAmount && Object.keys(settings.estimatedOrderAmount).length === 0) {
            settings.estimatedOrderAmount = request.estimatedOrderAmount;
          }
          startCheckout(settings);
        },
        updateButtonInfo(amount) {
          updateAmount(settings, amount);
        },
      };
      draw(container, settings, () => {
        if (onClick) onClick();
        else if (settings.productType === SIGN_IN && !settings.signInConfig) {
          fail("Invalid button definition, productType " + settings.productType + " and configName do not match.");
        }
      });
    } else {
      draw(container, settings, () => startCheckout(settings));
      if (settings.productType !== SIGN_IN) {
        result = {
          updateButtonInfo(amount) {
            updateAmount(settings, amount);
          },
        };
      }
    }
    writeCookie(LANGUAGE_COOKIE, settings.checkoutLanguage, 1);
    writeCookie(LEDGER_COOKIE, options.ledgerCurrency, 1);
    if (!settings.sandbox) checkAccount(container, settings);
    return result;
  }

  /**
   * For the shop's own buttons: checks the options as renderButton does, but neither takes the
   * sandbox from a key ID nor copies a top-level publicKeyId into the config, then goes to
   * Amazon at once [Ho.initCheckout].
   */
  function initCheckout(options) {
    if (typeof options !== "object") fail("Missing options parameter for amazon.Pay.initCheckout");
    checkOptions(options);
    const settings = withDefaults(options);
    writeCookie(LANGUAGE_COOKIE, settings.checkoutLanguage, 1);
    writeCookie(LEDGER_COOKIE, options.ledgerCurrency, 1);
    startCheckout(settings);
  }

  /** Review-page controls that send the buyer back to Amazon to change address or payment. */
  function bindChangeAction(selector, options) {
    const element = findElement("bindChangeAction", selector, options);
    ["amazonCheckoutSessionId", "changeAction"].forEach((name) => {
      if (isAbsent(options[name]) || options[name] === "") {
        fail("Missing field " + name + " in the options object in amazon.Pay.bindChangeAction(selector, options) API.");
      }
    });
    const actions = ["changeAddress", "changePayment"];
    if (actions.indexOf(options.changeAction) < 0) {
      fail("Invalid value '" + options.changeAction + "' for 'changeAction', please use one of the available values: " +
        actions.join(", ") + ".");
    }
    // No preventDefault, as with Amazon: the element's own action (a link's href) still runs.
    element.addEventListener("click", () => {
      const query = queryString({ amazonCheckoutSessionId: options.amazonCheckoutSessionId,
        changeAction: options.changeAction, viewType: REDIRECT_VIEW });
      location.href = hostFor(readCookie(LEDGER_COOKIE), readCookie(LANGUAGE_COOKIE)) +
        "/checkout/initiate_auth?" + query;
    });
  }

  /**
   * Ends the buyer's Amazon session: nothing happens unless a button set the language and
   * ledgerCurrency cookies. A synchronous request with credentials; the answer must be 200 and
   * JSON with a truthy `result`, and only then is the callback called. A failure is thrown from
   * the request's load handler (so it is reported, not returned); a network or CORS failure makes
   * the request itself throw.
   */
  function signout(callback) {
    let language = readCookie(LANGUAGE_COOKIE);
    const ledgerCurrency = readCookie(LEDGER_COOKIE);
    if (!language || !ledgerCurrency) return;
    const host = hostFor(ledgerCurrency, language);
    if (ledgerCurrency === "GBP") language = "en_GB";
    else if (ledgerCurrency === "EUR" && language === "en_GB") language = "de_DE";
    const finish = (failed) => {
      if (failed) fail("amazon.Pay.signout() failed.");
      if (callback && typeof callback === "function") callback();
    };
    const request = new XMLHttpRequest();
    request.open("GET", host + "/checkout/signout?" + queryString({ language }), false);
    request.withCredentials = true;
    request.onload = () => {
      let result;
      try {
        const answer = JSON.parse(request.responseText);
        if (request.status === 200 && answer) {
          result = answer.result;
          console.log("AmazonPay:\namazon.Pay.signout() completed successfully.");
        }
      } catch (_unreadable) {
        result = undefined;
      } finally {
        finish(!result);
      }
    };
    request.onerror = () => finish(true);
    request.send();
  }

  const Pay = {
    renderButton,
    initCheckout,
    bindChangeAction,
    signout,
    // Test hook, the simulator's one deliberate extra (see the header).
    _simulator: { renders: [], checkouts: [] },
  };

  // Keep a page's existing `amazon` namespace (other Amazon scripts may use it); add Pay only.
  const amazon = window.amazon && typeof window.amazon === "object" ? window.amazon : {};
  amazon.Pay = Pay;
  window.amazon = amazon;
})();

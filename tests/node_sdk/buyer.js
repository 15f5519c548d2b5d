'use strict';
// The buyer's browser on the simulator's hosted pages, as tests/common/simulator_checkout.rs
// drives it: the form checkout.js submits on a click, the consent page's 続行, and the visit to
// amazonPayRedirectUrl. Redirects are looked at, not followed.

class Buyer {
  constructor(origin, merchantId) {
    this.origin = origin;
    this.merchantId = merchantId;
  }

  /** Clicks a button: posts the fields checkout.js posts to /checkout/initiate. */
  async click({ payloadJSON, signature, publicKeyId, algorithm, productType }) {
    const form = new URLSearchParams({
      merchantId: this.merchantId,
      ledgerCurrency: 'JPY',
      checkoutLanguage: 'ja_JP',
      productType,
      placement: 'Cart',
      environment: 'SANDBOX',
      payloadJSON,
      signature,
      publicKeyId,
      algorithm,
    });
    return this.page('/checkout/initiate', { method: 'POST', body: form });
  }

  /** Amazon's page for a session the merchant created through the API. */
  async open(checkoutSessionId) {
    return this.page(`/checkout/initiate?amazonCheckoutSessionId=${encodeURIComponent(checkoutSessionId)}`);
  }

  /** Presses 続行 on a hosted page with the first test buyer and a Visa card. */
  async continue(page) {
    const flow = /name="flow" value="([^"]+)"/.exec(page.text);
    if (!flow) throw new Error(`no flow field on the page (${page.status}): ${page.text.slice(0, 500)}`);
    const form = new URLSearchParams({ flow: flow[1], buyer: '0', card: 'visa' });
    return this.page('/checkout/continue', { method: 'POST', body: form });
  }

  /** Visits `url` (amazonPayRedirectUrl, say). */
  async visit(url) {
    return this.page(url);
  }

  /** Answers `{status, location, text}`; `location` is null unless redirected. */
  async page(url, init = {}) {
    const response = await fetch(new URL(url, this.origin), { ...init, redirect: 'manual' });
    return { status: response.status, location: response.headers.get('location'), text: await response.text() };
  }

  /** A test control of the simulator (Seller Central's or Amazon's own work). */
  async control(name, body) {
    const response = await fetch(new URL(`/__simulator/${name}`, this.origin), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`control ${name}: ${response.status} ${await response.text()}`);
  }
}

module.exports = { Buyer };

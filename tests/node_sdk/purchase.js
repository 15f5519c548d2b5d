'use strict';
// A shop's whole life with Amazon Pay, made by Amazon's official Node SDK against the simulator
// (tests/it/node_sdk.rs runs it and checks what it prints):
//
// - a one-time purchase from a button the SDK signed: the buyer on the hosted pages, the session
//   read, updated and completed, the charge permission read and updated, the charge captured in
//   part, a refund, a second charge on the permission canceled, the permission closed;
// - a subscription from a session the SDK created: the buyer, the first payment, a recurring
//   charge, the permission closed;
// - a sign-in button the SDK signed, and the buyer it gives (getBuyer);
// - what must be refused: another amount at completion, an idempotency key reused for another
//   body, a request without one, a request changed after signing, a key the simulator does not
//   know for this key ID, a signature under the other algorithm's name, a button payload that is
//   not the one signed.
//
// Usage: node purchase.js '{"origin", "publicKeyId", "privateKeyFile", "sandbox"?, "algorithm"?,
//        "merchantId", "storeId", "shop"}'
// Prints one JSON object: {sdkVersion, steps: {name: {status, body, request}}, pages: {...},
// wire: [...]}. Checks nothing itself beyond what it needs to go on.

const fs = require('fs');
const crypto = require('crypto');
const sdk = require('./sdk');
const { Buyer } = require('./buyer');

const config = JSON.parse(process.argv[2]);
const privateKey = fs.readFileSync(config.privateKeyFile, 'utf8');
const client = sdk.client({ ...config, privateKey });
const buyer = new Buyer(config.origin, config.merchantId);
// checkout.js sends 'AMZN-PAY-RSASSA-PSS' when a button config names no algorithm.
const buttonAlgorithm = config.algorithm || 'AMZN-PAY-RSASSA-PSS';
// The other algorithm's name: the same signature checked with the other salt length (20 or 32).
const otherAlgorithm = buttonAlgorithm === 'AMZN-PAY-RSASSA-PSS' ? 'AMZN-PAY-RSASSA-PSS-V2' : 'AMZN-PAY-RSASSA-PSS';

const REVIEW = `${config.shop}/api/amazonpay2/checkout/review`;
const RESULT = `${config.shop}/api/amazonpay2/checkout/result`;
const yen = (amount) => ({ amount: String(amount), currencyCode: 'JPY' });
const keyed = () => ({ 'x-amz-pay-idempotency-key': sdk.idempotencyKey() });

const steps = {};
const pages = {};

/** Runs one SDK call and keeps its answer under `name`. */
async function step(name, promise) {
  steps[name] = await sdk.call(promise);
  return steps[name];
}

/** Goes on only if the answer is `status`; the whole transcript is printed either way. */
function expect(name, status) {
  if (steps[name].status !== status) {
    throw new Error(`${name}: ${status} expected, got ${steps[name].status} ${JSON.stringify(steps[name].body)}`);
  }
  return steps[name].body;
}

/** The value of `name` in the query of a redirect's location. */
function query(location, name) {
  const value = location && new URL(location).searchParams.get(name);
  if (!value) throw new Error(`no ${name} in ${location}`);
  return value;
}

async function oneTimePurchase() {
  const payloadJSON = JSON.stringify({
    webCheckoutDetails: { checkoutReviewReturnUrl: REVIEW },
    storeId: config.storeId,
    scopes: ['name', 'email', 'phoneNumber', 'billingAddress'],
  });
  const signature = client.generateButtonSignature(payloadJSON);
  const click = { payloadJSON, signature, publicKeyId: config.publicKeyId, algorithm: buttonAlgorithm };

  // A payload that is not the one signed: Amazon's error page, not a session.
  pages.tamperedButton = await buyer.click({ ...click, payloadJSON: payloadJSON.replace('"name",', ''), productType: 'PayAndShip' });
  pages.buttonNamingTheOtherAlgorithm = await buyer.click({ ...click, algorithm: otherAlgorithm, productType: 'PayAndShip' });
  pages.consent = await buyer.click({ ...click, productType: 'PayAndShip' });
  pages.review = await buyer.continue(pages.consent);
  const id = query(pages.review.location, 'amazonCheckoutSessionId');

  await step('getCheckoutSession', client.getCheckoutSession(id));
  await step('updateCheckoutSession', client.updateCheckoutSession(id, {
    webCheckoutDetails: { checkoutResultReturnUrl: RESULT },
    paymentDetails: { paymentIntent: 'Authorize', canHandlePendingAuthorization: false, chargeAmount: yen(5000) },
    merchantMetadata: { merchantReferenceId: 'ORDER-1', merchantStoreName: 'Craft Cart', noteToBuyer: 'ご注文ありがとうございます' },
  }));
  pages.pay = await buyer.visit(expect('updateCheckoutSession', 200).webCheckoutDetails.amazonPayRedirectUrl);

  await step('completeWithAnotherAmount', client.completeCheckoutSession(id, { chargeAmount: yen(4000) }));
  await step('completeCheckoutSession', client.completeCheckoutSession(id, { chargeAmount: yen(5000) }));
  const { chargePermissionId, chargeId } = expect('completeCheckoutSession', 200);

  await step('getChargePermission', client.getChargePermission(chargePermissionId));
  await step('updateChargePermission', client.updateChargePermission(chargePermissionId, {
    merchantMetadata: { merchantReferenceId: 'ORDER-1-A', customInformation: 'gift wrap' },
  }));
  await step('getCharge', client.getCharge(chargeId));

  // 減額: capture 3,000 of the 5,000 authorized; the same request again gets the same answer.
  const capture = { captureAmount: yen(3000) };
  const captureKey = keyed();
  await step('captureCharge', client.captureCharge(chargeId, capture, captureKey));
  await step('captureChargeAgain', client.captureCharge(chargeId, capture, captureKey));

  const refundKey = keyed();
  await step('createRefund', client.createRefund({ chargeId, refundAmount: yen(1000) }, refundKey));
  await step('createRefundReusingItsKey', client.createRefund({ chargeId, refundAmount: yen(1500) }, refundKey));
  await step('createRefundWithoutKey', client.createRefund({ chargeId, refundAmount: yen(500) }));
  // Signed for ¥500, sent for ¥5,000.
  sdk.tamperNext((request) => { request.data = request.data.replace('"500"', '"5000"'); });
  await step('createRefundTampered', client.createRefund({ chargeId, refundAmount: yen(500) }, keyed()));
  const { refundId } = expect('createRefund', 201);
  await buyer.control('refunds', { refundId, outcome: 'Refunded' });
  await step('getRefund', client.getRefund(refundId));
  await step('getChargeRefunded', client.getCharge(chargeId));

  // The rest of the order: a second authorization on the same permission, canceled.
  await step('createCharge', client.createCharge({
    chargePermissionId,
    chargeAmount: yen(2000),
    captureNow: false,
    canHandlePendingAuthorization: false,
  }, keyed()));
  await step('cancelCharge', client.cancelCharge(expect('createCharge', 201).chargeId, { cancellationReason: '在庫切れ' }));
  await step('closeChargePermission', client.closeChargePermission(chargePermissionId, {
    closureReason: 'ご注文完了',
    cancelPendingCharges: false,
  }));

  // The right key ID with a key that is not the registered one.
  const stranger = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' });
  await step('getChargeWithAnotherKey', sdk.client({ ...config, privateKey: stranger }).getCharge(chargeId));
  // The registered key, but the other algorithm named in the authorization header.
  sdk.tamperNext((request) => { request.headers.authorization = request.headers.authorization.replace(/^\S+/, otherAlgorithm); });
  await step('getChargeNamingTheOtherAlgorithm', client.getCharge(chargeId));
}

async function subscription() {
  const body = {
    webCheckoutDetails: { checkoutReviewReturnUrl: REVIEW },
    storeId: config.storeId,
    scopes: ['name', 'email'],
    chargePermissionType: 'Recurring',
    recurringMetadata: { frequency: { unit: 'Month', value: '1' }, amount: yen(3000) },
  };
  const key = keyed();
  await step('createCheckoutSession', client.createCheckoutSession(body, key));
  await step('createCheckoutSessionAgain', client.createCheckoutSession(body, key));
  const id = expect('createCheckoutSession', 201).checkoutSessionId;

  pages.subscriptionConsent = await buyer.open(id);
  pages.subscriptionReview = await buyer.continue(pages.subscriptionConsent);
  await step('updateSubscription', client.updateCheckoutSession(id, {
    webCheckoutDetails: { checkoutResultReturnUrl: RESULT },
    paymentDetails: { paymentIntent: 'AuthorizeWithCapture', canHandlePendingAuthorization: false, chargeAmount: yen(3000) },
    merchantMetadata: { merchantReferenceId: 'SUB-1', merchantStoreName: 'Craft Cart' },
  }));
  pages.subscriptionPay = await buyer.visit(expect('updateSubscription', 200).webCheckoutDetails.amazonPayRedirectUrl);
  await step('completeSubscription', client.completeCheckoutSession(id, { chargeAmount: yen(3000) }));
  const { chargePermissionId } = expect('completeSubscription', 200);

  // The next month's cycle: the merchant charges the permission itself.
  await step('recurringCharge', client.createCharge({
    chargePermissionId,
    chargeAmount: yen(3000),
    captureNow: true,
    canHandlePendingAuthorization: false,
    merchantMetadata: { merchantReferenceId: 'SUB-1-2' },
  }, keyed()));
  await step('getRecurringCharge', client.getCharge(expect('recurringCharge', 201).chargeId));
  await step('updateRecurringPermission', client.updateChargePermission(chargePermissionId, {
    recurringMetadata: { frequency: { unit: 'Month', value: '2' }, amount: yen(3000) },
  }));
  await step('closeRecurringPermission', client.closeChargePermission(chargePermissionId, {
    closureReason: '解約',
    cancelPendingCharges: true,
  }));
}

async function signIn() {
  const payloadJSON = JSON.stringify({
    signInReturnUrl: `${config.shop}/api/amazonpay2/signin`,
    storeId: config.storeId,
    signInScopes: ['name', 'email', 'postalCode', 'shippingAddress', 'phoneNumber'],
  });
  const signature = client.generateButtonSignature(payloadJSON);
  pages.signIn = await buyer.click({
    payloadJSON, signature, publicKeyId: config.publicKeyId, algorithm: buttonAlgorithm, productType: 'SignIn',
  });
  pages.signedIn = await buyer.continue(pages.signIn);
  await step('getBuyer', client.getBuyer(query(pages.signedIn.location, 'buyerToken')));
}

async function main() {
  let failure = null;
  try {
    await oneTimePurchase();
    await subscription();
    await signIn();
  } catch (error) {
    failure = String(error && error.stack || error);
  }
  // Page bodies are long HTML: only what the test looks at.
  for (const page of Object.values(pages)) {
    const code = /id="error-code">([^<]*)</.exec(page.text);
    page.errorCode = code ? code[1] : null;
    delete page.text;
  }
  process.stdout.write(JSON.stringify({ sdkVersion: sdk.sdkVersion, failure, steps, pages, wire: sdk.wire }));
}

main();

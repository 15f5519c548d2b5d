'use strict';
// Amazon's official Node SDK (@amazonpay/amazon-pay-api-sdk-nodejs, installed by build.sh and
// named by AMAZONPAY2_NODE_SDK), pointed at the simulator.
//
// The SDK's methods do everything themselves: the path (`v2/…` for a SANDBOX-/LIVE- key ID,
// `sandbox/v2/…` otherwise), the JSON body, the headers and their signature, and the request
// through its own axios. Its one assumption that does not hold here is the scheme: with
// `overrideServiceUrl` it always calls `https://host:port/…`, and the simulator in the tests
// speaks plain HTTP. So one axios interceptor, on the SDK's own axios instance, turns `https:`
// into `http:` on the way out and changes nothing else: what reaches the simulator is the SDK's
// method, path, headers and body, byte for byte. The same interceptor keeps a log of what went on
// the wire, and can tamper with one request after the SDK signed it.

const fs = require('fs');
const path = require('path');

const sdkDir = process.env.AMAZONPAY2_NODE_SDK;
if (!sdkDir || !fs.existsSync(path.join(sdkDir, 'package.json'))) {
  throw new Error(`Amazon Pay's Node SDK is not at AMAZONPAY2_NODE_SDK='${sdkDir || ''}': run ./build.sh test once`);
}
const { WebStoreClient } = require(sdkDir);
// The very instance the SDK's clientHelper.js requires.
const axios = require(require.resolve('axios', { paths: [sdkDir] }));

/** What went on the wire, one entry per request: method, path and the signature's parts (after any tampering). */
const wire = [];
/** Changes the next request after signing (a one-shot function of axios's config), if set. */
let tamper = null;

axios.interceptors.request.use((config) => {
  const url = new URL(config.url);
  if (url.protocol !== 'https:') throw new Error(`the SDK asked for ${config.url}; it always uses https`);
  url.protocol = 'http:';
  config.url = url.toString();
  const tampered = Boolean(tamper);
  if (tamper) {
    const change = tamper;
    tamper = null;
    change(config);
  }
  const authorization = String(config.headers.authorization || config.headers.Authorization || '');
  const parts = /^(\S+) PublicKeyId=([^,]+), SignedHeaders=([^,]+), Signature=/.exec(authorization);
  wire.push({
    method: config.method.toUpperCase(),
    path: url.pathname + url.search,
    algorithm: parts && parts[1],
    publicKeyId: parts && parts[2],
    signedHeaders: parts ? parts[3].split(';') : [],
    date: config.headers['x-amz-pay-date'],
    host: config.headers['x-amz-pay-host'],
    idempotencyKey: config.headers['x-amz-pay-idempotency-key'] || null,
    tampered,
  });
  return config;
});

/** A WebStoreClient of the SDK for the simulator at `origin` (`http://127.0.0.1:PORT`). */
function client({ origin, publicKeyId, privateKey, sandbox, algorithm }) {
  const config = { publicKeyId, privateKey, region: 'jp', overrideServiceUrl: new URL(origin).host };
  if (sandbox !== undefined) config.sandbox = sandbox;
  if (algorithm) config.algorithm = algorithm;
  return new WebStoreClient(config);
}

/**
 * Awaits one SDK call; answers `{status, body, request}` for an answer of any status (the SDK
 * rejects with axios's error for a 4xx/5xx), with `request` the wire entry it made.
 */
async function call(promise) {
  const before = wire.length;
  let status, body;
  try {
    const response = await promise;
    ({ status, data: body } = response);
  } catch (error) {
    if (!error.response) throw error;
    ({ status, data: body } = error.response);
  }
  if (wire.length !== before + 1) throw new Error(`one request expected, ${wire.length - before} went out`);
  return { status, body, request: wire[before] };
}

/** Tampers with the next request after the SDK signed it. */
function tamperNext(change) {
  tamper = change;
}

/** An idempotency key as the SDK's README makes one: a V4 UUID without its dashes (32 characters). */
function idempotencyKey() {
  return require('crypto').randomUUID().replace(/-/g, '');
}

module.exports = { client, call, tamperNext, idempotencyKey, wire, sdkVersion: require(path.join(sdkDir, 'package.json')).version };

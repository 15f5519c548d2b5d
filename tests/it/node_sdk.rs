//! The simulator against code nobody here wrote: Amazon's official Node SDK
//! (`@amazonpay/amazon-pay-api-sdk-nodejs` 2.3.4, installed by `build.sh test` and named by
//! `AMAZONPAY2_NODE_SDK`) makes every call the shop makes (`tests/node_sdk/purchase.js`): a
//! one-time purchase from a button it signed, a subscription from a session it created, a
//! sign-in and its buyer, and the requests Amazon refuses. Its paths, headers, signatures and
//! bodies reach the simulator unchanged, under both algorithms (V1, salt 20; V2, salt 32) and both
//! kinds of key ID (`SANDBOX-…` on `/v2/…`, unprefixed on `/sandbox/v2/…`); the answers must have
//! the shapes Amazon documents: the field names of Amazon's API reference and of its .NET SDK's
//! response models, `statusDetails`, timestamps as `20200412T101414Z`, `releaseEnvironment`, a
//! charge permission's `reasons` as a list, and errors as `{reasonCode, message}`.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::common::sim::{SHOP, SimSocket, account, shop_key};

const MERCHANT_ID: &str = "A1NODESDKSIMTEST";
const STORE_ID: &str = "amzn1.application-oa2-client.nodesdksimtest0000000000000";
/// An environment-specific key ID: the SDK calls `/v2/…`.
const SANDBOX_KEY_ID: &str = "SANDBOX-AHNODESDKSIMULATORTEST01";
/// A key ID without an environment: the SDK calls `/sandbox/v2/…` (`sandbox: true`).
const PLAIN_KEY_ID: &str = "AHNODESDKSIMULATORTEST02";
const V1: &str = "AMZN-PAY-RSASSA-PSS";
const V2: &str = "AMZN-PAY-RSASSA-PSS-V2";

// ---------------------------------------------------------------------------------------------
// The four ways to call
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn v2_with_a_sandbox_key_id_on_v2_paths() {
    let run = purchase(SANDBOX_KEY_ID, Some(V2)).await;
    check(&run, SANDBOX_KEY_ID, V2, "/v2/");
}

#[tokio::test]
async fn v1_with_a_sandbox_key_id_on_v2_paths() {
    let run = purchase(SANDBOX_KEY_ID, None).await;
    check(&run, SANDBOX_KEY_ID, V1, "/v2/");
}

#[tokio::test]
async fn v2_with_a_plain_key_id_on_sandbox_paths() {
    let run = purchase(PLAIN_KEY_ID, Some(V2)).await;
    check(&run, PLAIN_KEY_ID, V2, "/sandbox/v2/");
}

#[tokio::test]
async fn v1_with_a_plain_key_id_on_sandbox_paths() {
    let run = purchase(PLAIN_KEY_ID, None).await;
    check(&run, PLAIN_KEY_ID, V1, "/sandbox/v2/");
}

// ---------------------------------------------------------------------------------------------
// Running the SDK
// ---------------------------------------------------------------------------------------------

/// The installed SDK: `AMAZONPAY2_NODE_SDK`, or where `build.sh` puts it. Missing is a failure,
/// not a skip: `./build.sh test` installs it.
fn sdk_dir() -> PathBuf {
    let dir = std::env::var_os("AMAZONPAY2_NODE_SDK").map(PathBuf::from).unwrap_or_else(|| {
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache"));
        cache.join("amazonpay2-tools/amazon-pay-sdk/node_modules/@amazonpay/amazon-pay-api-sdk-nodejs")
    });
    assert!(
        dir.join("package.json").is_file(),
        "Amazon Pay's Node SDK is not at {}: run ./build.sh test once",
        dir.display()
    );
    dir
}

/// Runs `tests/node_sdk/purchase.js` against a fresh simulator that trusts the shop's key under
/// `key_id`; answers what it printed.
async fn purchase(key_id: &str, algorithm: Option<&str>) -> Value {
    let key = shop_key();
    let sim = SimSocket::start(account(MERCHANT_ID, STORE_ID, key_id, true), &key, |s| s.router()).await;
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut config = json!({
        "origin": sim.origin(),
        "publicKeyId": key_id,
        "privateKeyFile": repo.join("tests/fixtures/test_key_pkcs8.pem"),
        "merchantId": MERCHANT_ID,
        "storeId": STORE_ID,
        "shop": SHOP,
    });
    if !key_id.starts_with("SANDBOX-") {
        config["sandbox"] = json!(true);
    }
    if let Some(algorithm) = algorithm {
        config["algorithm"] = json!(algorithm);
    }
    let node = tokio::process::Command::new("node")
        .arg(repo.join("tests/node_sdk/purchase.js"))
        .arg(config.to_string())
        .env("AMAZONPAY2_NODE_SDK", sdk_dir())
        // axios would send loopback requests through a proxy named in the environment.
        .env("NO_PROXY", "127.0.0.1")
        .env("no_proxy", "127.0.0.1")
        .kill_on_drop(true)
        .output();
    // A guard against a hung process, not a measurement: the walk takes a second or two.
    let output = tokio::time::timeout(std::time::Duration::from_secs(120), node)
        .await
        .expect("node did not finish within 2 minutes")
        .unwrap_or_else(|e| panic!("node could not be started ({e}): ./build.sh test needs Node.js"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "node: {}\n{stderr}", output.status);
    let run: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{stderr}", String::from_utf8_lossy(&output.stdout)));
    assert_eq!(run["sdkVersion"], "2.3.4");
    assert_eq!(run["failure"], Value::Null, "the walk stopped: {}", pretty(&run["steps"]));
    run
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// What the answers must be
// ---------------------------------------------------------------------------------------------

fn check(run: &Value, key_id: &str, algorithm: &str, prefix: &str) {
    check_wire(run, key_id, algorithm, prefix);
    check_one_time_purchase(run);
    check_refusals(run);
    check_subscription(run);
    check_sign_in(run);
}

/// Every request went out as the SDK makes it, and was served: the path with the key ID's
/// environment prefix, the algorithm named, all the SDK's headers signed, Node's extended date.
fn check_wire(run: &Value, key_id: &str, algorithm: &str, prefix: &str) {
    let wire = run["wire"].as_array().unwrap();
    assert_eq!(wire.len(), run["steps"].as_object().unwrap().len(), "one request per step");
    for request in wire {
        let path = request["path"].as_str().unwrap();
        assert!(path.starts_with(prefix), "{path} under {prefix}");
        assert_eq!(request["publicKeyId"], key_id);
        if request["tampered"] == false {
            assert_eq!(request["algorithm"], algorithm);
        }
        let signed: Vec<&str> = request["signedHeaders"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        for header in ["accept", "content-type", "user-agent", "x-amz-pay-date", "x-amz-pay-host", "x-amz-pay-region"] {
            assert!(signed.contains(&header), "{header} signed in {request}");
        }
        if !request["idempotencyKey"].is_null() {
            assert!(signed.contains(&"x-amz-pay-idempotency-key"), "{request}");
            assert_eq!(request["idempotencyKey"].as_str().unwrap().len(), 32);
        }
        let date = request["date"].as_str().unwrap();
        assert!(is_digits_around(date, "dddd-dd-ddTdd:dd:ddZ"), "the SDK's own date format: {date}");
    }
    let renamed = &run["steps"]["getChargeNamingTheOtherAlgorithm"]["request"];
    assert_eq!(renamed["tampered"], true);
    assert_ne!(renamed["algorithm"], algorithm);
    assert_eq!(run["steps"]["createRefundTampered"]["request"]["tampered"], true);
    // Amazon's API reference: each operation's method and path.
    for (step, method, path) in [
        ("createCheckoutSession", "POST", "checkoutSessions".to_owned()),
        ("getCheckoutSession", "GET", format!("checkoutSessions/{}", session_id(run))),
        ("updateCheckoutSession", "PATCH", format!("checkoutSessions/{}", session_id(run))),
        ("completeCheckoutSession", "POST", format!("checkoutSessions/{}/complete", session_id(run))),
        ("getChargePermission", "GET", format!("chargePermissions/{}", permission_id(run))),
        ("updateChargePermission", "PATCH", format!("chargePermissions/{}", permission_id(run))),
        ("closeChargePermission", "DELETE", format!("chargePermissions/{}/close", permission_id(run))),
        ("createCharge", "POST", "charges".to_owned()),
        ("getCharge", "GET", format!("charges/{}", charge_id(run))),
        ("captureCharge", "POST", format!("charges/{}/capture", charge_id(run))),
        (
            "cancelCharge",
            "DELETE",
            format!("charges/{}/cancel", body(run, "createCharge")["chargeId"].as_str().unwrap()),
        ),
        ("createRefund", "POST", "refunds".to_owned()),
        ("getRefund", "GET", format!("refunds/{}", body(run, "createRefund")["refundId"].as_str().unwrap())),
    ] {
        let request = &run["steps"][step]["request"];
        assert_eq!(request["method"], method, "{step}");
        assert_eq!(request["path"], format!("{prefix}{path}"), "{step}");
    }
    assert!(run["steps"]["getBuyer"]["request"]["path"].as_str().unwrap().starts_with(&format!("{prefix}buyers/")));
}

fn check_one_time_purchase(run: &Value) {
    let pages = &run["pages"];
    // The SDK's button signature opens Amazon's consent page; the buyer comes back to the review
    // URL with the session.
    assert_eq!(pages["consent"]["status"], 200, "{}", pretty(pages));
    assert_eq!(pages["consent"]["errorCode"], Value::Null);
    assert_eq!(pages["review"]["status"], 303);
    let id = session_id(run);
    assert_eq!(
        pages["review"]["location"],
        format!("{SHOP}/api/amazonpay2/checkout/review?amazonCheckoutSessionId={id}")
    );

    let open = answer(run, "getCheckoutSession", 200);
    session(open, "Open");
    assert_eq!(open["productType"], "PayAndShip");
    assert_eq!(open["chargePermissionType"], "OneTime");
    assert!(open["buyer"]["buyerId"].as_str().unwrap().starts_with("amzn1.account."));
    assert_eq!(open["shippingAddress"]["countryCode"], "JP");
    assert_eq!(open["webCheckoutDetails"]["amazonPayRedirectUrl"], Value::Null);
    let constraints: Vec<&str> =
        open["constraints"].as_array().unwrap().iter().map(|c| c["constraintId"].as_str().unwrap()).collect();
    assert_eq!(constraints, ["ChargeAmountNotSet", "CheckoutResultReturnUrlNotSet", "PaymentIntentNotSet"]);

    let updated = answer(run, "updateCheckoutSession", 200);
    session(updated, "Open");
    assert_eq!(updated["constraints"], json!([]));
    price(&updated["paymentDetails"]["chargeAmount"], "5000");
    assert_eq!(updated["paymentDetails"]["paymentIntent"], "Authorize");
    assert_eq!(updated["merchantMetadata"]["noteToBuyer"], "ご注文ありがとうございます");
    assert_eq!(pages["pay"]["status"], 303);
    assert_eq!(pages["pay"]["location"], format!("{SHOP}/api/amazonpay2/checkout/result?amazonCheckoutSessionId={id}"));

    let completed = answer(run, "completeCheckoutSession", 200);
    session(completed, "Completed");
    assert_eq!(completed["checkoutSessionId"], id);
    assert!(completed["chargeId"].as_str().unwrap().starts_with(completed["chargePermissionId"].as_str().unwrap()));

    let permission = answer(run, "getChargePermission", 200);
    charge_permission(permission, "Chargeable");
    assert_eq!(permission["chargePermissionType"], "OneTime");
    price(&permission["limits"]["amountLimit"], "5000");
    let updated = answer(run, "updateChargePermission", 200);
    charge_permission(updated, "Chargeable");
    assert_eq!(updated["merchantMetadata"]["merchantReferenceId"], "ORDER-1-A");
    assert_eq!(updated["merchantMetadata"]["customInformation"], "gift wrap");

    let authorized = answer(run, "getCharge", 200);
    charge(authorized, "Authorized");
    price(&authorized["chargeAmount"], "5000");
    assert_eq!(authorized["captureAmount"], Value::Null);

    let captured = answer(run, "captureCharge", 200);
    charge(captured, "Captured");
    price(&captured["captureAmount"], "3000");
    price(&captured["refundedAmount"], "0");
    assert_eq!(answer(run, "captureChargeAgain", 200), captured, "the same key and body: the first answer");

    let initiated = answer(run, "createRefund", 201);
    refund(initiated, "RefundInitiated");
    assert_eq!(initiated["chargeId"], charge_id(run));
    price(&initiated["refundAmount"], "1000");
    let refunded = answer(run, "getRefund", 200);
    refund(refunded, "Refunded");
    assert_eq!(refunded["refundId"], initiated["refundId"]);
    let charge_after = answer(run, "getChargeRefunded", 200);
    charge(charge_after, "Captured");
    price(&charge_after["refundedAmount"], "1000");

    let second = answer(run, "createCharge", 201);
    charge(second, "Authorized");
    assert_eq!(second["chargePermissionId"], permission_id(run));
    price(&second["chargeAmount"], "2000");
    let canceled = answer(run, "cancelCharge", 200);
    charge(canceled, "Canceled");
    assert_eq!(canceled["statusDetails"]["reasonCode"], "MerchantCanceled");

    let closed = answer(run, "closeChargePermission", 200);
    charge_permission(closed, "Closed");
    assert_eq!(
        closed["statusDetails"]["reasons"],
        json!([{ "reasonCode": "MerchantClosed", "reasonDescription": "ご注文完了" }])
    );
}

/// What Amazon refuses, with Amazon's reason codes and the statuses its error table gives
/// (400 for the request's own faults, 401 for the signature).
fn check_refusals(run: &Value) {
    let pages = &run["pages"];
    assert_eq!(pages["tamperedButton"]["status"], 400);
    assert_eq!(pages["tamperedButton"]["errorCode"], "InvalidSignatureError");
    assert_eq!(pages["tamperedButton"]["location"], Value::Null);

    // The amount completed must be the session's (Amazon documents the reason code, not the status).
    let (status, _) = refusal(run, "completeWithAnotherAmount", "AmountMismatch");
    assert!((400..500).contains(&status), "{status}");
    refusal_with(run, "createRefundReusingItsKey", 400, "DuplicateIdempotencyKey");
    let (status, reason) = error(&run["steps"]["createRefundWithoutKey"]);
    assert_eq!(status, 400);
    assert!(["MissingHeader", "MissingHeaderValue"].contains(&reason.as_str()), "{reason}");
    refusal_with(run, "createRefundTampered", 401, "InvalidRequestSignature");
    refusal_with(run, "getChargeWithAnotherKey", 401, "InvalidRequestSignature");
    // The algorithm's name decides the salt length: a V1 signature is no V2 one, nor the reverse.
    refusal_with(run, "getChargeNamingTheOtherAlgorithm", 401, "InvalidRequestSignature");
    assert_eq!(run["pages"]["buttonNamingTheOtherAlgorithm"]["errorCode"], "InvalidSignatureError");
    // Nothing refused was done: one refund of ¥1,000.
    price(&body(run, "getChargeRefunded")["refundedAmount"], "1000");
}

fn check_subscription(run: &Value) {
    let created = answer(run, "createCheckoutSession", 201);
    session(created, "Open");
    assert_eq!(created["chargePermissionType"], "Recurring");
    assert_eq!(created["recurringMetadata"]["frequency"], json!({ "unit": "Month", "value": "1" }));
    assert_eq!(created["buyer"], Value::Null, "no buyer before the buyer came");
    let again = answer(run, "createCheckoutSessionAgain", 201);
    assert_eq!(again["checkoutSessionId"], created["checkoutSessionId"], "the same key and body: the same session");

    let pages = &run["pages"];
    assert_eq!(pages["subscriptionConsent"]["status"], 200);
    assert_eq!(pages["subscriptionReview"]["status"], 303);
    assert_eq!(pages["subscriptionPay"]["status"], 303);
    session(answer(run, "updateSubscription", 200), "Open");
    let completed = answer(run, "completeSubscription", 200);
    session(completed, "Completed");
    assert_eq!(completed["chargePermissionType"], "Recurring");

    let cycle = answer(run, "recurringCharge", 201);
    charge(cycle, "Captured");
    assert_eq!(cycle["chargePermissionId"], completed["chargePermissionId"]);
    assert_eq!(cycle["captureNow"], true);
    price(&cycle["captureAmount"], "3000");
    assert_eq!(cycle["merchantMetadata"]["merchantReferenceId"], "SUB-1-2");
    assert_eq!(answer(run, "getRecurringCharge", 200), cycle);

    let updated = answer(run, "updateRecurringPermission", 200);
    charge_permission(updated, "Chargeable");
    assert_eq!(updated["chargePermissionType"], "Recurring");
    assert_eq!(updated["recurringMetadata"]["frequency"], json!({ "unit": "Month", "value": "2" }));
    let closed = answer(run, "closeRecurringPermission", 200);
    charge_permission(closed, "Closed");
    assert_eq!(closed["statusDetails"]["reasons"][0]["reasonCode"], "MerchantClosed");
}

fn check_sign_in(run: &Value) {
    let pages = &run["pages"];
    assert_eq!(pages["signIn"]["status"], 200, "the SDK's sign-in signature is accepted");
    assert_eq!(pages["signedIn"]["status"], 303);
    let location = pages["signedIn"]["location"].as_str().unwrap();
    assert!(location.starts_with(&format!("{SHOP}/api/amazonpay2/signin?buyerToken=")), "{location}");
    let buyer = answer(run, "getBuyer", 200);
    documented(buyer, BUYER_RESPONSE, "buyer");
    assert!(buyer["buyerId"].as_str().unwrap().starts_with("amzn1.account."));
    assert!(buyer["name"].is_string() && buyer["email"].is_string());
    assert_eq!(buyer["postalCode"], "1530064", "the default address's postal code, as Amazon gives it");
    assert_eq!(buyer["countryCode"], "JP");
    assert!(buyer.get("primeMembershipTypes").is_some_and(Value::is_null), "null unless allow-listed: {buyer}");
    address(&buyer["shippingAddress"]);
    for unused_in_japan in ["city", "county", "district"] {
        assert!(buyer["shippingAddress"].get(unused_in_japan).is_some_and(Value::is_null), "{buyer}");
    }
}

// ---------------------------------------------------------------------------------------------
// Amazon's shapes
// ---------------------------------------------------------------------------------------------

// Field names from Amazon's API reference (checkout-session, charge-permission, charge, refund,
// buyer) and the .NET SDK's response models (`CheckoutSessionResponse.cs`, `ChargeResponse.cs`,
// `ChargePermissionResponse.cs`, `RefundResponse.cs`, `Types/*.cs`). An answer may leave a field
// out; it may not have one Amazon does not. One exception, `chargePermissionReferenceId` (always
// null): neither source names it, but Amazon's Japanese sandbox sent it in the answers a public
// Ruby client recorded for its tests (2020).
const CHECKOUT_SESSION: &[&str] = &[
    "checkoutSessionId",
    "webCheckoutDetails",
    "productType",
    "paymentDetails",
    "merchantMetadata",
    "buyer",
    "statusDetails",
    "shippingAddress",
    "shippingAddressList",
    "billingAddress",
    "paymentPreferences",
    "constraints",
    "creationTimestamp",
    "expirationTimestamp",
    "chargePermissionId",
    "chargeId",
    "chargePermissionType",
    "recurringMetadata",
    "deliverySpecifications",
    "releaseEnvironment",
    "storeId",
    "platformId",
    "providerMetadata",
    "supplementaryData",
    "paymentMethodOnFileMetadata",
    "multiAddressesCheckoutMetadata",
];
const WEB_CHECKOUT_DETAILS: &[&str] = &[
    "checkoutReviewReturnUrl",
    "checkoutResultReturnUrl",
    "checkoutCancelUrl",
    "amazonPayRedirectUrl",
    "checkoutMode",
];
const PAYMENT_DETAILS: &[&str] = &[
    "paymentIntent",
    "canHandlePendingAuthorization",
    "chargeAmount",
    "totalOrderAmount",
    "softDescriptor",
    "presentmentCurrency",
    "allowOvercharge",
    "extendExpiration",
];
const CHARGE_PERMISSION: &[&str] = &[
    "chargePermissionId",
    "chargePermissionReferenceId",
    "chargePermissionType",
    "limits",
    "buyer",
    "shippingAddress",
    "billingAddress",
    "paymentPreferences",
    "merchantMetadata",
    "platformId",
    "creationTimestamp",
    "expirationTimestamp",
    "statusDetails",
    "presentmentCurrency",
    "recurringMetadata",
    "releaseEnvironment",
];
const CHARGE: &[&str] = &[
    "chargeId",
    "chargePermissionId",
    "chargeAmount",
    "captureAmount",
    "refundedAmount",
    "softDescriptor",
    "captureNow",
    "canHandlePendingAuthorization",
    "providerMetadata",
    "merchantMetadata",
    "creationTimestamp",
    "expirationTimestamp",
    "statusDetails",
    "convertedAmount",
    "conversionRate",
    "releaseEnvironment",
    "platformId",
    "webCheckoutDetails",
];
const REFUND: &[&str] = &[
    "refundId",
    "chargeId",
    "refundAmount",
    "softDescriptor",
    "creationTimestamp",
    "statusDetails",
    "releaseEnvironment",
];
const BUYER: &[&str] = &["buyerId", "name", "email", "phoneNumber", "primeMembershipTypes"];
const BUYER_RESPONSE: &[&str] = &[
    "buyerId",
    "name",
    "email",
    "postalCode",
    "countryCode",
    "phoneNumber",
    "shippingAddress",
    "billingAddress",
    "primeMembershipTypes",
];
const ADDRESS: &[&str] = &[
    "name",
    "addressLine1",
    "addressLine2",
    "addressLine3",
    "city",
    "county",
    "district",
    "stateOrRegion",
    "postalCode",
    "countryCode",
    "phoneNumber",
];
const MERCHANT_METADATA: &[&str] = &["merchantReferenceId", "merchantStoreName", "noteToBuyer", "customInformation"];
/// `statusDetails` of a checkout session, a charge and a refund.
const STATUS_DETAILS: &[&str] = &["state", "reasonCode", "reasonDescription", "lastUpdatedTimestamp"];
/// `statusDetails` of a charge permission: `reasons` is a list.
const PERMISSION_STATUS_DETAILS: &[&str] = &["state", "reasons", "lastUpdatedTimestamp"];

/// Every field of `value` is one Amazon documents for `what`.
fn documented(value: &Value, fields: &[&str], what: &str) {
    let object = value.as_object().unwrap_or_else(|| panic!("{what}: an object, got {value}"));
    for key in object.keys() {
        assert!(fields.contains(&key.as_str()), "{what}.{key} is not a field Amazon documents: {}", pretty(value));
    }
}

fn session(value: &Value, state: &str) {
    documented(value, CHECKOUT_SESSION, "checkoutSession");
    let id = value["checkoutSessionId"].as_str().unwrap();
    assert_eq!(id.split('-').map(str::len).collect::<Vec<_>>(), [8, 4, 4, 4, 12], "{id}");
    status_details(&value["statusDetails"], state);
    documented(&value["webCheckoutDetails"], WEB_CHECKOUT_DETAILS, "webCheckoutDetails");
    documented(&value["paymentDetails"], PAYMENT_DETAILS, "paymentDetails");
    optional(&value["merchantMetadata"], |m| documented(m, MERCHANT_METADATA, "merchantMetadata"));
    optional(&value["buyer"], |b| documented(b, BUYER, "buyer"));
    optional(&value["shippingAddress"], address);
    optional(&value["billingAddress"], address);
    for constraint in value["constraints"].as_array().unwrap() {
        documented(constraint, &["constraintId", "description"], "constraints[]");
    }
    optional(&value["paymentPreferences"], |list| {
        for preference in list.as_array().unwrap() {
            documented(preference, &["paymentDescriptor"], "paymentPreferences[]");
        }
    });
    timestamp(&value["creationTimestamp"]);
    timestamp(&value["expirationTimestamp"]);
    assert_eq!(value["releaseEnvironment"], "Sandbox");
    assert_eq!(value["storeId"], STORE_ID);
}

fn charge_permission(value: &Value, state: &str) {
    documented(value, CHARGE_PERMISSION, "chargePermission");
    let status = &value["statusDetails"];
    documented(status, PERMISSION_STATUS_DETAILS, "chargePermission.statusDetails");
    assert_eq!(status["state"], state);
    timestamp(&status["lastUpdatedTimestamp"]);
    optional(&status["reasons"], |reasons| {
        for reason in reasons.as_array().unwrap_or_else(|| panic!("reasons is a list: {reasons}")) {
            documented(reason, &["reasonCode", "reasonDescription"], "reasons[]");
            assert!(reason["reasonCode"].is_string(), "{reason}");
        }
    });
    if state == "Closed" {
        assert!(!status["reasons"].as_array().unwrap().is_empty(), "a Closed permission says why");
    }
    documented(&value["limits"], &["amountLimit", "amountBalance"], "limits");
    optional(&value["limits"]["amountLimit"], assert_price);
    optional(&value["limits"]["amountBalance"], assert_price);
    documented(&value["buyer"], BUYER, "buyer");
    optional(&value["shippingAddress"], address);
    optional(&value["merchantMetadata"], |m| documented(m, MERCHANT_METADATA, "merchantMetadata"));
    timestamp(&value["creationTimestamp"]);
    optional(&value["expirationTimestamp"], timestamp);
    assert_eq!(value["presentmentCurrency"], "JPY");
    assert_eq!(value["releaseEnvironment"], "Sandbox");
}

fn charge(value: &Value, state: &str) {
    documented(value, CHARGE, "charge");
    status_details(&value["statusDetails"], state);
    assert_price(&value["chargeAmount"]);
    optional(&value["captureAmount"], assert_price);
    optional(&value["refundedAmount"], assert_price);
    assert!(value["captureNow"].is_boolean() && value["canHandlePendingAuthorization"].is_boolean(), "{value}");
    timestamp(&value["creationTimestamp"]);
    timestamp(&value["expirationTimestamp"]);
    assert_eq!(value["releaseEnvironment"], "Sandbox");
}

fn refund(value: &Value, state: &str) {
    documented(value, REFUND, "refund");
    status_details(&value["statusDetails"], state);
    assert_price(&value["refundAmount"]);
    timestamp(&value["creationTimestamp"]);
    assert_eq!(value["releaseEnvironment"], "Sandbox");
}

fn status_details(value: &Value, state: &str) {
    documented(value, STATUS_DETAILS, "statusDetails");
    assert_eq!(value["state"], state, "{value}");
    assert!(value["reasonCode"].is_null() || value["reasonCode"].is_string(), "{value}");
    timestamp(&value["lastUpdatedTimestamp"]);
}

fn address(value: &Value) {
    documented(value, ADDRESS, "address");
    assert!(value["stateOrRegion"].is_string() && value["postalCode"].is_string(), "{value}");
}

/// A JPY price: `{"amount": "<whole yen>", "currencyCode": "JPY"}`.
fn assert_price(value: &Value) {
    documented(value, &["amount", "currencyCode"], "price");
    let amount = value["amount"].as_str().unwrap_or_else(|| panic!("amount as a string: {value}"));
    assert!(!amount.is_empty() && amount.bytes().all(|b| b.is_ascii_digit()), "{value}");
    assert_eq!(value["currencyCode"], "JPY");
}

fn price(value: &Value, yen: &str) {
    assert_price(value);
    assert_eq!(value["amount"], yen, "{value}");
}

/// Amazon's basic ISO 8601 form, `20200412T101414Z`.
fn timestamp(value: &Value) {
    let text = value.as_str().unwrap_or_else(|| panic!("a timestamp, got {value}"));
    assert!(is_digits_around(text, "ddddddddTddddddZ"), "{text}");
}

/// `text` has a digit wherever `pattern` has `d` and `pattern`'s other characters elsewhere.
fn is_digits_around(text: &str, pattern: &str) -> bool {
    text.len() == pattern.len()
        && text.bytes().zip(pattern.bytes()).all(|(t, p)| if p == b'd' { t.is_ascii_digit() } else { t == p })
}

fn optional(value: &Value, check: impl FnOnce(&Value)) {
    if !value.is_null() {
        check(value);
    }
}

// ---------------------------------------------------------------------------------------------
// Reading the transcript
// ---------------------------------------------------------------------------------------------

fn body<'a>(run: &'a Value, step: &str) -> &'a Value {
    &run["steps"][step]["body"]
}

/// The answer of `step`, which must have had `status`.
fn answer<'a>(run: &'a Value, step: &str, status: u16) -> &'a Value {
    let recorded = &run["steps"][step];
    assert_eq!(recorded["status"], status, "{step}: {}", pretty(recorded));
    &recorded["body"]
}

/// An error answer: exactly `{reasonCode, message}`; answers its status and reason code.
fn error(recorded: &Value) -> (u16, String) {
    let body = &recorded["body"];
    documented(body, &["reasonCode", "message"], "error");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{recorded}");
    let status = u16::try_from(recorded["status"].as_u64().unwrap()).unwrap();
    (status, body["reasonCode"].as_str().unwrap_or_else(|| panic!("{recorded}")).to_owned())
}

fn refusal(run: &Value, step: &str, reason: &str) -> (u16, String) {
    let (status, code) = error(&run["steps"][step]);
    assert_eq!(code, reason, "{step}: {}", pretty(&run["steps"][step]));
    (status, code)
}

fn refusal_with(run: &Value, step: &str, status: u16, reason: &str) {
    let (got, _) = refusal(run, step, reason);
    assert_eq!(got, status, "{step}");
}

fn session_id(run: &Value) -> String {
    body(run, "completeCheckoutSession")["checkoutSessionId"].as_str().unwrap().to_owned()
}

fn permission_id(run: &Value) -> String {
    body(run, "completeCheckoutSession")["chargePermissionId"].as_str().unwrap().to_owned()
}

fn charge_id(run: &Value) -> String {
    body(run, "completeCheckoutSession")["chargeId"].as_str().unwrap().to_owned()
}

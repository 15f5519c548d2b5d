//! The JSON of each object, shaped as Amazon returns it.

use serde_json::{Value, json};
use url::Url;

use super::details::MerchantMetadata;
use super::ledger::Ledger;
use super::objects::{Charge, ChargePermission, Intent, Refund, RefundState, Session, SessionState};
use super::rules::{AUTHORIZATION_LIFETIME, SESSION_LIFETIME, price, timestamp};
use crate::simulator::buyers::{TEST_BUYERS, TestBuyer};

/// What the JSON of an object needs from the request.
pub(in crate::simulator) struct View<'a> {
    /// The simulator's origin as the buyer's browser reaches it.
    pub origin: &'a str,
    pub now: u64,
}

impl Ledger {
    /// The Checkout Session object.
    pub(in crate::simulator) fn session_json(session: &Session, view: &View<'_>) -> Value {
        let buyer = &TEST_BUYERS[session.buyer];
        let chosen = session.buyer_chosen;
        let details = &session.details;
        let constraints: Vec<Value> = if session.state == SessionState::Open {
            session
                .constraints()
                .into_iter()
                .map(|(id, description)| json!({ "constraintId": id, "description": description }))
                .collect()
        } else {
            Vec::new()
        };
        let shipping = (chosen && session.state == SessionState::Open && session.product_type.ships())
            .then(|| address_json(&TEST_BUYERS[session.address]));
        json!({
            "checkoutSessionId": session.id,
            "webCheckoutDetails": {
                "checkoutReviewReturnUrl": details.review_url.as_str(),
                "checkoutResultReturnUrl": details.result_url.as_ref().map(Url::as_str),
                "checkoutCancelUrl": details.cancel_url.as_ref().map(Url::as_str),
                "amazonPayRedirectUrl": session.redirect_url(view.origin),
                "checkoutMode": details.process_order.then_some("ProcessOrder"),
            },
            "productType": session.product_type.name(),
            "paymentDetails": {
                "paymentIntent": details.intent.map(Intent::name),
                "canHandlePendingAuthorization": details.can_handle_pending,
                "chargeAmount": details.charge_amount.map(price),
                "totalOrderAmount": details.total_order_amount.map(price),
                "softDescriptor": null,
                "presentmentCurrency": "JPY",
                "allowOvercharge": details.allow_overcharge,
                "extendExpiration": details.extend_expiration,
            },
            "chargePermissionType": details.permission_type.name(),
            "recurringMetadata": details.recurring_metadata,
            "merchantMetadata": details.merchant_metadata.json(),
            "supplementaryData": details.supplementary_data,
            "buyer": chosen.then(|| buyer_json(buyer, &session.owner.merchant_id, &session.scopes)),
            "billingAddress": (chosen && has_scope(&session.scopes, "billingAddress")).then(|| address_json(buyer)),
            "paymentPreferences": chosen.then(|| json!([{ "paymentDescriptor": session.card.descriptor() }])),
            "statusDetails": {
                "state": session.state.name(),
                "reasonCode": session.reason.as_ref().map(|r| r.code),
                "reasonDescription": session.reason.as_ref().map(|r| r.description.as_str()),
                "lastUpdatedTimestamp": timestamp(session.updated),
            },
            "shippingAddress": shipping,
            "platformId": details.platform_id,
            "chargePermissionId": session.charge_permission_id,
            "chargeId": session.charge_id,
            "constraints": constraints,
            "creationTimestamp": timestamp(session.created),
            "expirationTimestamp": timestamp(session.created + SESSION_LIFETIME),
            "storeId": session.owner.store_id,
            "deliverySpecifications": null,
            "providerMetadata": { "providerReferenceId": details.provider_reference_id },
            "releaseEnvironment": session.environment.name(),
        })
    }

    /// The Charge Permission object.
    pub(in crate::simulator) fn permission_json(&self, permission: &ChargePermission, view: &View<'_>) -> Value {
        let buyer = &TEST_BUYERS[permission.buyer];
        let (state, reasons, updated) = match &permission.closed {
            Some(closure) => (
                "Closed",
                json!([{ "reasonCode": closure.reason.code, "reasonDescription": closure.reason.description }]),
                closure.at,
            ),
            None => match permission.card.non_chargeable() {
                Some(reason) => (
                    "NonChargeable",
                    json!([{ "reasonCode": reason, "reasonDescription": "The buyer's payment method cannot be charged." }]),
                    permission.updated,
                ),
                None => ("Chargeable", Value::Null, permission.updated),
            },
        };
        json!({
            "chargePermissionId": permission.id,
            "chargePermissionReferenceId": null,
            "chargePermissionType": permission.kind.name(),
            "recurringMetadata": permission.recurring_metadata,
            "buyer": buyer_json(buyer, &permission.owner.merchant_id, &permission.scopes),
            "shippingAddress": permission.address.map(|a| address_json(&TEST_BUYERS[a])),
            "billingAddress": has_scope(&permission.scopes, "billingAddress").then(|| address_json(buyer)),
            "paymentPreferences": [{ "paymentDescriptor": permission.card.descriptor() }],
            "statusDetails": {
                "state": state,
                "reasons": reasons,
                "lastUpdatedTimestamp": timestamp(updated),
            },
            "creationTimestamp": timestamp(permission.created),
            "expirationTimestamp": permission.expires.map(timestamp),
            "merchantMetadata": permission.merchant_metadata.json(),
            "platformId": permission.platform_id,
            "limits": {
                "amountLimit": price(permission.amount_limit),
                "amountBalance": price(self.balance(permission, view.now)),
            },
            "presentmentCurrency": "JPY",
            "releaseEnvironment": permission.environment.name(),
        })
    }

    /// The Charge object. `captureAmount` is what has been captured (nothing while a capture is
    /// in progress); `refundedAmount` what its `Refunded` refunds returned, once it is captured.
    pub(in crate::simulator) fn charge_json(&self, charge: &Charge) -> Value {
        let refunded: u64 = charge
            .refunds
            .iter()
            .filter_map(|id| self.refunds.get(id))
            .filter(|r| r.state == RefundState::Refunded)
            .map(|r| r.amount)
            .sum();
        json!({
            "chargeId": charge.id,
            "chargePermissionId": charge.permission_id,
            "chargeAmount": price(charge.amount),
            "captureAmount": charge.captured.map(price),
            "refundedAmount": charge.captured.map(|_| price(refunded)),
            "convertedAmount": null,
            "conversionRate": null,
            "softDescriptor": null,
            "captureNow": charge.capture_now,
            "canHandlePendingAuthorization": charge.can_handle_pending,
            "providerMetadata": { "providerReferenceId": null },
            "merchantMetadata": charge.merchant_metadata.as_ref().map(MerchantMetadata::json),
            "creationTimestamp": timestamp(charge.created),
            "expirationTimestamp": timestamp(charge.authorized_at.unwrap_or(charge.created) + AUTHORIZATION_LIFETIME),
            "statusDetails": {
                "state": charge.state.name(),
                "reasonCode": charge.reason.as_ref().map(|r| r.code),
                "reasonDescription": charge.reason.as_ref().map(|r| r.description.as_str()),
                "lastUpdatedTimestamp": timestamp(charge.updated),
            },
            "platformId": null,
            "webCheckoutDetails": null,
            "releaseEnvironment": charge.environment.name(),
        })
    }
}

impl Ledger {
    /// The Refund object.
    pub(in crate::simulator) fn refund_json(&self, refund: &Refund) -> Value {
        json!({
            "refundId": refund.id,
            "chargeId": refund.charge_id,
            "refundAmount": price(refund.amount),
            "softDescriptor": null,
            "creationTimestamp": timestamp(refund.created),
            "statusDetails": {
                "state": refund.state.name(),
                "reasonCode": refund.reason.as_ref().map(|r| r.code),
                "reasonDescription": refund.reason.as_ref().map(|r| r.description.as_str()),
                "lastUpdatedTimestamp": timestamp(refund.updated),
            },
            "releaseEnvironment": refund.environment.name(),
        })
    }
}

/// Checkout scopes: none asked for means everything.
fn has_scope(scopes: &[String], scope: &str) -> bool {
    scopes.is_empty() || scopes.iter().any(|s| s == scope)
}

fn buyer_json(buyer: &TestBuyer, merchant_id: &str, scopes: &[String]) -> Value {
    json!({
        "buyerId": buyer.buyer_id(merchant_id),
        "name": has_scope(scopes, "name").then_some(buyer.name),
        "email": has_scope(scopes, "email").then_some(buyer.email),
        "phoneNumber": has_scope(scopes, "phoneNumber").then_some(buyer.phone),
        "primeMembershipTypes": null,
    })
}

/// The buyer as getBuyer shows them to `merchant_id`, with only what `scopes` allow (Amazon's
/// Buyer object: the buyer ID always, name and e-mail when no scope was asked for;
/// `primeMembershipTypes` is null for a merchant Amazon did not allow-list).
pub(in crate::simulator) fn get_buyer_json(buyer: &TestBuyer, merchant_id: &str, scopes: &[String]) -> Value {
    let has = |scope: &str| scopes.iter().any(|s| s == scope);
    let defaults = scopes.is_empty();
    json!({
        "buyerId": buyer.buyer_id(merchant_id),
        "name": (defaults || has("name")).then_some(buyer.name),
        "email": (defaults || has("email")).then_some(buyer.email),
        "postalCode": has("postalCode").then(|| buyer.postal_code.replace('-', "")),
        "countryCode": has("postalCode").then_some("JP"),
        "phoneNumber": has("phoneNumber").then_some(buyer.phone),
        "shippingAddress": has("shippingAddress").then(|| address_json(buyer)),
        "billingAddress": has("billingAddress").then(|| address_json(buyer)),
        "primeMembershipTypes": null,
    })
}

/// An address as Amazon returns it in Japan: prefecture and lines; city, county, district empty.
fn address_json(buyer: &TestBuyer) -> Value {
    json!({
        "name": buyer.name,
        "addressLine1": buyer.line1,
        "addressLine2": buyer.line2,
        "addressLine3": "",
        "city": null,
        "county": null,
        "district": null,
        "stateOrRegion": buyer.prefecture,
        "postalCode": buyer.postal_code,
        "countryCode": "JP",
        "phoneNumber": buyer.phone,
    })
}

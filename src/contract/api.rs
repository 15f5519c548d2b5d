//! The widget API (`POST /api/amazonpay2/buttons` and friends) and the `renderButton` options.

use serde::{Deserialize, Serialize};

use super::blocks::{BlockKind, BlockSpec, ButtonColor, Placement};

/// The only signature algorithm the server uses: RSASSA-PSS, SHA-256, MGF1-SHA-256, salt 32.
pub const AMAZON_SIGNATURE_ALGORITHM: &str = "AMZN-PAY-RSASSA-PSS-V2";

/// The most blocks one request may describe: more than the 45 distinct descriptions there are
/// (3 kinds, 5 placements, 3 colours), since the widget sends each description once. More is a
/// hostile client, refused before any work is done.
pub const MAX_BLOCKS_PER_REQUEST: usize = 64;

/// The widget's one request per page: the blocks it found, nothing else.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ButtonsRequest {
    /// The blocks, distinct, in document order.
    pub blocks: Vec<BlockSpec>,
}

/// The answer to [`ButtonsRequest`]: the shopper's state and what each block shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ButtonsResponse {
    /// Guest or member, as the server's session knows it.
    pub member: MemberState,
    /// The token state-changing requests (unlink) must echo in `X-AmazonPay2-CSRF`.
    pub csrf_token: String,
    /// Where Amazon's checkout.js is loaded from (the simulator's in demo mode).
    pub checkout_js: String,
    /// One view per requested block, in the same order.
    pub blocks: Vec<BlockView>,
}

/// `POST /api/amazonpay2/buttons/sign`: the signed payload of one Amazon button, asked for when
/// the shopper clicks it. The server builds the payload from its own state for this kind of
/// block; nothing else is accepted, so the endpoint signs nothing a browser chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignRequest {
    /// The block whose button was clicked (`login`, `mypage` or `checkout`).
    pub kind: BlockKind,
}

/// The answer to [`SignRequest`]: what takes the shopper to Amazon.
///
/// Amazon's decoupled button can start a checkout (its `initCheckout` takes a
/// `createCheckoutSessionConfig`) but not a sign-in: its `initCheckout` never reads a
/// `signInConfig`, and a SignIn button then throws "productType SignIn and configName do not
/// match". A sign-in goes through the global `amazon.Pay.initCheckout`, which takes the options
/// `renderButton` takes and infers nothing from them (`sandbox` and the config's `publicKeyId`
/// must be there), so the server answers every one of them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SignAnswer {
    /// Login and link: the argument of the global `amazon.Pay.initCheckout`, with `signInConfig`.
    SignIn(Box<RenderButtonOptions>),
    /// Checkout: the argument of the button's own `initCheckout`.
    Checkout(InitCheckout),
}

/// The argument of a decoupled checkout button's `initCheckout`, which hands it to Amazon exactly
/// as a config given to `renderButton` would be.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitCheckout {
    /// Always `PayAndShip`.
    pub product_type: ProductType,
    /// The signed checkout payload.
    pub create_checkout_session_config: SignedConfig,
    /// The cart total (Amazon keeps the one given at render, if any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_order_amount: Option<Price>,
}

/// `GET /api/amazonpay2/session`: the shopper's state for shop scripts, without any button.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionResponse {
    /// Guest or member.
    pub member: MemberState,
    /// The CSRF token of this session.
    pub csrf_token: String,
}

/// Who the shopper is, as far as the blocks care.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum MemberState {
    /// Not logged in.
    Guest,
    /// A logged-in member.
    Member {
        /// The member's display name.
        name: String,
        /// Whether an Amazon account is linked to the member.
        linked: bool,
    },
}

/// What one block shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "view", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum BlockView {
    /// An Amazon button; it competes under the one-button rule.
    Button {
        /// The options for `amazon.Pay.renderButton`, complete and signed (boxed: far larger
        /// than the other views).
        options: Box<RenderButtonOptions>,
    },
    /// My Page of a linked member: the linked state and the shop's own unlink button.
    Linked,
    /// Amazon Pay cannot serve this shopper here; the block says why instead of a button.
    Unavailable {
        /// Why.
        reason: UnavailableReason,
    },
    /// Nothing for this shopper (login for a member, mypage for a guest); does not compete.
    Nothing,
    /// The order confirmation's Amazon details (review block).
    Review {
        /// For `amazon.Pay.bindChangeAction`.
        amazon_checkout_session_id: String,
        /// The shipping address, line by line.
        shipping_address: Vec<String>,
        /// The payment method, e.g. `Visa ****1111`.
        payment_descriptor: String,
    },
}

/// Why a checkout block shows a message instead of a button.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum UnavailableReason {
    /// The cart is empty.
    CartEmpty,
    /// The chosen shipping method does not allow Amazon Pay (基本設定＞配送方法・配送料).
    ShippingMethodNotAllowed,
    /// A subscription above Amazon's ¥100,000 a month.
    RecurringMonthlyLimit,
}

impl UnavailableReason {
    /// Every reason.
    pub const ALL: [Self; 3] = [Self::CartEmpty, Self::ShippingMethodNotAllowed, Self::RecurringMonthlyLimit];

    /// The reason as it is written on the wire.
    pub fn code(self) -> &'static str {
        match self {
            Self::CartEmpty => "cartEmpty",
            Self::ShippingMethodNotAllowed => "shippingMethodNotAllowed",
            Self::RecurringMonthlyLimit => "recurringMonthlyLimit",
        }
    }

    /// Reads a wire code (the widget decodes answers without serde to stay small).
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|reason| reason.code() == code)
    }
}

/// What the server tells the shopper after an Amazon sign-in, through `?amazonpay2=<code>` on
/// the page it sends them to; the widget shows it in the shopper's language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    /// Logged in with the linked Amazon account.
    SignedIn,
    /// The Amazon account is now linked.
    Linked,
    /// A member with the Amazon e-mail exists: log in with the password to link.
    EmailExists,
    /// The sign-up form was filled from the Amazon account.
    SignupPrefilled,
    /// Linking needs a logged-in member.
    LoginRequired,
    /// The member already has another Amazon account linked.
    AlreadyLinked,
    /// The Amazon account is linked to another member.
    BuyerTaken,
    /// Amazon could not be reached.
    AmazonUnavailable,
    /// Amazon refused the sign-in (expired or used token).
    AmazonTokenInvalid,
    /// The return did not belong to this browser (forged, replayed or from an old page).
    ReturnRefused,
    /// The order is placed and authorized (仮売上).
    OrderPlaced,
    /// The order is placed; Amazon is still authorizing the payment.
    PaymentPending,
    /// Amazon declined the payment method; no order was made.
    PaymentDeclined,
    /// The Amazon checkout took too long (24 hours) and expired; no order was made.
    CheckoutExpired,
    /// The cart changed after the shopper chose Amazon Pay; they confirm again.
    CartChanged,
    /// The shopper cancelled on Amazon's page; nothing was ordered.
    CheckoutCanceled,
    /// The shopper cancelled the Amazon sign-in.
    SignInCanceled,
    /// An Amazon account waited to be linked and was not (another e-mail, no confirmation).
    LinkNotConfirmed,
}

impl Notice {
    /// Every notice.
    pub const ALL: [Self; 18] = [
        Self::SignedIn,
        Self::Linked,
        Self::EmailExists,
        Self::SignupPrefilled,
        Self::LoginRequired,
        Self::AlreadyLinked,
        Self::BuyerTaken,
        Self::AmazonUnavailable,
        Self::AmazonTokenInvalid,
        Self::ReturnRefused,
        Self::OrderPlaced,
        Self::PaymentPending,
        Self::PaymentDeclined,
        Self::CheckoutExpired,
        Self::CartChanged,
        Self::CheckoutCanceled,
        Self::SignInCanceled,
        Self::LinkNotConfirmed,
    ];

    /// The code in the URL.
    pub fn code(self) -> &'static str {
        match self {
            Self::SignedIn => "signed_in",
            Self::Linked => "linked",
            Self::EmailExists => "email_exists",
            Self::SignupPrefilled => "signup_prefilled",
            Self::LoginRequired => "login_required",
            Self::AlreadyLinked => "already_linked",
            Self::BuyerTaken => "buyer_taken",
            Self::AmazonUnavailable => "amazon_unavailable",
            Self::AmazonTokenInvalid => "amazon_token_invalid",
            Self::ReturnRefused => "return_refused",
            Self::OrderPlaced => "order_placed",
            Self::PaymentPending => "payment_pending",
            Self::PaymentDeclined => "payment_declined",
            Self::CheckoutExpired => "checkout_expired",
            Self::CartChanged => "cart_changed",
            Self::CheckoutCanceled => "checkout_canceled",
            Self::SignInCanceled => "signin_canceled",
            Self::LinkNotConfirmed => "link_not_confirmed",
        }
    }

    /// Reads a code.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|notice| notice.code() == code)
    }

    /// Whether it reports a refusal or failure (shown as an alert) rather than news.
    pub fn is_problem(self) -> bool {
        !matches!(
            self,
            Self::SignedIn
                | Self::Linked
                | Self::SignupPrefilled
                | Self::EmailExists
                | Self::OrderPlaced
                | Self::PaymentPending
                | Self::CheckoutCanceled
                | Self::SignInCanceled
                | Self::LinkNotConfirmed
        )
    }
}

/// Amazon's `productType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProductType {
    /// Checkout with the Amazon address book and card.
    PayAndShip,
    /// Amazon sign-in (login, and link from My Page).
    SignIn,
}

/// The options object passed to `amazon.Pay.renderButton`, named as Amazon names them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RenderButtonOptions {
    /// 出品者ID.
    pub merchant_id: String,
    /// Always `JPY`.
    pub ledger_currency: String,
    /// Always `ja_JP`: Amazon's pages follow the shop's market, not the widget's texts.
    pub checkout_language: String,
    /// アクセスモード「テスト」.
    pub sandbox: bool,
    /// Where the button sits.
    pub placement: Placement,
    /// Checkout or sign-in.
    pub product_type: ProductType,
    /// The button's colour.
    pub button_color: ButtonColor,
    /// The cart total, when the server knows the cart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_order_amount: Option<Price>,
    /// The signed checkout payload (checkout blocks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_checkout_session_config: Option<SignedConfig>,
    /// The signed sign-in payload (login and link).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_in_config: Option<SignedConfig>,
}

/// A payload and its signature: `createCheckoutSessionConfig` or `signInConfig`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedConfig {
    /// The exact string that was signed.
    #[serde(rename = "payloadJSON")]
    pub payload_json: String,
    /// Base64 RSASSA-PSS signature (see [`AMAZON_SIGNATURE_ALGORITHM`]).
    pub signature: String,
    /// The public key ID registered in Seller Central.
    pub public_key_id: String,
    /// Always [`AMAZON_SIGNATURE_ALGORITHM`].
    pub algorithm: String,
}

/// An amount of money as Amazon writes it: yen as a whole-number string.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Price {
    /// Whole yen, no decimals, e.g. `"29980"`.
    pub amount: String,
    /// Always `JPY`.
    pub currency_code: String,
}

impl Price {
    /// A yen amount.
    pub fn yen(amount: u64) -> Self {
        Self { amount: amount.to_string(), currency_code: "JPY".to_owned() }
    }
}

/// The API's error body: every refusal and failure answers this shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// The error.
    pub error: ApiErrorBody,
}

/// A machine-readable code and a sentence for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    /// `snake_case` code, stable for scripts.
    pub code: String,
    /// A human sentence.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::BlockKind;

    #[test]
    fn render_options_use_amazons_names_and_omit_what_is_absent() {
        let options = RenderButtonOptions {
            merchant_id: "A1".into(),
            ledger_currency: "JPY".into(),
            checkout_language: "ja_JP".into(),
            sandbox: true,
            placement: Placement::Cart,
            product_type: ProductType::SignIn,
            button_color: ButtonColor::Gold,
            estimated_order_amount: None,
            create_checkout_session_config: None,
            sign_in_config: Some(SignedConfig {
                payload_json: "{}".into(),
                signature: "c2ln".into(),
                public_key_id: "SANDBOX-X".into(),
                algorithm: AMAZON_SIGNATURE_ALGORITHM.into(),
            }),
        };
        assert_eq!(
            serde_json::to_string(&options).unwrap(),
            r#"{"merchantId":"A1","ledgerCurrency":"JPY","checkoutLanguage":"ja_JP","sandbox":true,"placement":"Cart","productType":"SignIn","buttonColor":"Gold","signInConfig":{"payloadJSON":"{}","signature":"c2ln","publicKeyId":"SANDBOX-X","algorithm":"AMZN-PAY-RSASSA-PSS-V2"}}"#
        );
    }

    #[test]
    fn views_and_member_states_are_tagged() {
        let response = ButtonsResponse {
            member: MemberState::Member { name: "山田".into(), linked: true },
            csrf_token: "t".into(),
            checkout_js: "https://static-fe.payments-amazon.com/checkout.js".into(),
            blocks: vec![
                BlockView::Linked,
                BlockView::Nothing,
                BlockView::Unavailable { reason: UnavailableReason::RecurringMonthlyLimit },
            ],
        };
        let json = serde_json::to_string(&response).unwrap();
        assert_eq!(
            json,
            r#"{"member":{"state":"member","name":"山田","linked":true},"csrfToken":"t","checkoutJs":"https://static-fe.payments-amazon.com/checkout.js","blocks":[{"view":"linked"},{"view":"nothing"},{"view":"unavailable","reason":"recurringMonthlyLimit"}]}"#
        );
        assert_eq!(serde_json::from_str::<ButtonsResponse>(&json).unwrap(), response);
    }

    #[test]
    fn requests_refuse_anything_but_block_descriptions() {
        let ok = r#"{"blocks":[{"kind":"checkout","placement":"Cart","buttonColor":"Gold"}]}"#;
        let request: ButtonsRequest = serde_json::from_str(ok).unwrap();
        assert_eq!(request.blocks[0].kind, BlockKind::Checkout);
        for hostile in [
            r#"{"blocks":[],"payloadJSON":"{\"signInReturnUrl\":\"https://evil.example\"}"}"#,
            r#"{"blocks":[{"kind":"login","placement":"Other","buttonColor":"Gold","returnUrl":"x"}]}"#,
            r#"{"blocks":[{"kind":"wallet","placement":"Other","buttonColor":"Gold"}]}"#,
        ] {
            assert!(serde_json::from_str::<ButtonsRequest>(hostile).is_err(), "{hostile}");
        }
    }

    #[test]
    fn unavailable_reason_codes_match_the_wire_format() {
        for reason in UnavailableReason::ALL {
            assert_eq!(serde_json::to_string(&reason).unwrap(), format!("\"{}\"", reason.code()));
            assert_eq!(UnavailableReason::from_code(reason.code()), Some(reason));
        }
        assert_eq!(UnavailableReason::from_code("other"), None);
    }

    #[test]
    fn yen_amounts_have_no_decimals() {
        assert_eq!(Price::yen(29_980), Price { amount: "29980".into(), currency_code: "JPY".into() });
    }
}

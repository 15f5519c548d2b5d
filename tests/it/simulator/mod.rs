//! The Amazon Pay simulator held to Amazon's published behaviour: API rules, checkout.js, hosted pages, Seller Central,
//! many merchants.

mod api_rules;
mod back_office;
mod checkout_change;
mod checkout_clock;
mod checkout_js_amount;
mod checkout_js_cookies;
mod checkout_js_decoupled;
mod checkout_js_init_checkout;
mod checkout_js_live;
mod checkout_js_options;
mod checkout_js_rendering;
mod checkout_money_rules;
mod checkout_one_time;
mod checkout_recurring;
mod merchants;
mod merchants_seller_central;
mod pages_account_status;
mod pages_button_checks;
mod pages_cancel;
mod pages_escaping;
mod pages_hosted;
mod pages_round_trip;
mod pages_signatures;
mod throttling;

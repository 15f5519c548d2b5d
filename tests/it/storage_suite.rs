//! One suite of behaviours over `Database`, run against the embedded SQLite always and against
//! PostgreSQL when `AMAZONPAY2_TEST_DATABASE_URL` is set: both implementations keep the same
//! promises. Each test has a database of its own; a test that opens it twice plays two server
//! instances on one database.

use time::macros::date;

use amazonpay2::core::orders::{
    Actor, AmazonIds, Authorization, Effect, OrderState, Outcome, Transition, refund_made, refund_settled, settle,
};

/// What Amazon authorized on the tests' charges: ¥3,630, on a charge it made now.
fn authorized_now() -> Authorization {
    Authorization { amount: 3_630, at: time::OffsetDateTime::now_utc().unix_timestamp() }
}
use crate::common::databases::Target;
use amazonpay2::core::platform::{
    LinkRefusal, NewOrder, Opened, OrderLine, Plan, Refund, RefundState, ShippingMethod, SubscriptionCycle,
};
use amazonpay2::storage::{
    AdminSession, BulkItem, BulkOrder, Claimed, Database, IPN_TOPICS_KEPT, ItemOutcome, LoginAttempts, NewMember,
    NotificationClaim, OrderEdit, OrderFilter, Product, Purged, SeenTopic, SessionChange, SessionRecord, WaitingBuyer,
};

/// Each behaviour, once per database.
macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Target::sqlite(stringify!($name))).await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(target) = super::Target::postgres(stringify!($name)).await else {
                        eprintln!("not run on PostgreSQL: {} is not set", crate::common::databases::TEST_DATABASE_URL);
                        return;
                    };
                    super::$name(target).await;
                }
            )*
        }
    };
}

suite!(
    emails_are_unique_regardless_of_case,
    one_buyer_links_to_at_most_one_member_and_back,
    two_instances_linking_one_buyer_at_once_link_it_once,
    one_checkout_session_opens_one_order,
    two_instances_opening_the_same_checkout_at_once_make_one_order,
    a_transition_applies_once_with_its_effects_and_a_stale_one_changes_nothing,
    two_instances_applying_the_same_move_at_once_apply_it_once,
    a_recurring_checkout_starts_its_subscription_and_its_cycles_move_it_on,
    refunds_count_until_declined,
    a_review_reference_binds_one_checkout_and_a_new_click_replaces_it,
    a_changed_cart_forgets_its_checkout,
    a_session_changes_one_thing_at_a_time_and_idle_ones_are_purged,
    a_secret_is_made_once_and_shared_by_every_instance,
    the_idempotency_secret_is_made_once_per_database_and_no_other_installation_has_it,
    the_catalogue_is_seeded_once_even_by_instances_starting_together,
    instances_starting_together_migrate_once,
    an_order_is_locked_by_one_owner_at_a_time_and_only_at_the_version_seen,
    the_order_list_and_page_show_placed_orders_and_an_edit_needs_the_version_seen,
    a_notification_is_claimed_by_one_instance_and_recorded_only_once_handled,
    a_claim_left_by_a_stopped_instance_lapses_and_old_notifications_are_forgotten,
    the_ipn_topics_seen_are_recorded_for_the_owner_and_bounded,
    owner_accounts_and_sessions,
    parallel_login_attempts_on_two_instances_are_counted_one_by_one_up_to_the_limit,
    a_login_window_ends_and_an_unchecked_attempt_is_taken_back,
    a_bulk_operation_records_each_order,
    a_bulk_job_is_run_by_one_instance_seen_by_all_and_resumed_by_another_when_its_instance_stops,
    an_instance_that_lost_its_bulk_job_records_no_outcome_over_the_new_claimants,
    a_refund_amazon_made_applies_from_whatever_state_another_instance_moved_the_order_to,
    two_refund_settlements_at_once_leave_the_order_as_its_refunds_stand_in_either_order,
    a_refund_request_count_moves_on_with_amazons_answers_and_never_back,
    a_history_line_keeps_the_state_the_order_stands_in,
    an_order_keeps_its_guests_email_and_a_subscription_its_plan,
    an_unknown_state_is_refused_by_the_database_itself,
);

fn bulk_order(order: &amazonpay2::core::platform::Order) -> BulkOrder {
    BulkOrder { order: order.id, number: order.number.clone() }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn member(email: &str) -> NewMember {
    NewMember { email: email.into(), family_name: "山田".into(), given_name: "太郎".into(), ..NewMember::default() }
}

/// A database with the demo's kind of catalogue.
async fn shop(target: &Target) -> Database {
    let db = target.open().await;
    db.seed_catalogue(
        &[
            Product { id: 1, name: "マグカップ".into(), price: 2_750, recurring: false },
            Product { id: 4, name: "定期便".into(), price: 8_800, recurring: true },
        ],
        &[
            ShippingMethod { id: 1, name: "宅配便".into(), fee: 880, amazon_pay_allowed: true },
            ShippingMethod { id: 3, name: "店頭受け取り".into(), fee: 0, amazon_pay_allowed: false },
        ],
    )
    .await
    .unwrap();
    db
}

fn new_order(session: &str, total: u64) -> NewOrder {
    NewOrder {
        member: None,
        checkout_session_id: Some(session.into()),
        cart: None,
        buyer_name: "Amazon 花子".into(),
        buyer_email: "hanako@example.jp".into(),
        cycle: None,
        lines: vec![OrderLine { name: "マグカップ".into(), unit_price: 2_750, quantity: 1 }],
        shipping_fee: 880,
        total,
        recurring: false,
        plan: None,
    }
}

/// An order opened, claimed and authorized.
async fn authorized(db: &Database, session: &str) -> amazonpay2::core::platform::Order {
    let Opened::New(order) = db.open_order(&new_order(session, 3_630)).await.unwrap() else { panic!("new") };
    let claimed = db
        .apply(&Transition::new(&order, OrderState::Completing, Actor::Shopper, "claim").unwrap())
        .await
        .unwrap()
        .unwrap();
    let ids = AmazonIds { charge_permission_id: Some(format!("P-{session}")), charge_id: Some(format!("C-{session}")) };
    db.apply(
        &settle(&claimed, Outcome::Authorized(authorized_now()), ids, date!(2026 - 12 - 30), Actor::Shopper).unwrap(),
    )
    .await
    .unwrap()
    .unwrap()
}

async fn emails_are_unique_regardless_of_case(target: Target) {
    let db = target.open().await;
    let id = db.create_member(&member("taro@example.jp"), "h").await.unwrap().unwrap();
    assert_eq!(db.create_member(&member("TARO@example.jp"), "h").await.unwrap(), None);
    let found = db.member_by_email("Taro@Example.jp").await.unwrap().unwrap();
    assert_eq!((found.id, found.name.as_str(), found.buyer_id), (id, "山田 太郎", None));
    assert_eq!(db.password_hash(id).await.unwrap().as_deref(), Some("h"));
    assert_eq!(db.member(id).await.unwrap().unwrap().email, "taro@example.jp");
}

async fn one_buyer_links_to_at_most_one_member_and_back(target: Target) {
    let db = target.open().await;
    let a = db.create_member(&member("a@example.jp"), "h").await.unwrap().unwrap();
    let b = db.create_member(&member("b@example.jp"), "h").await.unwrap().unwrap();
    assert_eq!(db.link(a, "amzn1.account.X").await.unwrap(), Ok(()));
    assert_eq!(db.link(b, "amzn1.account.X").await.unwrap(), Err(LinkRefusal::BuyerTaken));
    assert_eq!(db.link(a, "amzn1.account.Y").await.unwrap(), Err(LinkRefusal::MemberLinked));
    assert_eq!(db.member_by_buyer("amzn1.account.X").await.unwrap().unwrap().id, a);
    assert!(db.unlink(a).await.unwrap());
    assert!(!db.unlink(a).await.unwrap());
    assert_eq!(db.link(b, "amzn1.account.X").await.unwrap(), Ok(()));
}

async fn two_instances_linking_one_buyer_at_once_link_it_once(target: Target) {
    let (one, two) = (target.open().await, target.open().await);
    for round in 0..10 {
        let a = one.create_member(&member(&format!("a{round}@example.jp")), "h").await.unwrap().unwrap();
        let b = one.create_member(&member(&format!("b{round}@example.jp")), "h").await.unwrap().unwrap();
        let buyer = format!("amzn1.account.{round}");
        let (first, second) = tokio::join!(one.link(a, &buyer), two.link(b, &buyer));
        let outcomes = [first.unwrap(), second.unwrap()];
        assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "{outcomes:?}");
        assert!(outcomes.contains(&Err(LinkRefusal::BuyerTaken)), "{outcomes:?}");
    }
}

async fn one_checkout_session_opens_one_order(target: Target) {
    let db = shop(&target).await;
    let Opened::New(first) = db.open_order(&new_order("cs-1", 3_630)).await.unwrap() else { panic!("new") };
    assert_eq!((first.number.as_str(), first.state), ("10001", OrderState::Processing));
    let again = db.open_order(&new_order("cs-1", 3_630)).await.unwrap();
    assert_eq!(again, Opened::Existing(first.clone()));
    assert_eq!(db.order_by_checkout_session("cs-1").await.unwrap(), Some(first.clone()));
    assert_eq!(db.order(first.id).await.unwrap(), Some(first));
}

async fn two_instances_opening_the_same_checkout_at_once_make_one_order(target: Target) {
    let (one, two) = (shop(&target).await, target.open().await);
    for round in 0..20 {
        let session = format!("cs-race-{round}");
        let new = new_order(&session, 3_630);
        let (a, b) = tokio::join!(one.open_order(&new), two.open_order(&new));
        let (a, b) = (a.unwrap(), b.unwrap());
        let ids = [&a, &b].map(|opened| match opened {
            Opened::New(order) | Opened::Existing(order) => order.id,
        });
        assert_eq!(ids[0], ids[1], "one order for one checkout session");
        assert_eq!([&a, &b].iter().filter(|o| matches!(o, Opened::New(_))).count(), 1, "{a:?} {b:?}");
    }
    assert_eq!(target.count("SELECT count(*) FROM orders").await, 20);
    assert_eq!(target.count("SELECT count(*) FROM order_events").await, 20, "one opening each");
}

async fn a_transition_applies_once_with_its_effects_and_a_stale_one_changes_nothing(target: Target) {
    let db = shop(&target).await;
    let cart = db.create_cart().await.unwrap();
    assert!(db.set_cart_item(&cart, 1, 1).await.unwrap());
    let new = NewOrder { cart: Some(cart.clone()), ..new_order("cs-2", 3_630) };
    let Opened::New(order) = db.open_order(&new).await.unwrap() else { panic!("new") };
    let claim = Transition::new(&order, OrderState::Completing, Actor::Shopper, "claim").unwrap();
    let claimed = db.apply(&claim).await.unwrap().expect("claimed");
    assert_eq!(claimed.version, order.version + 1);
    assert_eq!(db.apply(&claim).await.unwrap(), None, "a second claim finds the order taken");
    let done = settle(
        &claimed,
        Outcome::Authorized(authorized_now()),
        AmazonIds { charge_permission_id: Some("S03-P".into()), charge_id: Some("S03-P-C1".into()) },
        date!(2026 - 12 - 30),
        Actor::Shopper,
    )
    .unwrap()
    .with_authorized(Authorization { amount: 3_630, at: 1_795_860_854 });
    let authorized = db.apply(&done).await.unwrap().unwrap();
    assert_eq!(authorized.state, OrderState::Authorized);
    assert_eq!(authorized.charge_id.as_deref(), Some("S03-P-C1"));
    assert_eq!(
        authorized.authorized,
        Some(Authorization { amount: 3_630, at: 1_795_860_854 }),
        "what Amazon authorized, when it made the charge"
    );
    // Back to 仮売上 without a charge read from Amazon (a capture that did not happen): the same
    // window, not a new one.
    let capturing = db
        .apply(&Transition::new(&authorized, OrderState::Capturing, Actor::Owner("o".into()), "capture").unwrap())
        .await
        .unwrap()
        .unwrap();
    let back = db
        .apply(&Transition::new(&capturing, OrderState::Authorized, Actor::Owner("o".into()), "not captured").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back.authorized, Some(Authorization { amount: 3_630, at: 1_795_860_854 }));
    assert!(db.cart(&cart).await.unwrap().unwrap().is_empty(), "the cart is emptied with the order");
    assert_eq!(db.order_by_charge("S03-P-C1").await.unwrap().unwrap().id, order.id);
    assert_eq!(db.orders_by_charge_permission("S03-P").await.unwrap().len(), 1);
    let events = target.count(&format!("SELECT count(*) FROM order_events WHERE order_id = {}", order.id.0)).await;
    assert_eq!(events, 5, "opened, claimed, authorized, capturing, authorized again");
    let listed = db.orders_in(&[OrderState::Authorized], i64::MAX, 10).await.unwrap();
    assert_eq!(listed.iter().map(|o| o.id).collect::<Vec<_>>(), [order.id]);
    assert!(db.orders_in(&[OrderState::Processing], i64::MAX, 10).await.unwrap().is_empty());
}

async fn two_instances_applying_the_same_move_at_once_apply_it_once(target: Target) {
    let (one, two) = (shop(&target).await, target.open().await);
    for round in 0..20 {
        let Opened::New(order) = one.open_order(&new_order(&format!("cs-move-{round}"), 3_630)).await.unwrap() else {
            panic!("new")
        };
        let claim = Transition::new(&order, OrderState::Completing, Actor::Shopper, "claim").unwrap();
        let (a, b) = tokio::join!(one.apply(&claim), two.apply(&claim));
        let won = [a.unwrap(), b.unwrap()].into_iter().flatten().count();
        assert_eq!(won, 1, "exactly one instance claims the order");
    }
    assert_eq!(target.count("SELECT count(*) FROM order_events WHERE to_state = 'completing'").await, 20);
}

async fn a_recurring_checkout_starts_its_subscription_and_its_cycles_move_it_on(target: Target) {
    let db = shop(&target).await;
    let buyer = db.create_member(&member("sub@example.jp"), "h").await.unwrap().unwrap();
    let mut new = new_order("cs-3", 9_680);
    new.recurring = true;
    new.member = Some(buyer);
    let Opened::New(order) = db.open_order(&new).await.unwrap() else { panic!("new") };
    let claimed = db
        .apply(&Transition::new(&order, OrderState::Completing, Actor::Shopper, "claim").unwrap())
        .await
        .unwrap()
        .unwrap();
    let first = date!(2026 - 12 - 30);
    let done = settle(
        &claimed,
        Outcome::Authorized(authorized_now()),
        AmazonIds { charge_permission_id: Some("S03-R".into()), charge_id: Some("S03-R-C1".into()) },
        first,
        Actor::Shopper,
    )
    .unwrap();
    db.apply(&done).await.unwrap().unwrap();
    let due = db.due_subscriptions(first).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].amount, due[0].next_cycle, due[0].member), (9_680, first, Some(buyer)));
    assert!(db.due_subscriptions(date!(2026 - 12 - 29)).await.unwrap().is_empty());
    let mine = db.subscriptions_of_member(buyer).await.unwrap();
    assert_eq!((mine.len(), mine[0].next_cycle.as_str()), (1, "2026-12-30"));
    let cycle = NewOrder {
        checkout_session_id: None,
        cycle: Some(SubscriptionCycle { subscription: due[0].id, day: first }),
        ..new.clone()
    };
    let Opened::New(cycle_order) = db.open_order(&cycle).await.unwrap() else { panic!("new") };
    assert_eq!(db.open_order(&cycle).await.unwrap(), Opened::Existing(cycle_order.clone()), "one order per cycle");
    let claimed = db
        .apply(&Transition::new(&cycle_order, OrderState::Completing, Actor::Job, "claim").unwrap())
        .await
        .unwrap()
        .unwrap();
    let next = date!(2027 - 01 - 30);
    db.apply(
        &settle(
            &claimed,
            Outcome::Authorized(authorized_now()),
            AmazonIds { charge_permission_id: None, charge_id: Some("S03-R-C2".into()) },
            next,
            Actor::Job,
        )
        .unwrap(),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(db.due_subscriptions(first).await.unwrap().is_empty());
    assert_eq!(db.due_subscriptions(next).await.unwrap()[0].next_cycle, next);
    assert_eq!(db.charged_in_month(due[0].id, 2026, 12).await.unwrap(), 9_680);
    assert_eq!(db.charged_in_month(due[0].id, 2027, 1).await.unwrap(), 0);
    assert!(db.reschedule_subscription(due[0].id, date!(2027 - 02 - 01)).await.unwrap());
    assert_eq!(db.due_subscriptions(date!(2027 - 02 - 01)).await.unwrap()[0].next_cycle, date!(2027 - 02 - 01));
    let summaries = db.orders_of_member(buyer).await.unwrap();
    assert_eq!(summaries.len(), 2, "both placed orders, newest first");
    assert_eq!(summaries[0].lines[0].name, "マグカップ");

    // The owner finds it from an order's charge permission.
    let permission = due[0].charge_permission_id.clone();
    let found = db.subscription_by_permission(&permission).await.unwrap().expect("the checkout started it");
    assert_eq!((found.id, found.member, found.amount, found.active), (due[0].id, Some(buyer), 9_680, true));
    assert_eq!(db.subscription_by_permission("S99-none").await.unwrap(), None);

    // Its charge permission closed: the subscription ends, once.
    assert!(db.end_subscription(&permission).await.unwrap());
    assert!(!db.end_subscription(&permission).await.unwrap(), "already ended");
    assert!(!db.subscription_by_permission(&permission).await.unwrap().unwrap().active);
    assert!(db.due_subscriptions(date!(2027 - 12 - 31)).await.unwrap().is_empty());
}

async fn refunds_count_until_declined(target: Target) {
    let db = shop(&target).await;
    let order = authorized(&db, "cs-refund").await;
    let captured = db
        .apply(&Transition::new(&order, OrderState::Captured, Actor::Job, "captured").unwrap().with_captured(3_630))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(captured.captured, 3_630);
    let refund = Refund { refund_id: "R-1".into(), amount: 1_000, state: RefundState::Initiated, created_at: 1 };
    let refunded = db
        .apply(
            &Transition::new(&captured, OrderState::Refunded, Actor::Job, "refund")
                .unwrap()
                .with(Effect::Refund(refund)),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(refunded.refunded, 1_000);
    assert_eq!(db.order_by_refund("R-1").await.unwrap().unwrap().id, order.id);
    let declined = Effect::RefundSettled { refund_id: "R-1".into(), state: RefundState::Declined, amount: 1_000 };
    let back = db
        .apply(
            &Transition::new(&refunded, OrderState::Captured, Actor::Notification, "declined").unwrap().with(declined),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back.refunded, 0, "a declined refund gave nothing back");
    assert_eq!(db.refunds(order.id).await.unwrap()[0].state, RefundState::Declined);
}

async fn a_review_reference_binds_one_checkout_and_a_new_click_replaces_it(target: Target) {
    let db = shop(&target).await;
    assert!(db.amazon_pay_enabled().await.unwrap());
    let cart = db.create_cart().await.unwrap();
    db.begin_checkout(&cart, "ref-1").await.unwrap();
    assert!(!db.bind_checkout(&cart, "ref-0", "cs").await.unwrap(), "another click's reference binds nothing");
    assert!(db.bind_checkout(&cart, "ref-1", "cs").await.unwrap());
    assert_eq!(db.cart(&cart).await.unwrap().unwrap().checkout.checkout_session_id.as_deref(), Some("cs"));
    db.begin_checkout(&cart, "ref-2").await.unwrap();
    let checkout = db.cart(&cart).await.unwrap().unwrap().checkout;
    assert_eq!((checkout.review_ref.as_deref(), checkout.checkout_session_id), (Some("ref-2"), None));
    db.forget_checkout(&cart).await.unwrap();
    assert_eq!(db.cart(&cart).await.unwrap().unwrap().checkout, Default::default());
}

async fn a_changed_cart_forgets_its_checkout(target: Target) {
    let db = shop(&target).await;
    let cart = db.create_cart().await.unwrap();
    assert_eq!(db.cart(&cart).await.unwrap().unwrap().shipping.id, 1, "the first shipping method");
    db.begin_checkout(&cart, "ref").await.unwrap();
    assert!(db.set_cart_item(&cart, 4, 2).await.unwrap());
    assert!(!db.set_cart_item(&cart, 99, 1).await.unwrap(), "no such product");
    let read = db.cart(&cart).await.unwrap().unwrap();
    assert_eq!((read.lines.len(), read.lines[0].quantity, read.lines[0].recurring), (1, 2, true));
    assert_eq!(read.checkout, Default::default());
    assert!(db.set_cart_shipping(&cart, 3).await.unwrap());
    assert!(!db.set_cart_shipping(&cart, 42).await.unwrap());
    let read = db.cart(&cart).await.unwrap().unwrap();
    assert!(!read.shipping.amazon_pay_allowed);
    assert_eq!(read.total(), 17_600);
    assert!(db.set_cart_item(&cart, 4, 0).await.unwrap());
    assert!(db.cart(&cart).await.unwrap().unwrap().is_empty());
    assert_eq!(db.products().await.unwrap().len(), 2);
    assert_eq!(db.shipping_methods().await.unwrap().len(), 2);
}

fn record(id: &str, last_seen: i64) -> SessionRecord {
    SessionRecord { id: id.into(), member: None, cart: None, pending_buyer: None, return_to: None, last_seen }
}

async fn a_session_changes_one_thing_at_a_time_and_idle_ones_are_purged(target: Target) {
    let (db, other) = (shop(&target).await, target.open().await);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let held = db.create_cart().await.unwrap();
    let _abandoned = db.create_cart().await.unwrap();
    db.insert_session(&SessionRecord { cart: Some(held.clone()), ..record("live", now) }).await.unwrap();
    db.insert_session(&record("idle", 10)).await.unwrap();
    // Another instance sees and changes the same session.
    assert!(other.update_session("live", &SessionChange::ReturnTo("/cart".into())).await.unwrap());
    assert!(
        other
            .update_session("live", &SessionChange::PendingBuyer(Some(WaitingBuyer { json: "{}".into(), until: 99 })))
            .await
            .unwrap()
    );
    let stored = db.session("live").await.unwrap().unwrap();
    assert_eq!(stored.return_to.as_deref(), Some("/cart"));
    assert_eq!(stored.pending_buyer, Some(WaitingBuyer { json: "{}".into(), until: 99 }));
    assert_eq!(stored.cart, Some(held.clone()));
    assert!(!db.update_session("gone", &SessionChange::Seen(1)).await.unwrap());
    let Purged { sessions, carts } = db.purge(100, now + 1).await.unwrap();
    assert_eq!((sessions, carts), (1, 1));
    assert!(db.session("live").await.unwrap().is_some());
    assert!(db.cart(&held).await.unwrap().is_some());
    db.delete_session("live").await.unwrap();
    assert_eq!(other.session("live").await.unwrap(), None);
}

async fn a_secret_is_made_once_and_shared_by_every_instance(target: Target) {
    let (one, two) = (target.open().await, target.open().await);
    let (a, b) = tokio::join!(one.secret("cookie"), two.secret("cookie"));
    let first = a.unwrap();
    assert_eq!(first.len(), 32);
    assert_eq!(b.unwrap(), first);
    assert_eq!(one.secret("cookie").await.unwrap(), first);
    assert_ne!(one.secret("other").await.unwrap(), first);
}

async fn the_idempotency_secret_is_made_once_per_database_and_no_other_installation_has_it(target: Target) {
    let (one, two) = (target.open().await, target.open().await);
    let (a, b) = tokio::join!(one.idempotency_secret(), two.idempotency_secret());
    let secret = a.unwrap();
    assert!(secret.len() >= 32 && secret.iter().any(|byte| *byte != 0), "{secret:?}");
    assert_eq!(b.unwrap(), secret, "every instance on the database keys alike");
    assert_eq!(one.idempotency_secret().await.unwrap(), secret);
    let kept = one.secret(amazonpay2::storage::IDEMPOTENCY_SECRET).await.unwrap();
    assert_eq!(kept, secret, "kept with the orders: a restored database brings it back");
    let other = match &target {
        Target::Sqlite(_) => Target::sqlite("another_installation"),
        Target::Postgres { base, .. } => Target::postgres_at(base, "another_installation").await,
    };
    assert_ne!(other.open().await.idempotency_secret().await.unwrap(), secret, "another installation has its own");
}

async fn the_catalogue_is_seeded_once_even_by_instances_starting_together(target: Target) {
    let (one, two) = (target.open().await, target.open().await);
    let (products, shipping) = amazonpay2::demo::catalogue();
    let (a, b) = tokio::join!(one.seed_catalogue(&products, &shipping), two.seed_catalogue(&products, &shipping));
    a.unwrap();
    b.unwrap();
    assert_eq!(one.products().await.unwrap(), products);
    assert_eq!(two.shipping_methods().await.unwrap(), shipping);
}

async fn instances_starting_together_migrate_once(target: Target) {
    let opened = futures_util::future::join_all((0..4).map(|_| target.open())).await;
    assert_eq!(opened.len(), 4);
    let newest = amazonpay2::storage::SCHEMA_VERSION;
    assert_eq!(target.count("SELECT count(*) FROM _sqlx_migrations").await, newest, "each migration once");
    assert_eq!(target.count("SELECT count(*) FROM payment_methods").await, 1, "the migration's rows once");
}

async fn an_order_is_locked_by_one_owner_at_a_time_and_only_at_the_version_seen(target: Target) {
    let (one, two) = (shop(&target).await, target.open().await);
    let order = authorized(&one, "cs-lock").await;
    let until = time::OffsetDateTime::now_utc().unix_timestamp() + 60;
    assert_eq!(one.lock_order(order.id, order.version - 1, "stale", until).await.unwrap(), None);
    let (a, b) = tokio::join!(
        one.lock_order(order.id, order.version, "alice", until),
        two.lock_order(order.id, order.version, "bob", until)
    );
    assert_eq!([a.unwrap(), b.unwrap()].into_iter().flatten().count(), 1, "one owner holds it");
    let edit = OrderEdit { lines: vec![], shipping_fee: 0, discount: 0, fulfilment: "new".into() };
    assert_eq!(one.edit_order(order.id, order.version, &edit).await.unwrap(), None, "held: no edit");
    one.unlock_order(order.id, "alice").await.unwrap();
    one.unlock_order(order.id, "bob").await.unwrap();
    assert!(two.lock_order(order.id, order.version, "carol", until).await.unwrap().is_some());
    let released = Transition::new(&order, OrderState::Capturing, Actor::Owner("carol".into()), "capture")
        .unwrap()
        .with(Effect::Unlock("carol".into()));
    two.apply(&released).await.unwrap().unwrap();
    assert!(one.lock_order(order.id, order.version + 1, "dave", until).await.unwrap().is_some(), "let go");
}

async fn the_order_list_and_page_show_placed_orders_and_an_edit_needs_the_version_seen(target: Target) {
    let db = shop(&target).await;
    let first = authorized(&db, "cs-list-1").await;
    let second = authorized(&db, "cs-list-2").await;
    db.open_order(&new_order("cs-list-3", 100)).await.unwrap(); // still processing: not listed
    let page = db.list_orders(&OrderFilter { per_page: 1, ..OrderFilter::default() }).await.unwrap();
    assert_eq!((page.total, page.rows.len(), page.rows[0].id), (2, 1, second.id), "newest first");
    assert_eq!(page.rows[0].name, "Amazon 花子");
    let next = db.list_orders(&OrderFilter { per_page: 1, page: 1, ..OrderFilter::default() }).await.unwrap();
    assert_eq!(next.rows[0].id, first.id);
    let lapsing = OrderFilter { lapsing_before: Some(0), per_page: 10, ..OrderFilter::default() };
    assert_eq!(db.list_orders(&lapsing).await.unwrap().total, 0, "nothing authorized 30 days before 1970");
    let captured = OrderFilter { states: vec![OrderState::Captured], per_page: 10, ..OrderFilter::default() };
    assert_eq!(db.list_orders(&captured).await.unwrap().total, 0);
    let edit = OrderEdit {
        lines: vec![OrderLine { name: "マグカップ".into(), unit_price: 2_750, quantity: 2 }],
        shipping_fee: 880,
        discount: 500,
        fulfilment: "shipped".into(),
    };
    let edited = db.edit_order(first.id, first.version, &edit).await.unwrap().unwrap();
    assert_eq!((edited.total, edited.version), (5_880, first.version + 1));
    assert_eq!(db.edit_order(first.id, first.version, &edit).await.unwrap(), None, "a stale version changes nothing");
    let detail = db.order_detail(first.id).await.unwrap().unwrap();
    assert_eq!((detail.lines, detail.discount, detail.fulfilment.as_str()), (edit.lines, 500, "shipped"));
    assert_eq!(detail.events.len(), 3);
    assert_eq!(detail.events[0].from, None);
    assert!(db.order_detail(amazonpay2::core::platform::OrderId(999_999)).await.unwrap().is_none());
    assert!(db.set_shipping_amazon_pay(3, true).await.unwrap());
    assert!(!db.set_shipping_amazon_pay(42, true).await.unwrap());
}

fn claim(id: &str, token: &str, at: i64) -> NotificationClaim {
    NotificationClaim {
        id: id.into(),
        object_type: "CHARGE".into(),
        object_id: "C".into(),
        token: token.into(),
        at,
        until: at + 120,
    }
}

async fn a_notification_is_claimed_by_one_instance_and_recorded_only_once_handled(target: Target) {
    let (one, two) = (target.open().await, target.open().await);
    let at = now();
    for round in 0..10 {
        let id = format!("n-{round}");
        let (first, second) = (claim(&id, "a", at), claim(&id, "b", at));
        let (a, b) = tokio::join!(one.claim_notification(&first), two.claim_notification(&second));
        let mut outcomes = [a.unwrap(), b.unwrap()];
        outcomes.sort_by_key(|c| format!("{c:?}"));
        assert_eq!(outcomes, [Claimed::Busy, Claimed::Mine], "one instance handles it, the other waits");
    }
    // Claimed but not handled yet: a repeat is not taken for handled.
    assert_eq!(two.claim_notification(&claim("n-0", "c", at)).await.unwrap(), Claimed::Busy);
    // Given up (its handling failed): Amazon's retry is handled.
    assert_eq!(one.claim_notification(&claim("n-x", "x", at)).await.unwrap(), Claimed::Mine);
    one.release_notification("n-x", "someone else's").await.unwrap();
    assert_eq!(two.claim_notification(&claim("n-x", "y", at)).await.unwrap(), Claimed::Busy, "only its own claim");
    one.release_notification("n-x", "x").await.unwrap();
    assert_eq!(two.claim_notification(&claim("n-x", "y", at)).await.unwrap(), Claimed::Mine);
    // Recorded handled only by its claimant, and then a repeat is a repeat.
    two.finish_notification("n-x", "x", at).await.unwrap();
    assert_eq!(one.claim_notification(&claim("n-x", "z", at)).await.unwrap(), Claimed::Busy);
    two.finish_notification("n-x", "y", at).await.unwrap();
    assert_eq!(one.claim_notification(&claim("n-x", "z", at)).await.unwrap(), Claimed::Handled);
    one.release_notification("n-x", "y").await.unwrap();
    assert_eq!(
        one.claim_notification(&claim("n-x", "z", at)).await.unwrap(),
        Claimed::Handled,
        "handled stays handled"
    );
}

async fn a_claim_left_by_a_stopped_instance_lapses_and_old_notifications_are_forgotten(target: Target) {
    let (one, two) = (target.open().await, target.open().await);
    let at = now();
    assert_eq!(one.claim_notification(&claim("n-1", "stopped", at)).await.unwrap(), Claimed::Mine);
    assert_eq!(two.claim_notification(&claim("n-1", "later", at + 119)).await.unwrap(), Claimed::Busy);
    assert_eq!(two.claim_notification(&claim("n-1", "later", at + 121)).await.unwrap(), Claimed::Mine, "lapsed");
    one.finish_notification("n-1", "stopped", at + 122).await.unwrap();
    assert_eq!(one.claim_notification(&claim("n-1", "again", at + 200)).await.unwrap(), Claimed::Busy, "still later's");
    two.finish_notification("n-1", "later", at + 122).await.unwrap();
    assert_eq!(one.claim_notification(&claim("n-2", "old", at - 100)).await.unwrap(), Claimed::Mine);
    one.finish_notification("n-2", "old", at - 90).await.unwrap();
    assert_eq!(one.purge_notifications(at).await.unwrap(), 1, "the one handled before the cut-off");
    assert_eq!(two.claim_notification(&claim("n-1", "r", at + 400)).await.unwrap(), Claimed::Handled);
    assert_eq!(two.claim_notification(&claim("n-2", "r", at + 400)).await.unwrap(), Claimed::Mine, "forgotten");
}

async fn the_ipn_topics_seen_are_recorded_for_the_owner_and_bounded(target: Target) {
    let (one, two) = (target.open().await, target.open().await);
    assert!(one.ipn_topics("M:live").await.unwrap().is_empty());
    let (a, b) =
        tokio::join!(one.see_ipn_topic("M:live", "arn:a", 10, false), two.see_ipn_topic("M:live", "arn:a", 11, false));
    assert_eq!([a.unwrap(), b.unwrap()].iter().filter(|new| **new).count(), 1, "new to one instance only");
    assert!(two.see_ipn_topic("M:live", "arn:b", 20, true).await.unwrap());
    assert!(!one.see_ipn_topic("M:live", "arn:a", 30, true).await.unwrap());
    assert!(!one.see_ipn_topic("M:live", "arn:a", 25, false).await.unwrap(), "late news changes nothing");
    let seen = two.ipn_topics("M:live").await.unwrap();
    let expect = |topic: &str, first, last, confirmed| SeenTopic {
        topic_arn: topic.into(),
        first_seen: first,
        last_seen: last,
        last_confirmed: confirmed,
    };
    assert_eq!(seen, [expect("arn:a", 10, 30, Some(30)), expect("arn:b", 20, 20, Some(20))], "latest first");
    assert!(one.ipn_topics("M:sandbox").await.unwrap().is_empty(), "each environment its own");
    // Anyone can make topics: the ones seen last are kept, Amazon's among them while it notifies.
    for n in 0..IPN_TOPICS_KEPT {
        one.see_ipn_topic("M:live", &format!("arn:other-{n}"), 100 + i64::try_from(n).unwrap(), false).await.unwrap();
    }
    one.see_ipn_topic("M:live", "arn:a", 1_000, true).await.unwrap();
    one.see_ipn_topic("M:live", "arn:newest", 1_001, false).await.unwrap();
    let kept = one.ipn_topics("M:live").await.unwrap();
    assert_eq!(kept.len(), IPN_TOPICS_KEPT);
    assert_eq!((kept[0].topic_arn.as_str(), kept[1].topic_arn.as_str()), ("arn:newest", "arn:a"));
    assert!(!kept.iter().any(|t| t.topic_arn == "arn:b" || t.topic_arn == "arn:other-0"), "the oldest went");
}

async fn owner_accounts_and_sessions(target: Target) {
    let db = target.open().await;
    assert!(db.put_admin("owner", "h1").await.unwrap());
    db.insert_admin_session("s1", "owner").await.unwrap();
    db.touch_admin_session("s1", 42).await.unwrap();
    assert_eq!(db.admin_session("s1").await.unwrap(), Some(AdminSession { name: "owner".into(), last_seen: 42 }));
    assert!(!db.put_admin("owner", "h2").await.unwrap(), "an existing account");
    assert_eq!(db.admin_password_hash("owner").await.unwrap().as_deref(), Some("h2"));
    assert_eq!(db.admin_session("s1").await.unwrap(), None, "a new password ends the sessions");
    db.insert_admin_session("s2", "owner").await.unwrap();
    db.delete_admin_session("s2").await.unwrap();
    assert_eq!(db.admin_session("s2").await.unwrap(), None);
}

async fn parallel_login_attempts_on_two_instances_are_counted_one_by_one_up_to_the_limit(target: Target) {
    let (one, two) = (target.open().await, target.open().await);
    let at = now();
    let attempts = (0..24).map(|n| {
        let db = if n % 2 == 0 { one.clone() } else { two.clone() };
        async move { db.count_login_attempt("admin:owner", at, 900, 5).await.unwrap() }
    });
    let counted = futures_util::future::join_all(attempts).await;
    assert_eq!(counted.iter().filter(|c| c.is_some()).count(), 5, "{counted:?}");
    assert!(counted.iter().flatten().all(|since| *since == at));
    assert_eq!(one.login_attempts("admin:owner").await.unwrap(), LoginAttempts { count: 5, since: at });
    assert_eq!(
        two.login_attempts("member:taro@example.jp").await.unwrap(),
        LoginAttempts { count: 0, since: 0 },
        "counted per subject"
    );
    one.clear_login_attempts("admin:owner").await.unwrap();
    assert_eq!(two.count_login_attempt("admin:owner", at, 900, 5).await.unwrap(), Some(at));
}

async fn a_login_window_ends_and_an_unchecked_attempt_is_taken_back(target: Target) {
    let db = target.open().await;
    let at = now() - 1_000;
    for _ in 0..5 {
        assert_eq!(db.count_login_attempt("member:a@example.jp", at, 900, 5).await.unwrap(), Some(at));
    }
    assert_eq!(db.count_login_attempt("member:a@example.jp", at + 899, 900, 5).await.unwrap(), None, "locked");
    db.uncount_login_attempt("member:a@example.jp", at).await.unwrap();
    assert_eq!(db.login_attempts("member:a@example.jp").await.unwrap(), LoginAttempts { count: 4, since: at });
    assert_eq!(db.count_login_attempt("member:a@example.jp", at + 899, 900, 5).await.unwrap(), Some(at));
    db.uncount_login_attempt("member:a@example.jp", at - 1).await.unwrap();
    assert_eq!(db.login_attempts("member:a@example.jp").await.unwrap().count, 5, "only this window's");
    // The window over: a new one starts with this attempt.
    assert_eq!(db.count_login_attempt("member:a@example.jp", at + 900, 900, 5).await.unwrap(), Some(at + 900));
    assert_eq!(db.login_attempts("member:a@example.jp").await.unwrap(), LoginAttempts { count: 1, since: at + 900 });
    assert_eq!(db.count_login_attempt("member:b@example.jp", at, 900, 5).await.unwrap(), Some(at));
    assert_eq!(db.purge_login_attempts(at + 1).await.unwrap(), 1, "the window that began before the cut-off");
    assert_eq!(db.login_attempts("member:b@example.jp").await.unwrap(), LoginAttempts { count: 0, since: 0 });
}

async fn a_bulk_operation_records_each_order(target: Target) {
    let db = shop(&target).await;
    let (order, other) = (authorized(&db, "cs-bulk").await, authorized(&db, "cs-bulk-2").await);
    let orders = [bulk_order(&order), bulk_order(&other)];
    let bulk = db.start_bulk("owner", &orders, "instance-a").await.unwrap();
    assert_eq!(db.bulk(bulk).await.unwrap()[0].outcome, ItemOutcome::Waiting);
    let item =
        BulkItem { order: order.id, number: order.number.clone(), outcome: ItemOutcome::Done, message: "ok".into() };
    assert!(db.record_bulk(bulk, "instance-a", &item).await.unwrap());
    assert_eq!(db.bulk(bulk).await.unwrap()[0], item);
    let skipped = BulkItem { outcome: ItemOutcome::Skipped, message: "既に実売上です".into(), ..item.clone() };
    assert!(!db.record_bulk(bulk, "instance-a", &skipped).await.unwrap(), "an order's outcome is recorded once");
    assert_eq!(db.bulk(bulk).await.unwrap()[0], item);
    // Several outcomes in one write: only the orders still waiting take theirs, nor does another
    // instance's write count.
    let refused = BulkItem {
        order: other.id,
        number: other.number.clone(),
        outcome: ItemOutcome::Refused,
        message: "Amazon: 'InvalidChargeStatus'".into(),
    };
    let both = [skipped.clone(), refused.clone()];
    assert_eq!(db.record_bulk_items(bulk, "instance-b", &both).await.unwrap(), 0, "not the claimant");
    assert_eq!(db.record_bulk_items(bulk, "instance-a", &both).await.unwrap(), 1);
    assert_eq!(db.bulk(bulk).await.unwrap(), vec![item, refused]);
    assert_eq!(db.record_bulk_items(bulk, "instance-a", &[]).await.unwrap(), 0);
    assert!(target.execute("UPDATE bulk_items SET outcome = 'exploded'").await.is_err(), "outcomes are a closed set");
}

async fn a_bulk_job_is_run_by_one_instance_seen_by_all_and_resumed_by_another_when_its_instance_stops(target: Target) {
    let (one, two) = (shop(&target).await, target.open().await);
    let order = authorized(&one, "cs-bulk-claim").await;
    let job = one.start_bulk("owner", &[bulk_order(&order)], "instance-a").await.unwrap();
    // Every instance sees who runs it and its heartbeat.
    let seen = two.bulk_job(job).await.unwrap().expect("the job");
    assert_eq!(
        (seen.owner.as_str(), seen.claimed_by.as_deref(), seen.finished_at),
        ("owner", Some("instance-a"), None)
    );
    let alive_since = now() - 30;
    assert!(seen.is_running(alive_since));
    assert!(!two.claim_bulk(job, "instance-b", alive_since).await.unwrap(), "its instance is alive: nobody takes it");
    assert!(one.beat_bulk(job, "instance-a").await.unwrap());
    assert!(!two.beat_bulk(job, "instance-b").await.unwrap(), "only the instance running it beats");
    // Instance A stops: its last heartbeat an hour old, the job is interrupted, and of two
    // instances resuming it at once, one does.
    target.execute(&format!("UPDATE bulk_jobs SET heartbeat_at = heartbeat_at - 3600 WHERE id = {job}")).await.unwrap();
    let alive_since = now() - 30;
    assert!(!two.bulk_job(job).await.unwrap().unwrap().is_running(alive_since), "interrupted");
    let (b, c) =
        tokio::join!(two.claim_bulk(job, "instance-b", alive_since), one.claim_bulk(job, "instance-c", alive_since));
    let (b, c) = (b.unwrap(), c.unwrap());
    assert!(b ^ c, "one instance resumes it: {b} {c}");
    let runner = if b { "instance-b" } else { "instance-c" };
    assert!(!one.beat_bulk(job, "instance-a").await.unwrap(), "A's claim is gone");
    assert!(two.beat_bulk(job, runner).await.unwrap());
    assert!(one.bulk_job(job).await.unwrap().unwrap().is_running(alive_since));
    // Let go with an order still waiting: free to resume at once, not finished.
    one.release_bulk(job, runner).await.unwrap();
    let released = two.bulk_job(job).await.unwrap().unwrap();
    assert_eq!((released.claimed_by, released.finished_at), (None, None));
    assert!(two.claim_bulk(job, "instance-d", now() - 30).await.unwrap());
    let done =
        BulkItem { order: order.id, number: order.number.clone(), outcome: ItemOutcome::Done, message: "ok".into() };
    assert!(two.record_bulk(job, "instance-d", &done).await.unwrap());
    two.release_bulk(job, "instance-d").await.unwrap();
    let finished = one.bulk_job(job).await.unwrap().unwrap();
    assert!(finished.finished_at.is_some() && finished.claimed_by.is_none());
    assert!(!one.claim_bulk(job, "instance-e", i64::MAX).await.unwrap(), "a finished job is never run again");
    assert_eq!(one.bulk_job(-1).await.unwrap(), None);
}

async fn a_refund_amazon_made_applies_from_whatever_state_another_instance_moved_the_order_to(target: Target) {
    let (one, two) = (shop(&target).await, target.open().await);
    let order = authorized(&one, "cs-any-state").await;
    let captured = one
        .apply(&Transition::new(&order, OrderState::Captured, Actor::Job, "captured").unwrap().with_captured(3_630))
        .await
        .unwrap()
        .unwrap();
    let refund =
        |id: &str, amount| Refund { refund_id: id.into(), amount, state: RefundState::Initiated, created_at: 1 };
    // While the owner's refund is at Amazon, another instance records one made in Seller Central.
    let elsewhere = refund_made(&captured, refund("R-elsewhere", 500), Actor::Notification, "Seller Central");
    assert_eq!(two.apply(&elsewhere).await.unwrap().unwrap().state, OrderState::Refunded);
    // The owner's refund, built from the order as read before (実売上), is recorded all the same.
    let mine = refund_made(&captured, refund("R-mine", 1_000), Actor::Owner("o".into()), "返金");
    let recorded = one.apply(&mine).await.unwrap().expect("what Amazon did is recorded");
    assert_eq!((recorded.state, recorded.refunded), (OrderState::Refunded, 1_500));
    let detail = one.order_detail(order.id).await.unwrap().unwrap();
    let last = detail.events.last().unwrap();
    assert_eq!((last.from, last.to), (Some(OrderState::Refunded), OrderState::Refunded), "the state it really left");
    assert_eq!(one.refunds(order.id).await.unwrap().len(), 2);
    // Amazon settles the owner's refund at its own amount: the row and the order follow it.
    let settled = Effect::RefundSettled { refund_id: "R-mine".into(), state: RefundState::Refunded, amount: 900 };
    let after = one
        .apply(&Transition::new(&recorded, OrderState::Refunded, Actor::Reconciler, "settled").unwrap().with(settled))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.refunded, 1_400);
    let mine = one.refunds(order.id).await.unwrap().into_iter().find(|r| r.refund_id == "R-mine").unwrap();
    assert_eq!((mine.amount, mine.state), (900, RefundState::Refunded));
}

async fn an_instance_that_lost_its_bulk_job_records_no_outcome_over_the_new_claimants(target: Target) {
    let (one, two) = (shop(&target).await, target.open().await);
    let (first, second) = (authorized(&one, "cs-taken-1").await, authorized(&one, "cs-taken-2").await);
    let orders = [bulk_order(&first), bulk_order(&second)];
    let job = one.start_bulk("owner", &orders, "instance-a").await.unwrap();
    // Instance A stalls; B resumes the job and captures the first order.
    target.execute(&format!("UPDATE bulk_jobs SET heartbeat_at = heartbeat_at - 3600 WHERE id = {job}")).await.unwrap();
    assert!(two.claim_bulk(job, "instance-b", now() - 30).await.unwrap());
    let outcome = |order: &amazonpay2::core::platform::Order, outcome: ItemOutcome| BulkItem {
        order: order.id,
        number: order.number.clone(),
        outcome,
        message: String::new(),
    };
    assert!(two.record_bulk(job, "instance-b", &outcome(&first, ItemOutcome::Done)).await.unwrap());
    // A wakes up and records what it saw: nothing of it lands, on either order.
    assert!(!one.record_bulk(job, "instance-a", &outcome(&first, ItemOutcome::Skipped)).await.unwrap());
    assert!(!one.record_bulk(job, "instance-a", &outcome(&second, ItemOutcome::Refused)).await.unwrap());
    let items: Vec<ItemOutcome> = two.bulk(job).await.unwrap().into_iter().map(|item| item.outcome).collect();
    assert_eq!(
        items,
        [ItemOutcome::Done, ItemOutcome::Waiting],
        "B's outcome stands; the order A never finished is B's to capture"
    );
}

/// An order captured (¥3,630) with two refunds recorded, ¥1,000 and ¥500, both in progress.
async fn refunded_twice(db: &Database, session: &str) -> amazonpay2::core::platform::Order {
    let order = authorized(db, session).await;
    let captured = db
        .apply(&Transition::new(&order, OrderState::Captured, Actor::Job, "captured").unwrap().with_captured(3_630))
        .await
        .unwrap()
        .unwrap();
    let refund =
        |id: &str, amount| Refund { refund_id: id.into(), amount, state: RefundState::Initiated, created_at: 1 };
    db.apply(&refund_made(&captured, refund(&format!("{session}-R1"), 1_000), Actor::Owner("o".into()), "返金"))
        .await
        .unwrap()
        .unwrap();
    let twice = db
        .apply(&refund_made(&captured, refund(&format!("{session}-R2"), 500), Actor::Owner("o".into()), "返金"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((twice.state, twice.refunded), (OrderState::Refunded, 1_500));
    twice
}

async fn two_refund_settlements_at_once_leave_the_order_as_its_refunds_stand_in_either_order(target: Target) {
    let (one, two) = (shop(&target).await, target.open().await);
    for (session, first_is_r1) in [("cs-race-a", true), ("cs-race-b", false)] {
        let order = refunded_twice(&one, session).await;
        let (r1, r2) = (format!("{session}-R1"), format!("{session}-R2"));
        // Amazon declined both. A notification and the reconciler each settle one, both from the
        // order as it stood before either wrote (返金, ¥1,500).
        let declined = |id: &str, amount| {
            refund_settled(&order, id, RefundState::Declined, amount, Actor::Notification, format!("{id} declined"))
        };
        let (first, second) = if first_is_r1 {
            (declined(&r1, 1_000), declined(&r2, 500))
        } else {
            (declined(&r2, 500), declined(&r1, 1_000))
        };
        let between = one.apply(&first).await.unwrap().unwrap();
        assert_eq!(
            (between.state, between.refunded),
            (OrderState::Refunded, if first_is_r1 { 500 } else { 1_000 }),
            "one refund still gives money back"
        );
        let after = two.apply(&second).await.unwrap().unwrap();
        assert_eq!((after.state, after.refunded), (OrderState::Captured, 0), "no refund gives money back: 実売上");
        let events = one.order_detail(order.id).await.unwrap().unwrap().events;
        let last = events.last().unwrap();
        assert_eq!((last.from, last.to), (Some(OrderState::Refunded), OrderState::Captured), "the history says so");
    }
    // And the other way: a refund recorded on an order read 実売上 after a declined one made it so
    // counts, whatever the order was read as.
    let order = refunded_twice(&one, "cs-race-c").await;
    let stale = order.clone();
    one.apply(&refund_settled(&order, "cs-race-c-R1", RefundState::Declined, 1_000, Actor::Reconciler, ""))
        .await
        .unwrap()
        .unwrap();
    let settled = two
        .apply(&refund_settled(&stale, "cs-race-c-R2", RefundState::Refunded, 500, Actor::Notification, ""))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((settled.state, settled.refunded), (OrderState::Refunded, 500));
}

async fn a_refund_request_count_moves_on_with_amazons_answers_and_never_back(target: Target) {
    let (one, two) = (shop(&target).await, target.open().await);
    let order = authorized(&one, "cs-requests").await;
    assert_eq!(order.refund_requests, 0);
    // Amazon refused the first request: the next is the second.
    two.count_refund_refusal(order.id, 1).await.unwrap();
    let refused = one.order(order.id).await.unwrap().unwrap();
    assert_eq!(refused.refund_requests, 1);
    assert_eq!((refused.version, refused.state), (order.version, order.state), "nothing else moves");
    // The second was made: counted with the refund, in its transaction.
    let captured = one
        .apply(&Transition::new(&refused, OrderState::Captured, Actor::Job, "captured").unwrap().with_captured(3_630))
        .await
        .unwrap()
        .unwrap();
    let refund = Refund { refund_id: "R-counted".into(), amount: 100, state: RefundState::Initiated, created_at: 1 };
    let made =
        refund_made(&captured, refund, Actor::Owner("o".into()), "返金").with(Effect::RefundAnswered { ordinal: 2 });
    assert_eq!(two.apply(&made).await.unwrap().unwrap().refund_requests, 2);
    // A late word on an earlier request never takes the count back.
    one.count_refund_refusal(order.id, 1).await.unwrap();
    assert_eq!(two.order(order.id).await.unwrap().unwrap().refund_requests, 2);
}

async fn a_history_line_keeps_the_state_the_order_stands_in(target: Target) {
    let (one, two) = (shop(&target).await, target.open().await);
    let order = authorized(&one, "cs-history").await;
    // Read while 仮売上; captured by another instance before the line is written.
    two.apply(&Transition::new(&order, OrderState::Captured, Actor::Job, "captured").unwrap().with_captured(3_630))
        .await
        .unwrap()
        .unwrap();
    let noted = one.apply(&Transition::history(&order, Actor::Notification, "チャージバック")).await.unwrap().unwrap();
    assert_eq!((noted.state, noted.captured), (OrderState::Captured, 3_630), "the state it stands in is kept");
    let last = one.order_detail(order.id).await.unwrap().unwrap().events.pop().unwrap();
    assert_eq!(
        (last.actor.as_str(), last.from, last.to, last.detail.as_str()),
        ("ipn", Some(OrderState::Captured), OrderState::Captured, "チャージバック")
    );
}

async fn an_order_keeps_its_guests_email_and_a_subscription_its_plan(target: Target) {
    let db = shop(&target).await;
    let guest = authorized(&db, "cs-guest").await;
    let detail = db.order_detail(guest.id).await.unwrap().unwrap();
    assert_eq!(detail.email.as_deref(), Some("hanako@example.jp"), "the e-mail Amazon gave, for a guest");
    let buyer = db.create_member(&member("member@example.jp"), "h").await.unwrap().unwrap();
    let plan =
        Plan { lines: vec![OrderLine { name: "定期便".into(), unit_price: 8_800, quantity: 1 }], shipping_fee: 880 };
    let new = NewOrder {
        member: Some(buyer),
        recurring: true,
        plan: Some(plan.clone()),
        total: 2_750 + 8_800 + 880,
        ..new_order("cs-plan", 0)
    };
    let Opened::New(order) = db.open_order(&new).await.unwrap() else { panic!("new") };
    assert_eq!(order.plan.as_ref(), Some(&plan));
    assert_eq!(db.order_detail(order.id).await.unwrap().unwrap().email.as_deref(), Some("member@example.jp"));
    let claimed = db
        .apply(&Transition::new(&order, OrderState::Completing, Actor::Shopper, "claim").unwrap())
        .await
        .unwrap()
        .unwrap();
    let first = date!(2027 - 01 - 06);
    let ids = AmazonIds { charge_permission_id: Some("S03-PLAN".into()), charge_id: Some("S03-PLAN-C1".into()) };
    db.apply(&settle(&claimed, Outcome::Authorized(authorized_now()), ids, first, Actor::Shopper).unwrap())
        .await
        .unwrap()
        .unwrap();
    let due = db.due_subscriptions(first).await.unwrap();
    assert_eq!((due[0].amount, due[0].plan.as_ref()), (9_680, Some(&plan)), "each cycle: what recurs");
}

async fn an_unknown_state_is_refused_by_the_database_itself(target: Target) {
    let _db = target.open().await;
    let refused = target
        .execute(
            "INSERT INTO orders (total, shipping_fee, recurring, state, created_at, updated_at)
             VALUES (1, 0, FALSE, 'authorised', 0, 0)",
        )
        .await;
    assert!(refused.is_err(), "the CHECK constraint refuses the state");
}

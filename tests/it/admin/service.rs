//! The core's admin service: Amazon's view of an order read at once, kept briefly, forgotten when
//! the order is operated on, and one object's failure shown as that object's alone. Time is a
//! clock the test moves; Amazon's reads are counted and held at a gate.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use amazonpay2::core::admin::{AmazonViews, OrderView, Unread, VIEW_LIFETIME};
use amazonpay2::core::clock::Clock;
use amazonpay2::core::operations::Operation;
use amazonpay2::core::orders::Actor;
use amazonpay2::core::platform::OrderId;

use crate::common::checkout::*;
use crate::common::hold::ReadGate;

/// A clock that moves only when the test moves it.
#[derive(Clone)]
struct TestClock(Arc<Mutex<Instant>>);

impl Clock for TestClock {
    fn now(&self) -> Instant {
        *self.0.lock().unwrap()
    }
}

impl TestClock {
    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

struct Setup {
    world: World,
    gate: ReadGate,
    clock: TestClock,
    order: OrderId,
}

/// A mug bought, captured and refunded in three parts, on a shop whose Amazon reads go through
/// a gate and whose views are kept on the test's clock.
async fn refunded_three_times() -> Setup {
    let gate = ReadGate::default();
    let clock = TestClock(Arc::new(Mutex::new(Instant::now())));
    let (wrapping, views) = (gate.clone(), clock.clone());
    let world = World::start_wrapped_adapting(
        Vec::new(),
        move |router| wrapping.wrap(router),
        // Held answers must not race the page's wait for Amazon: the gate, not the wait, decides.
        move |core| core.with_amazon_views(AmazonViews::with_clock(views).with_wait(Duration::from_secs(600))),
    )
    .await;
    let (_, session) = world.customer(&[(MUG, 1)], TAKKYUBIN).await;
    let order = world.db.order_by_checkout_session(&session).await.unwrap().unwrap().id;
    operate(&world, order, Operation::Capture(None)).await;
    for _ in 0..3 {
        operate(&world, order, Operation::Refund(100)).await;
    }
    Setup { world, gate, clock, order }
}

async fn operate(world: &World, order: OrderId, operation: Operation) {
    let version = world.db.order(order).await.unwrap().unwrap().version;
    let done = world.state.core.operate(order, version, operation, "owner", false).await.unwrap();
    assert!(done.is_ok(), "{operation:?}: {done:?}");
}

async fn view(setup: &Setup) -> OrderView {
    let order = setup.world.db.order(setup.order).await.unwrap().unwrap();
    setup.world.state.core.order_view(order).await.unwrap()
}

fn all_read(view: &OrderView) -> bool {
    view.amazon.permission.as_ref().is_some_and(Result::is_ok)
        && view.amazon.charge.as_ref().is_some_and(Result::is_ok)
        && view.amazon.refunds.iter().all(|(_, read)| read.is_ok())
}

#[tokio::test]
async fn every_refund_of_an_order_is_asked_of_amazon_before_any_is_answered() {
    let setup = refunded_three_times().await;
    setup.gate.close();
    let core = setup.world.state.core.clone();
    let order = setup.world.db.order(setup.order).await.unwrap().unwrap();
    let page = tokio::spawn(async move { core.order_view(order).await.unwrap() });
    // Read one after another, the second would wait for the first's answer, held here: the
    // bound turns that hang into a failure.
    let all_asked = tokio::time::timeout(Duration::from_secs(60), setup.gate.wait_holding(3)).await;
    assert!(all_asked.is_ok(), "the refunds were not asked for at once");
    setup.gate.open();
    let view = page.await.unwrap();
    assert_eq!(view.amazon.refunds.len(), 3);
    assert!(all_read(&view), "{:?}", view.amazon);
}

#[tokio::test]
async fn a_second_view_asks_amazon_nothing_until_the_views_lapse() {
    let setup = refunded_three_times().await;
    let first = view(&setup).await;
    assert!(all_read(&first));
    let reads = setup.gate.reads();
    let second = view(&setup).await;
    assert_eq!(setup.gate.reads(), reads, "answered from what was kept");
    assert_eq!(second.amazon, first.amazon);
    setup.clock.advance(VIEW_LIFETIME);
    view(&setup).await;
    assert_eq!(setup.gate.reads(), reads + 5, "the charge permission, the charge and three refunds again");
}

#[tokio::test]
async fn an_operation_or_a_sync_forgets_what_was_kept_of_the_order() {
    let setup = refunded_three_times().await;
    let before = view(&setup).await;
    operate(&setup.world, setup.order, Operation::Refund(100)).await;
    let reads = setup.gate.reads();
    let after = view(&setup).await;
    assert_eq!(setup.gate.reads(), reads + 6, "everything read anew, the new refund too");
    assert_eq!(after.amazon.refunds.len(), before.amazon.refunds.len() + 1);
    let order = setup.world.db.order(setup.order).await.unwrap().unwrap();
    setup.world.state.core.sync_order(&order, Actor::Owner("owner".into())).await.unwrap();
    let reads = setup.gate.reads();
    view(&setup).await;
    assert_eq!(setup.gate.reads(), reads + 6);
}

#[tokio::test]
async fn an_object_amazon_will_not_answer_shows_as_unread_and_the_rest_stands() {
    let setup = refunded_three_times().await;
    let refunds = setup.world.state.core.platform().refunds(setup.order).await.unwrap();
    let broken = refunds[1].refund_id.clone();
    setup.gate.fail(&broken);
    let view = view(&setup).await;
    for (id, read) in &view.amazon.refunds {
        if *id == broken {
            assert!(matches!(read, Err(Unread::Amazon(_))), "{read:?}");
        } else {
            assert!(read.is_ok(), "{id}: {read:?}");
        }
    }
    assert!(view.amazon.permission.as_ref().is_some_and(Result::is_ok));
    assert!(view.amazon.charge.as_ref().is_some_and(Result::is_ok));
    // A failure is not kept: the next view asks again.
    let reads = setup.gate.reads();
    self::view(&setup).await;
    assert_eq!(setup.gate.reads(), reads + 1);
}

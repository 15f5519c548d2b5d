//! What time does to Amazon's objects, on the simulator clock: sessions expire after 24 hours,
//! authorizations after 30 days (`ExpiredUnused`), OneTime charge permissions after 180 days (13
//! months with `extendExpiration`), and captures and refunds in progress are processed.
//!
//! [`Ledger::sweep`] runs before every use of the ledger (and on a timer), so that each of these
//! changes is seen, and notified, once, at the moment it was due.

use super::ledger::{ChangedObject, Ledger};
use super::objects::{ChargeState, Closure, Reason, RefundState};
use super::operations::Settlement;
use super::rules::{AUTHORIZATION_LIFETIME, CAPTURE_PROCESSING, REFUND_PROCESSING};

impl Ledger {
    /// Applies every change due at `now`, in the order they fell due.
    pub(in crate::simulator) fn sweep(&mut self, now: u64) {
        for session in self.sessions.values_mut() {
            session.settle(now);
        }
        let mut due: Vec<(u64, Due)> = Vec::new();
        for charge in self.charges.values() {
            match charge.state {
                // 30 days after it entered Authorized (a pending authorization decided later
                // lapses later): Amazon's charge reference, "expires after 30 days in the
                // Authorized state".
                ChargeState::Authorized => {
                    let deadline = charge.authorized_at.unwrap_or(charge.created) + AUTHORIZATION_LIFETIME;
                    if now >= deadline {
                        due.push((deadline, Due::Expiry(charge.id.clone())));
                    }
                }
                ChargeState::CaptureInitiated => {
                    if let Some(pending) = charge.pending_capture {
                        let at = pending.requested + CAPTURE_PROCESSING;
                        if now >= at {
                            due.push((at, Due::Capture(charge.id.clone())));
                        }
                    }
                }
                _ => {}
            }
        }
        for refund in self.refunds.values() {
            let at = refund.created + REFUND_PROCESSING;
            if refund.state == RefundState::RefundInitiated && now >= at {
                due.push((at, Due::Refund(refund.id.clone())));
            }
        }
        for permission in self.permissions.values() {
            if let Some(expires) = permission.expires
                && permission.closed.is_none()
                && now >= expires
            {
                due.push((expires, Due::PermissionExpiry(permission.id.clone())));
            }
        }
        due.sort();
        for (at, what) in due {
            match what {
                Due::Expiry(id) => self.expire_authorization(&id, at),
                Due::Capture(id) => {
                    let _ = self.finish_capture(&id, Settlement::Done, at);
                }
                Due::Refund(id) => {
                    let _ = self.finish_refund(&id, Settlement::Done, at);
                }
                Due::PermissionExpiry(id) => self.expire_permission(&id, at),
            }
        }
    }

    fn expire_authorization(&mut self, id: &str, at: u64) {
        let Some(charge) = self.charges.get_mut(id).filter(|c| c.state == ChargeState::Authorized) else {
            return;
        };
        charge.state = ChargeState::Canceled;
        charge.reason = Some(Reason::new("ExpiredUnused", "The authorization expired after 30 days without capture."));
        charge.updated = at;
        let permission_id = charge.permission_id.clone();
        self.changed(ChangedObject::Charge, id, &permission_id);
    }

    fn expire_permission(&mut self, id: &str, at: u64) {
        let Some(permission) = self.permissions.get_mut(id).filter(|p| p.closed.is_none()) else {
            return;
        };
        permission.closed = Some(Closure { reason: Reason::new("Expired", "The Charge Permission expired."), at });
        permission.updated = at;
        self.changed(ChangedObject::ChargePermission, id, id);
    }
}

/// A change that fell due.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Due {
    Expiry(String),
    Capture(String),
    Refund(String),
    PermissionExpiry(String),
}

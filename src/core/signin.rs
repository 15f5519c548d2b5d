//! Amazon sign-in and account links: who a returning buyer is, and what that means for the shop.
//!
//! The buyer is always asked of Amazon (getBuyer with the token Amazon put in the return URL),
//! never taken from the URL. A linked buyer logs in as their member; a buyer whose e-mail belongs
//! to a member is not logged in by e-mail alone (the member proves who they are with their
//! password first); any other buyer is offered sign-up with the Amazon details filled in.

use super::payloads::{PayloadBuilder, SignInIntent};
use super::platform::{LinkRefusal, Member, MemberId};
use super::{AmazonError, Core, CoreError};
use crate::amazon::types::Buyer;
use crate::contract::{Notice, SignedConfig};

/// What an Amazon sign-in comes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignIn {
    /// A buyer linked to this member: log them in.
    LogIn(MemberId),
    /// A member has the buyer's e-mail: they log in with their password, then the buyer is linked.
    PasswordFirst(Buyer),
    /// An unknown buyer: sign-up, filled in from Amazon; the buyer is linked when it completes.
    SignUp(Buyer),
    /// The link asked for from My Page, made or refused.
    Link(Result<(), LinkRefusal>),
    /// A link needs a logged-in member.
    LoginRequired,
    /// Amazon refused the token (unknown, expired or used): the shopper can simply try again.
    TokenRefused,
}

impl Core {
    /// The signed `signInConfig` for a login or link button; `state` is the session's, checked
    /// when Amazon sends the shopper back.
    pub fn sign_in_config(&self, intent: SignInIntent, state: &str) -> Result<SignedConfig, CoreError> {
        let settings = self.settings();
        let builder = PayloadBuilder { origin: &settings.shop_origin, amazon: &settings.amazon };
        Ok(self.signer().sign(builder.sign_in(intent, state))?)
    }

    /// Asks Amazon who signed in with `buyer_token`, and decides what that means for the shopper
    /// logged in as `member` (if any).
    pub async fn sign_in(
        &self,
        intent: SignInIntent,
        member: Option<MemberId>,
        buyer_token: &str,
    ) -> Result<SignIn, CoreError> {
        let buyer = match self.amazon().get_buyer(buyer_token).await {
            Ok(buyer) => buyer,
            Err(AmazonError::Rejected { status: 400 | 404, reason_code, .. }) => {
                tracing::warn!(%reason_code, "getBuyer refused the buyer token");
                return Ok(SignIn::TokenRefused);
            }
            Err(error) => return Err(error.into()),
        };
        let platform = self.platform();
        Ok(match intent {
            SignInIntent::Login => {
                if let Some(member) = platform.member_by_buyer(&buyer.buyer_id).await? {
                    SignIn::LogIn(member.id)
                } else if let Some(email) = buyer.email.as_deref()
                    && platform.member_by_email(email).await?.is_some()
                {
                    SignIn::PasswordFirst(buyer)
                } else {
                    SignIn::SignUp(buyer)
                }
            }
            SignInIntent::Link => match member {
                None => SignIn::LoginRequired,
                Some(member) => SignIn::Link(platform.link(member, &buyer.buyer_id).await?),
            },
        })
    }

    /// Links the Amazon buyer that waited in the session to the member who just proved who they
    /// are (sign-up or password login) — if the member's e-mail is the one Amazon verified, or
    /// the member confirmed the link explicitly. What the shopper is told, if anything.
    pub async fn link_waiting(&self, buyer: &Buyer, member: &Member, confirmed: bool) -> Result<Notice, CoreError> {
        let same_email = buyer.email.as_deref().is_some_and(|email| email.eq_ignore_ascii_case(&member.email));
        if !same_email && !confirmed {
            return Ok(Notice::LinkNotConfirmed);
        }
        Ok(match self.platform().link(member.id, &buyer.buyer_id).await? {
            Ok(()) => Notice::Linked,
            Err(LinkRefusal::MemberLinked) => Notice::AlreadyLinked,
            Err(LinkRefusal::BuyerTaken) => Notice::BuyerTaken,
        })
    }
}

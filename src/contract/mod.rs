//! The outward contract shared by the widget and the server: what shop designers write, what
//! the widget asks and what it is answered (README, "What a shop designer pastes").
//!
//! Only `serde` types and pure parsing live here, with no `cfg`: the same source compiles to
//! wasm for the widget and natively for the server.

mod api;
mod blocks;

pub use api::{
    AMAZON_SIGNATURE_ALGORITHM, ApiError, ApiErrorBody, BlockView, ButtonsRequest, ButtonsResponse, InitCheckout,
    MAX_BLOCKS_PER_REQUEST, MemberState, Notice, Price, ProductType, RenderButtonOptions, SessionResponse, SignAnswer,
    SignRequest, SignedConfig, UnavailableReason,
};
pub use blocks::{AttributeError, BlockKind, BlockSpec, ButtonColor, Device, Placement};

//! The decisions of the in-broker transforms, as plain Rust that is unit-tested natively and
//! linked unchanged into each `.wasm`: which canonical instrument a venue symbol is
//! (`listing`), which data-quality rule a record breaks (`rules`, `reason`), and the normalized
//! record for the ones that pass (`trades`, `depth`, `reference`, `dex`).

pub mod depth;
pub mod dex;
pub mod listing;
pub mod reason;
pub mod reference;
pub mod route;
pub mod rules;
pub mod trades;

pub use listing::{Listing, ListingBook};
pub use reason::QuarantineReason;
pub use rules::{Rejection, RuleConfig};

//! Fake venue servers. The venues cannot be reached from here, so these stand in for them:
//! each speaks its venue's real WebSocket and REST protocol, replays a real recording of
//! `../shared/fixtures` on one market timeline (started by the first subscription), and
//! misbehaves on demand ([`faults::Faults`]).

pub mod binance;
pub mod faults;

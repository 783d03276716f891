//! Faults a fake venue injects into each connection's data frames (counted per connection,
//! 1-based; 0 turns a fault off).

use std::time::Duration;

#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Skip every Nth data frame (a sequence gap on depth streams).
    pub drop_every: u64,
    /// Send every Nth data frame twice.
    pub duplicate_every: u64,
    /// Send a frame that is not JSON before every Nth data frame.
    pub garbage_every: u64,
    /// Close the connection after N data frames (each new connection starts counting again).
    pub disconnect_after: u64,
    /// Stop sending after N data frames, keeping the socket open.
    pub stall_after: u64,
    /// How often the server pings.
    pub ping_every: Duration,
}

/// What to do with the next data frame of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Send { garbage_first: bool, twice: bool },
    Drop,
    Disconnect,
    Stall,
}

/// Per-connection fault state.
#[derive(Debug, Default)]
pub struct FaultCounter {
    sent: u64,
}

impl FaultCounter {
    pub fn next(&mut self, f: &Faults) -> Action {
        self.sent += 1;
        let n = self.sent;
        let every = |k: u64| k > 0 && n.is_multiple_of(k);
        if f.disconnect_after > 0 && n > f.disconnect_after {
            return Action::Disconnect;
        }
        if f.stall_after > 0 && n > f.stall_after {
            return Action::Stall;
        }
        if every(f.drop_every) {
            return Action::Drop;
        }
        Action::Send { garbage_first: every(f.garbage_every), twice: every(f.duplicate_every) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_follow_the_counts() {
        let f =
            Faults { drop_every: 3, duplicate_every: 4, garbage_every: 5, disconnect_after: 6, ..Faults::default() };
        let mut c = FaultCounter::default();
        let got: Vec<Action> = (0..7).map(|_| c.next(&f)).collect();
        let send = |g, t| Action::Send { garbage_first: g, twice: t };
        assert_eq!(
            got,
            vec![
                send(false, false),
                send(false, false),
                Action::Drop,
                send(false, true),
                send(true, false),
                Action::Drop,
                Action::Disconnect
            ]
        );
    }
}

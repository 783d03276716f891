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
    /// Hold every Nth data frame back and send it after the next one (out of order).
    pub reorder_every: u64,
    /// How often the server pings (where the venue's server pings).
    pub ping_every: Duration,
    /// Close each connection this long after it opened, with the venue's notice where it
    /// sends one: the 24-hour limit of the real venues, shortened.
    pub lifetime: Option<Duration>,
    /// REST k-line requests answered per second; the rest get the venue's rate-limit
    /// answer (0: no limit).
    pub rest_per_second: u32,
}

/// What to do with the next data frame of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Send {
        garbage_first: bool,
        twice: bool,
    },
    Drop,
    /// Keep it and send it after the next frame.
    Hold,
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
        if every(f.reorder_every) {
            return Action::Hold;
        }
        Action::Send { garbage_first: every(f.garbage_every), twice: every(f.duplicate_every) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_follow_the_counts() {
        let f = Faults {
            drop_every: 3,
            duplicate_every: 4,
            garbage_every: 5,
            disconnect_after: 7,
            reorder_every: 7,
            ..Faults::default()
        };
        let mut c = FaultCounter::default();
        let got: Vec<Action> = (0..8).map(|_| c.next(&f)).collect();
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
                Action::Hold,
                Action::Disconnect
            ]
        );
    }
}

//! Per-stream silence detection. `stall_after` reconnects when a whole socket goes quiet; this
//! is finer: each stream (instrument and channel) learns its usual interval between messages,
//! and when it stays quiet far longer than that while its connection is open, it is reported
//! on `signals` (kind `silence`, value = how long it has been quiet, in ms): when the silence
//! starts, again every `repeat` while it lasts, and with value 0 when the stream's next
//! message arrives.
//!
//! A closed or reconnecting connection starts no silence (that is a reconnect, counted as
//! one); on (re)connect each stream's clock restarts at the connect time and its learned
//! interval is kept. A silence already reported when the connection drops stays open through
//! the reconnect (the stream has still not spoken) and ends with the stream's next message,
//! so that every start has its end.
//!
//! Pure: the caller passes the times (ms) and publishes the reports.

use crate::streams::StreamMap;
use std::time::Duration;
use tickwatch_model::Signal;

/// Weight of the newest gap in the usual interval once warmed up (roughly the last 40 gaps
/// count); before that every gap weighs the same, so the first samples give a plain mean.
const EWMA_WEIGHT: f64 = 0.05;

/// `silence:` of a venue in `config/exchanges.yaml`, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct SilenceSettings {
    pub enabled: bool,
    /// A stream is silent after `max(factor × usual interval, min)` without a message.
    pub factor: f64,
    pub min: Duration,
    /// Gaps learned before a stream can be silent.
    pub min_samples: u32,
    /// How often a lasting silence is reported again.
    pub repeat: Duration,
}

impl Default for SilenceSettings {
    fn default() -> Self {
        SilenceSettings {
            enabled: true,
            factor: 10.0,
            min: Duration::from_secs(5),
            min_samples: 20,
            repeat: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Started,
    Lasting,
    Ended,
}

/// A signal to publish, and what it says about the silence.
#[derive(Debug, Clone, PartialEq)]
pub struct SilenceReport {
    pub phase: Phase,
    /// The stream's usual interval when the report was made (for the log).
    pub usual_gap_ms: f64,
    pub signal: Signal,
}

#[derive(Debug)]
struct StreamClock {
    /// The last message, or the connect time when none came since.
    last_ms: i64,
    /// False when `last_ms` is a connect time: the gap to the next message is not learned.
    last_is_message: bool,
    usual_gap_ms: f64,
    gaps: u32,
    /// The silence reported and not yet ended: since when, and when last reported.
    open: Option<(i64, i64)>,
}

/// The streams of one connection.
pub struct SilenceDetector {
    venue: String,
    settings: SilenceSettings,
    connected: bool,
    streams: StreamMap<StreamClock>,
}

impl SilenceDetector {
    pub fn new(venue: &str, settings: SilenceSettings) -> SilenceDetector {
        SilenceDetector { venue: venue.into(), settings, connected: false, streams: StreamMap::default() }
    }

    /// The connection is open (subscriptions sent) at `now_ms`.
    pub fn connected(&mut self, now_ms: i64) {
        self.connected = true;
        for clock in self.streams.values_mut() {
            clock.last_ms = now_ms;
            clock.last_is_message = false;
        }
    }

    /// The connection closed: no silence starts until it is open again.
    pub fn disconnected(&mut self) {
        self.connected = false;
    }

    /// A message of the stream received at `now_ms`; ends the stream's silence if one is open.
    pub fn message(&mut self, now_ms: i64, instrument: &str, channel: &'static str) -> Option<SilenceReport> {
        if !self.settings.enabled {
            return None;
        }
        let Some(clock) = self.streams.get_mut(instrument, channel) else {
            let clock = StreamClock { last_ms: now_ms, last_is_message: true, usual_gap_ms: 0.0, gaps: 0, open: None };
            self.streams.insert(instrument, channel, clock);
            return None;
        };
        if clock.last_is_message && self.connected {
            clock.gaps = clock.gaps.saturating_add(1);
            let weight = (1.0 / clock.gaps as f64).max(EWMA_WEIGHT);
            clock.usual_gap_ms += weight * ((now_ms - clock.last_ms) as f64 - clock.usual_gap_ms);
        }
        clock.last_ms = now_ms;
        clock.last_is_message = true;
        let usual_gap_ms = clock.usual_gap_ms;
        clock.open.take().map(|_| self.report(Phase::Ended, usual_gap_ms, now_ms, instrument, channel, 0))
    }

    /// The silences that start, or last another `repeat`, at `now_ms` (the periodic check).
    pub fn check(&mut self, now_ms: i64) -> Vec<SilenceReport> {
        if !self.settings.enabled || !self.connected {
            return Vec::new();
        }
        let (factor, min_ms) = (self.settings.factor, self.settings.min.as_millis() as f64);
        let (min_samples, repeat_ms) = (self.settings.min_samples, self.settings.repeat.as_millis() as i64);
        let mut due = Vec::new();
        for (instrument, channel, clock) in self.streams.iter_mut() {
            let phase = match &mut clock.open {
                Some((_, reported)) if now_ms - *reported >= repeat_ms => Phase::Lasting,
                Some(_) => continue,
                None => {
                    let allowed = (factor * clock.usual_gap_ms).max(min_ms);
                    if clock.gaps < min_samples || ((now_ms - clock.last_ms) as f64) <= allowed {
                        continue;
                    }
                    // Silent since the last message, or since the connect when none came.
                    clock.open = Some((clock.last_ms, now_ms));
                    Phase::Started
                }
            };
            let since = clock.open.as_mut().map(|(since, reported)| {
                *reported = now_ms;
                *since
            });
            let silent_ms = now_ms - since.expect("open");
            due.push((phase, clock.usual_gap_ms, instrument.to_string(), channel, silent_ms));
        }
        due.into_iter()
            .map(|(phase, usual, instrument, channel, silent_ms)| {
                self.report(phase, usual, now_ms, &instrument, channel, silent_ms)
            })
            .collect()
    }

    fn report(
        &self,
        phase: Phase,
        usual_gap_ms: f64,
        now_ms: i64,
        instrument: &str,
        channel: &str,
        silent_ms: i64,
    ) -> SilenceReport {
        let signal = Signal {
            kind: "silence".into(),
            venue: self.venue.clone(),
            venue_b: None,
            instrument: instrument.into(),
            channel: Some(channel.into()),
            interval: None,
            value: silent_ms as f64,
            unit: "ms".into(),
            at_us: now_ms * 1000,
            emitted_at_us: now_ms * 1000,
        };
        SilenceReport { phase, usual_gap_ms, signal }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_764_000_000_000;

    /// factor 5, min 500 ms, armed after 4 gaps, repeated every 2 s.
    fn detector() -> SilenceDetector {
        let settings = SilenceSettings {
            enabled: true,
            factor: 5.0,
            min: Duration::from_millis(500),
            min_samples: 4,
            repeat: Duration::from_secs(2),
        };
        let mut d = SilenceDetector::new("okx", settings);
        d.connected(T0);
        d
    }

    /// Messages of `instrument` trades every `every_ms` from `from` for `n` messages; returns
    /// the time of the last one and any report they caused.
    fn feed(d: &mut SilenceDetector, instrument: &str, from: i64, every_ms: i64, n: i64) -> (i64, Vec<SilenceReport>) {
        let reports = (0..n).filter_map(|i| d.message(from + i * every_ms, instrument, "trades")).collect();
        (from + (n - 1) * every_ms, reports)
    }

    fn summary(reports: &[SilenceReport]) -> Vec<(Phase, &str, f64, i64)> {
        reports.iter().map(|r| (r.phase, r.signal.instrument.as_str(), r.signal.value, r.signal.at_us / 1000)).collect()
    }

    #[test]
    fn learns_the_usual_interval_and_arms_after_min_samples() {
        let mut d = detector();
        // Three gaps of 200 ms: not armed yet, however long the quiet.
        let (last, _) = feed(&mut d, "BTC-USDT", T0, 200, 4);
        assert!(d.check(last + 60_000).is_empty(), "three gaps do not arm");
        // The fourth gap arms it; the usual interval is their mean.
        d.message(last + 200, "BTC-USDT", "trades");
        let last = last + 200;
        assert!(d.check(last + 1_000).is_empty(), "1 s ≤ 5 × 200 ms");
        let got = d.check(last + 1_001);
        assert_eq!(summary(&got), vec![(Phase::Started, "BTC-USDT", 1_001.0, last + 1_001)]);
        assert_eq!(got[0].usual_gap_ms, 200.0);
        let s = &got[0].signal;
        assert_eq!(
            (s.kind.as_str(), s.venue.as_str(), s.channel.as_deref(), s.unit.as_str()),
            ("silence", "okx", Some("trades"), "ms")
        );
        assert_eq!((s.venue_b.as_ref(), s.interval.as_ref(), s.emitted_at_us), (None, None, s.at_us));
    }

    #[test]
    fn the_floor_holds_for_fast_streams() {
        let mut d = detector();
        let (last, _) = feed(&mut d, "BTC-USDT", T0, 10, 10);
        assert!(d.check(last + 500).is_empty(), "5 × 10 ms is below the 500 ms floor");
        assert_eq!(summary(&d.check(last + 501)), vec![(Phase::Started, "BTC-USDT", 501.0, last + 501)]);
    }

    #[test]
    fn a_silence_starts_repeats_and_ends_once_for_its_stream_only() {
        let mut d = detector();
        let (quiet_last, _) = feed(&mut d, "ETH-USDT", T0, 100, 10);
        // BTC goes on every 100 ms; ETH stops.
        let mut reports = Vec::new();
        for t in (quiet_last + 100..quiet_last + 6_000).step_by(100) {
            assert!(d.message(t, "BTC-USDT", "trades").is_none());
            if t % 1_000 == quiet_last % 1_000 {
                reports.extend(d.check(t)); // the 1 s tick
            }
        }
        let s = quiet_last;
        assert_eq!(
            summary(&reports),
            vec![
                (Phase::Started, "ETH-USDT", 1_000.0, s + 1_000),
                (Phase::Lasting, "ETH-USDT", 3_000.0, s + 3_000),
                (Phase::Lasting, "ETH-USDT", 5_000.0, s + 5_000),
            ],
            "BTC learned 100 ms too (armed by its 4th gap) and never paused"
        );
        // ETH speaks again: the silence ends once, with value 0.
        let end = d.message(s + 5_500, "ETH-USDT", "trades").expect("the end");
        assert_eq!(summary(&[end]), vec![(Phase::Ended, "ETH-USDT", 0.0, s + 5_500)]);
        assert!(d.message(s + 5_600, "ETH-USDT", "trades").is_none());
        assert!(d.check(s + 5_700).is_empty());
    }

    #[test]
    fn channels_of_one_instrument_are_separate_streams() {
        let mut d = detector();
        for i in 0..10 {
            d.message(T0 + i * 100, "BTC-USDT", "trades");
            d.message(T0 + i * 100, "BTC-USDT", "depth");
        }
        for i in 10..30 {
            d.message(T0 + i * 100, "BTC-USDT", "depth");
        }
        let got = d.check(T0 + 2_900);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].signal.channel.as_deref(), Some("trades"));
    }

    #[test]
    fn no_silence_starts_while_disconnected_and_the_clock_restarts_on_connect() {
        let mut d = detector();
        let (last, _) = feed(&mut d, "BTC-USDT", T0, 100, 10);
        d.disconnected();
        assert!(d.check(last + 30_000).is_empty(), "a reconnect, not a silence");
        d.connected(last + 30_000);
        assert!(d.check(last + 30_300).is_empty(), "counted from the connect time, not the last message");
        // The gap from the connect to the first message is not learned: still 100 ms.
        d.message(last + 30_400, "BTC-USDT", "trades");
        assert!(d.check(last + 30_900).is_empty());
        let got = d.check(last + 30_901);
        assert_eq!(summary(&got), vec![(Phase::Started, "BTC-USDT", 501.0, last + 30_901)]);
        assert_eq!(got[0].usual_gap_ms, 100.0, "the learned interval was kept over the reconnect");
    }

    #[test]
    fn a_stream_that_never_speaks_after_a_connect_is_silent_from_the_connect() {
        let mut d = detector();
        let (last, _) = feed(&mut d, "BTC-USDT", T0, 100, 10);
        d.disconnected();
        d.connected(last + 10_000);
        assert_eq!(summary(&d.check(last + 10_501)), vec![(Phase::Started, "BTC-USDT", 501.0, last + 10_501)]);
    }

    #[test]
    fn an_open_silence_survives_a_reconnect_without_reports_and_ends_with_the_next_message() {
        let mut d = detector();
        let (last, _) = feed(&mut d, "BTC-USDT", T0, 100, 10);
        assert_eq!(d.check(last + 1_000)[0].phase, Phase::Started);
        d.disconnected();
        assert!(d.check(last + 5_000).is_empty(), "no report while disconnected");
        d.connected(last + 6_000);
        // Still silent: reported again, counted from the last message.
        assert_eq!(summary(&d.check(last + 6_000)), vec![(Phase::Lasting, "BTC-USDT", 6_000.0, last + 6_000)]);
        let end = d.message(last + 6_100, "BTC-USDT", "trades").expect("the end");
        assert_eq!((end.phase, end.signal.value), (Phase::Ended, 0.0));
    }

    #[test]
    fn disabled_reports_nothing() {
        let mut d = SilenceDetector::new("okx", SilenceSettings { enabled: false, ..SilenceSettings::default() });
        d.connected(T0);
        feed(&mut d, "BTC-USDT", T0, 100, 100);
        assert!(d.check(T0 + 3_600_000).is_empty());
    }
}

//! One market timeline over a recording's frames in arrival order, started by the first
//! subscription and shared by every connection (a reconnecting client finds the market moved
//! on, as on the real venue). Each frame carries its position so that a snapshot taken at
//! subscription can say which frames it already contains.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;

/// A frame of the timeline: the stream it belongs to (the venue's subscription name), its
/// text, and its event time (ms).
#[derive(Debug, Clone)]
pub struct Recorded {
    pub index: u64,
    pub stream: String,
    pub text: String,
    pub event_ms: i64,
}

/// Frames made as they are played: (stream, text, event ms).
pub type FrameSource = Box<dyn Iterator<Item = (String, String, i64)> + Send>;

pub struct Timeline {
    frames: Vec<Arc<Recorded>>,
    /// A market too long to hold (a soak's hour) is made frame by frame instead; it has no
    /// `frames()` to look back on.
    source: Mutex<Option<FrameSource>>,
    speed: f64,
    tx: broadcast::Sender<Arc<Recorded>>,
    started: Mutex<bool>,
}

impl Timeline {
    /// `frames`: (stream, text, event ms) in arrival order. `speed` 1 keeps the recorded
    /// pace, 10 is ten times faster, 0 as fast as possible.
    pub fn new(frames: Vec<(String, String, i64)>, speed: f64) -> Timeline {
        let frames = frames
            .into_iter()
            .enumerate()
            .map(|(i, (stream, text, event_ms))| Arc::new(Recorded { index: i as u64 + 1, stream, text, event_ms }))
            .collect();
        let (tx, _) = broadcast::channel(1 << 16);
        Timeline { frames, source: Mutex::new(None), speed, tx, started: Mutex::new(false) }
    }

    /// A timeline that plays `source` as it makes it, holding no frame once sent.
    pub fn streaming(source: FrameSource, speed: f64) -> Timeline {
        let mut t = Timeline::new(Vec::new(), speed);
        t.source = Mutex::new(Some(source));
        t
    }

    /// Every frame, in arrival order.
    pub fn frames(&self) -> impl Iterator<Item = &Recorded> {
        self.frames.iter().map(|f| f.as_ref())
    }

    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    pub fn receiver(&self) -> broadcast::Receiver<Arc<Recorded>> {
        self.tx.subscribe()
    }

    /// Start playing (once); `apply` sees each frame just before it is sent, so that the
    /// venue's state (its books) always includes every frame sent.
    pub fn start(self: &Arc<Self>, apply: impl Fn(&Recorded) + Send + Sync + 'static) {
        let mut started = self.started.lock().expect("lock");
        if !*started {
            *started = true;
            let me = self.clone();
            tokio::spawn(async move { me.play(apply).await });
        }
    }

    async fn play(&self, apply: impl Fn(&Recorded)) {
        // Let the subscribing connection register its receiver first.
        tokio::time::sleep(Duration::from_millis(200)).await;
        // Each frame is due at a point of one schedule (the recording's offsets over the
        // speed, a pause in the recording counted as at most 5 s), not after a sleep of its
        // own gap: sleeping gap by gap rounds every millisecond up and adds the wake-up time,
        // which halved a 1 000-frame-a-second stream. A frame past its time goes at once.
        let begun = tokio::time::Instant::now();
        let (mut previous, mut offset_ms): (Option<i64>, f64) = (None, 0.0);
        let source = self.source.lock().expect("lock").take();
        let recorded = self.frames.iter().cloned();
        let made =
            source.into_iter().flatten().enumerate().map(|(i, (stream, text, event_ms))| {
                Arc::new(Recorded { index: i as u64 + 1, stream, text, event_ms })
            });
        let mut sent = 0u64;
        for f in recorded.chain(made) {
            if self.speed > 0.0 {
                if let Some(p) = previous {
                    offset_ms += (f.event_ms - p).clamp(0, 5_000) as f64 / self.speed;
                    let due = begun + Duration::from_secs_f64(offset_ms / 1000.0);
                    if due > tokio::time::Instant::now() {
                        tokio::time::sleep_until(due).await;
                    }
                }
                previous = Some(f.event_ms);
            } else {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            apply(&f);
            let _ = self.tx.send(f);
            sent += 1;
        }
        tracing::info!(frames = sent, "fake venue: recording fully replayed");
    }
}

//! A sink whose destination (ClickHouse, S3) is down keeps what it holds, pauses its consumer
//! so that the broker (not its memory) holds the backlog, and tries again after a wait that
//! doubles up to a limit. The consumer is still polled during the wait, so the group keeps
//! the member and rebalances are served.

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// One outage of a sink's destination, from its first failure to the success that ends it.
pub struct Outage {
    paused: Option<TopicPartitionList>,
    wait: Duration,
    max_wait: Duration,
    failures: u32,
    started: Instant,
}

impl Outage {
    pub fn new(max_wait: Duration) -> Outage {
        Outage { paused: None, wait: Duration::from_millis(250), max_wait, failures: 0, started: Instant::now() }
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// After a failed attempt: log it (the first at WARN), pause consumption, wait. `false`
    /// when `stop` was set meanwhile (the caller ends without committing).
    pub fn failed(
        &mut self,
        consumer: &BaseConsumer,
        what: &str,
        error: &dyn std::fmt::Display,
        stop: &AtomicBool,
    ) -> Result<bool, KafkaError> {
        self.failures += 1;
        if self.failures == 1 {
            tracing::warn!(%error, "{what} failed; keeping the batch, pausing consumption and retrying");
        } else {
            tracing::debug!(%error, attempt = self.failures, "{what} failed again");
        }
        if self.paused.is_none() {
            self.pause(consumer)?;
        }
        let until = Instant::now() + self.wait;
        while Instant::now() < until {
            if stop.load(Ordering::Relaxed) {
                tracing::warn!("stopped during the outage; what was not written is read again on the next start");
                return Ok(false);
            }
            // A partition assigned meanwhile is not paused yet: rewind it to the record this
            // poll returned (so that it is read again after the outage) and pause it too.
            if let Some(msg) = consumer.poll(Duration::from_millis(100)) {
                if let Ok(msg) = msg {
                    consumer.seek(
                        msg.topic(),
                        msg.partition(),
                        Offset::Offset(msg.offset()),
                        Duration::from_secs(5),
                    )?;
                }
                self.pause(consumer)?;
            }
        }
        self.wait = (self.wait * 2).min(self.max_wait);
        Ok(true)
    }

    fn pause(&mut self, consumer: &BaseConsumer) -> Result<(), KafkaError> {
        let assignment = consumer.assignment()?;
        consumer.pause(&assignment)?;
        self.paused = Some(assignment);
        Ok(())
    }

    /// The destination took the batch: resume consumption (if it was paused).
    pub fn end(self, consumer: &BaseConsumer, what: &str) -> Result<(), KafkaError> {
        if self.failures > 0 {
            tracing::info!(
                attempts = self.failures + 1,
                outage_ms = self.started.elapsed().as_millis() as u64,
                "{what} succeeded; resuming"
            );
        }
        if let Some(assignment) = self.paused {
            consumer.resume(&assignment)?;
        }
        Ok(())
    }
}

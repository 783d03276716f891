//! Versioned worker state in Redis: PriceSmooth, EMA and the alert engine keep what they
//! need across restarts here. A value is JSON wrapped with its schema number; a value
//! written under another schema number is reported and ignored (the worker starts that
//! part fresh) rather than misread. Writes go in one MULTI/EXEC per batch, before the worker
//! commits its offsets, so a restart never finds offsets ahead of its state.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("redis {url}: {source}")]
    Redis { url: String, source: redis::RedisError },
    #[error("state `{key}` is not valid JSON: {source}")]
    Json { key: String, source: serde_json::Error },
}

#[derive(Serialize)]
struct Envelope<'a, T> {
    schema: u32,
    data: &'a T,
}

#[derive(Deserialize)]
struct Head {
    schema: u32,
}

#[derive(Deserialize)]
struct Body<T> {
    data: T,
}

/// One Redis connection; every key lives under `prefix`.
pub struct StateStore {
    url: String,
    prefix: String,
    conn: Option<redis::Connection>,
}

impl StateStore {
    /// Does not connect yet: the first command does (and reconnects after an error).
    pub fn new(url: &str, prefix: &str) -> StateStore {
        StateStore { url: url.into(), prefix: prefix.into(), conn: None }
    }

    fn err(&self, source: redis::RedisError) -> StateError {
        StateError::Redis { url: self.url.clone(), source }
    }

    fn conn(&mut self) -> Result<&mut redis::Connection, StateError> {
        if self.conn.is_none() {
            let client = redis::Client::open(self.url.as_str()).map_err(|e| self.err(e))?;
            let conn = client.get_connection_with_timeout(Duration::from_secs(3)).map_err(|e| self.err(e))?;
            conn.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| self.err(e))?;
            self.conn = Some(conn);
        }
        Ok(self.conn.as_mut().expect("just set"))
    }

    /// Run a command; a failed connection is dropped so that the next call reconnects.
    pub fn run<T: redis::FromRedisValue>(&mut self, cmd: &redis::Cmd) -> Result<T, StateError> {
        let result = cmd.query(self.conn()?);
        result.map_err(|e| {
            self.conn = None;
            self.err(e)
        })
    }

    fn run_pipe(&mut self, pipe: &redis::Pipeline) -> Result<(), StateError> {
        let result: Result<(), _> = pipe.query(self.conn()?);
        result.map_err(|e| {
            self.conn = None;
            self.err(e)
        })
    }

    pub fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// The value under `key` if it was written with `schema`.
    pub fn get<T: DeserializeOwned>(&mut self, key: &str, schema: u32) -> Result<Option<T>, StateError> {
        let full = self.key(key);
        let text: Option<String> = self.run(redis::cmd("GET").arg(&full))?;
        let Some(text) = text else { return Ok(None) };
        let head: Head =
            serde_json::from_str(&text).map_err(|source| StateError::Json { key: full.clone(), source })?;
        if head.schema != schema {
            tracing::warn!(key = %full, found = head.schema, expected = schema, "state written by another schema version; starting this part fresh");
            return Ok(None);
        }
        let body: Body<T> = serde_json::from_str(&text).map_err(|source| StateError::Json { key: full, source })?;
        Ok(Some(body.data))
    }

    /// Write every `(key, value)` in one transaction.
    pub fn put_all<T: Serialize>(&mut self, schema: u32, values: &[(String, T)]) -> Result<(), StateError> {
        if values.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        pipe.atomic();
        for (key, data) in values {
            let text = serde_json::to_string(&Envelope { schema, data }).expect("state serialises");
            pipe.cmd("SET").arg(self.key(key)).arg(text).ignore();
        }
        self.run_pipe(&pipe)
    }

    /// Write every `(key, value)` in one round trip; Redis removes each `ttl_ms` later unless
    /// written again (caches other processes read, such as the API's order books).
    pub fn put_all_expiring<T: Serialize>(
        &mut self,
        schema: u32,
        values: &[(String, T)],
        ttl_ms: i64,
    ) -> Result<(), StateError> {
        if values.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for (key, data) in values {
            let text = serde_json::to_string(&Envelope { schema, data }).expect("state serialises");
            pipe.cmd("SET").arg(self.key(key)).arg(text).arg("PX").arg(ttl_ms.max(1)).ignore();
        }
        self.run_pipe(&pipe)
    }

    pub fn put<T: Serialize>(&mut self, key: &str, schema: u32, value: &T) -> Result<(), StateError> {
        self.put_all(schema, &[(key.to_string(), value)])
    }

    /// Like `put`, but Redis removes the key at `expire_at_ms` (Unix ms).
    pub fn put_until<T: Serialize>(
        &mut self,
        key: &str,
        schema: u32,
        value: &T,
        expire_at_ms: i64,
    ) -> Result<(), StateError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        let text = serde_json::to_string(&Envelope { schema, data: value }).expect("state serialises");
        pipe.cmd("SET").arg(self.key(key)).arg(text).ignore();
        pipe.cmd("PEXPIREAT").arg(self.key(key)).arg(expire_at_ms).ignore();
        self.run_pipe(&pipe)
    }

    pub fn delete(&mut self, key: &str) -> Result<bool, StateError> {
        let n: i64 = self.run(redis::cmd("DEL").arg(self.key(key)))?;
        Ok(n > 0)
    }

    /// Keys matching `pattern` under the prefix (SCAN, so a big keyspace is not blocked),
    /// returned without the prefix.
    pub fn keys(&mut self, pattern: &str) -> Result<Vec<String>, StateError> {
        let full = self.key(pattern);
        let mut cursor: u64 = 0;
        let mut out = Vec::new();
        loop {
            let (next, batch): (u64, Vec<String>) =
                self.run(redis::cmd("SCAN").arg(cursor).arg("MATCH").arg(&full).arg("COUNT").arg(500))?;
            out.extend(batch.into_iter().map(|k| k[self.prefix.len()..].to_string()));
            if next == 0 {
                break;
            }
            cursor = next;
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}

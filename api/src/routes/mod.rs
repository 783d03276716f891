//! The routes, and what they share: the caller check, the catalog of venues and instruments,
//! and history queries against ClickHouse (parameterized, cached, paged by keyset).

pub mod alerts;
pub mod market;
pub mod meta;
pub mod quality;
pub mod signals;

use crate::error::ApiError;
use crate::limit::Caller;
use crate::params::{decode_cursor, encode_cursor, Params};
use crate::App;
use axum::extract::{Query, State};
use axum::Json;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

pub type Answer = Result<Json<Value>, ApiError>;
pub type Given = Query<BTreeMap<String, String>>;
pub type AppState = State<Arc<App>>;

/// The venue and instrument a route was asked about, checked against config/symbols.yaml:
/// an unknown venue is a 400, an instrument no venue (or not this venue) lists is a 404.
pub struct Series {
    pub venue: Option<String>,
    pub instrument: Option<String>,
}

impl App {
    pub fn series(
        &self,
        p: &mut Params,
        caller: &Caller,
        need_venue: bool,
        need_instrument: bool,
    ) -> Result<Series, ApiError> {
        let venue = if need_venue { Some(p.required("venue")?) } else { p.opt("venue") };
        let instrument = if need_instrument { Some(p.required("instrument")?) } else { p.opt("instrument") };
        if let Some(v) = &venue {
            if !self.catalog.contains_key(v) {
                let known: Vec<&str> = self.catalog.keys().map(String::as_str).collect();
                return Err(ApiError::bad("venue", format!("unknown venue `{v}`; known: {}", known.join(", "))));
            }
            caller.may_read(v)?;
        } else if !caller.venues.is_empty() {
            return Err(ApiError::bad(
                "venue",
                format!("this API key reads {} only: give `venue`", caller.venues.join(", ")),
            ));
        }
        if let Some(i) = &instrument {
            let listed = match &venue {
                Some(v) => self.catalog[v].iter().any(|x| x == i),
                None => self.catalog.values().flatten().any(|x| x == i),
            };
            if !listed {
                return Err(ApiError::UnknownInstrument {
                    venue: venue.clone().unwrap_or_else(|| "any venue".into()),
                    instrument: i.clone(),
                });
            }
        }
        Ok(Series { venue, instrument })
    }

    /// `from`/`to` with the route's default span ending now, refused when reversed or longer
    /// than `limits.max_range`.
    pub fn range(&self, p: &mut Params, default_span_ms: i64) -> Result<(i64, i64), ApiError> {
        let to = p.time_ms("to")?.unwrap_or_else(|| tickwatch_runtime::produce::now_us() / 1_000 + 1);
        let from = p.time_ms("from")?.unwrap_or(to - default_span_ms);
        if from >= to {
            return Err(ApiError::bad("from", format!("`from` ({from}) must be before `to` ({to})")));
        }
        if to - from > self.durations.max_range_ms {
            return Err(ApiError::bad(
                "to",
                format!(
                    "the range is longer than limits.max_range ({}); page through shorter ranges",
                    self.cfg.limits.max_range
                ),
            ));
        }
        Ok((from, to))
    }

    /// A latest-values answer (no `from`): `limit` caps it; `to` and `cursor` belong to
    /// history and are refused with the reason.
    pub fn latest_page(&self, p: &mut Params, mut values: Vec<Value>) -> Answer {
        for name in ["to", "cursor"] {
            if p.opt(name).is_some() {
                return Err(ApiError::bad(name, format!("`{name}` applies to history: give `from` as well")));
            }
        }
        let limit = self.limit(p)? as usize;
        p.finish_ref()?;
        values.truncate(limit);
        Ok(items(values))
    }

    pub fn limit(&self, p: &mut Params) -> Result<u32, ApiError> {
        p.positive("limit", self.cfg.limits.default_limit, self.cfg.limits.max_limit)
    }
}

/// One history query: `select` (up to its FROM), conditions with their bound parameters, the
/// keyset columns the pages follow (SQL expression, ClickHouse type), and the direction.
pub struct History {
    pub select: &'static str,
    pub conditions: Vec<String>,
    pub params: Vec<(String, String)>,
    pub keys: &'static [(&'static str, &'static str)],
    pub descending: bool,
}

impl History {
    pub fn new(select: &'static str, keys: &'static [(&'static str, &'static str)]) -> History {
        History { select, conditions: Vec::new(), params: Vec::new(), keys, descending: false }
    }

    /// A condition using `{name:Type}` placeholders, and its values.
    pub fn when(mut self, condition: &str, values: &[(&str, String)]) -> History {
        self.conditions.push(condition.to_string());
        self.params.extend(values.iter().map(|(k, v)| (k.to_string(), v.clone())));
        self
    }

    /// Add `column = {name:String}` when the filter was given.
    pub fn equal(self, column: &str, value: &Option<String>) -> History {
        match value {
            Some(v) => {
                let name = format!("eq_{}", column.replace(|c: char| !c.is_ascii_alphanumeric(), "_"));
                self.when(&format!("{column} = {{{name}:String}}"), &[(&name, v.clone())])
            }
            None => self,
        }
    }

    pub fn time_range(self, column: &str, (from, to): (i64, i64)) -> History {
        self.when(
            &format!("{column} >= fromUnixTimestamp64Milli({{from:Int64}}) AND {column} < fromUnixTimestamp64Milli({{to:Int64}})"),
            &[("from", from.to_string()), ("to", to.to_string())],
        )
    }
}

impl App {
    /// Run a history query page: `limit` items after `cursor`, with the next cursor when more
    /// follow. The same query within `cache.history_ttl` is answered from memory.
    pub async fn history(&self, mut q: History, limit: u32, cursor: Option<String>) -> Answer {
        let keys: Vec<&str> = q.keys.iter().map(|k| k.0).collect();
        if let Some(c) = cursor {
            let values = decode_cursor(&c, keys.len())?;
            let holes: Vec<String> = q.keys.iter().enumerate().map(|(i, (_, ty))| format!("{{c{i}:{ty}}}")).collect();
            let op = if q.descending { "<" } else { ">" };
            q.conditions.push(format!("({}) {op} ({})", keys.join(", "), holes.join(", ")));
            for (i, v) in values.iter().enumerate() {
                q.params.push((format!("c{i}"), v.as_str().map_or_else(|| v.to_string(), str::to_string)));
            }
        }
        let dir = if q.descending { " DESC" } else { "" };
        let order: Vec<String> = keys.iter().map(|k| format!("{k}{dir}")).collect();
        // The cursor column goes with the selected columns; every `select` has one ` FROM `.
        let (head, tail) = q.select.split_once(" FROM ").unwrap_or((q.select, ""));
        let sql = format!(
            "{head}, tuple({keys}) AS _cursor FROM {tail} WHERE {conditions} ORDER BY {order} LIMIT {n}",
            keys = keys.join(", "),
            conditions = if q.conditions.is_empty() { "1".to_string() } else { q.conditions.join(" AND ") },
            order = order.join(", "),
            n = limit as u64 + 1
        );
        let cache_key = format!("{sql}\u{0}{:?}", q.params);
        if let Some(hit) = self.history_cache.get(&cache_key) {
            return Ok(Json((*hit).clone()));
        }
        let mut rows = self.clickhouse.query_params(&sql, &q.params).await?;
        let next = if rows.len() > limit as usize {
            rows.truncate(limit as usize);
            rows.last().map(|r| encode_cursor(r["_cursor"].as_array().map(Vec::as_slice).unwrap_or_default()))
        } else {
            None
        };
        for r in &mut rows {
            if let Some(o) = r.as_object_mut() {
                o.remove("_cursor");
            }
        }
        let answer = json!({"items": rows, "next_cursor": next});
        self.history_cache.put(cache_key, Arc::new(answer.clone()));
        Ok(Json(answer))
    }
}

pub fn items(items: Vec<Value>) -> Json<Value> {
    Json(json!({"items": items, "next_cursor": null}))
}

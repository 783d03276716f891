//! The routes, and what they share: the caller check, the catalog of venues and instruments,
//! and history queries against ClickHouse (parameterized, cached, paged by keyset).

pub mod alerts;
pub mod dex;
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

pub type Answer = Result<Reply, ApiError>;

/// A JSON answer: built here, or passed through as text (history pages: ClickHouse's rows
/// go out as it wrote them, never parsed and written again).
pub enum Reply {
    Value(Json<Value>),
    Text(Arc<str>),
}

impl From<Json<Value>> for Reply {
    fn from(v: Json<Value>) -> Reply {
        Reply::Value(v)
    }
}

impl axum::response::IntoResponse for Reply {
    fn into_response(self) -> axum::response::Response {
        match self {
            Reply::Value(v) => v.into_response(),
            Reply::Text(t) => ([(axum::http::header::CONTENT_TYPE, "application/json")], t.to_string()).into_response(),
        }
    }
}
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
            let fits =
                q.keys.iter().zip(&values).all(|((_, ty), v)| if *ty == "Int64" { v.is_i64() } else { v.is_string() });
            if !fits {
                return Err(ApiError::bad("cursor", "`cursor` must be a next_cursor value returned by this route"));
            }
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
            return Ok(Reply::Text(hit));
        }
        let text = self.clickhouse.query_params_text(&sql, &q.params).await?;
        let answer: Arc<str> = page_text(&text, limit as usize)?.into();
        self.history_cache.put(cache_key, answer.clone());
        Ok(Reply::Text(answer))
    }
}

/// `{"items": [rows], "next_cursor": …}` from ClickHouse's JSONEachRow text, whose last
/// column is `_cursor`: it is cut from each row, and read from the last row of a full page.
fn page_text(text: &str, limit: usize) -> Result<String, ApiError> {
    let mut rows: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let next = if rows.len() > limit {
        rows.truncate(limit);
        let last: Value = serde_json::from_str(rows[limit - 1])
            .map_err(|e| ApiError::Unavailable(format!("ClickHouse sent an unreadable row: {e}")))?;
        Some(encode_cursor(last["_cursor"].as_array().map(Vec::as_slice).unwrap_or_default()))
    } else {
        None
    };
    let mut out = String::with_capacity(text.len() + 64);
    out.push_str("{\"items\":[");
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // `_cursor` is the last column, so the row ends `,"_cursor":[…]}`.
        match row.rfind(",\"_cursor\":") {
            Some(at) => {
                out.push_str(&row[..at]);
                out.push('}');
            }
            None => out.push_str(row),
        }
    }
    out.push_str("],\"next_cursor\":");
    out.push_str(&serde_json::to_string(&next).unwrap_or_else(|_| "null".into()));
    out.push('}');
    Ok(out)
}

pub fn items(items: Vec<Value>) -> Reply {
    Reply::Value(Json(json!({"items": items, "next_cursor": null})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_cut_the_cursor_column_and_read_the_next_one() {
        let text = "{\"a\":\"1.5\",\"_cursor\":[1,\"x\"]}\n{\"a\":\"2\",\"_cursor\":[2,\"y\"]}\n{\"a\":\"3\",\"_cursor\":[3,\"z\"]}\n";
        let page: Value = serde_json::from_str(&page_text(text, 2).unwrap()).unwrap();
        assert_eq!(page["items"], json!([{"a": "1.5"}, {"a": "2"}]));
        let cursor = page["next_cursor"].as_str().unwrap();
        assert_eq!(decode_cursor(cursor, 2).unwrap(), vec![json!(2), json!("y")]);
        let all: Value = serde_json::from_str(&page_text(text, 3).unwrap()).unwrap();
        assert_eq!((all["items"].as_array().unwrap().len(), &all["next_cursor"]), (3, &Value::Null));
        let empty: Value = serde_json::from_str(&page_text("", 3).unwrap()).unwrap();
        assert_eq!(empty, json!({"items": [], "next_cursor": null}));
    }
}

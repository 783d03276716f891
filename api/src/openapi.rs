//! The OpenAPI 3.1 document at `/openapi.json`, built from one table of the routes and their
//! parameters (a test checks that every route in it answers and every parameter is accepted).

use serde_json::{json, Map, Value};

/// (name, JSON schema type, required, description)
type Param = (&'static str, &'static str, bool, &'static str);

pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    pub params: &'static [Param],
}

const VENUE: Param = ("venue", "string", false, "Venue, e.g. binance, okx (config/symbols.yaml).");
const VENUE_REQ: Param = ("venue", "string", true, "Venue, e.g. binance.");
const INSTRUMENT: Param = ("instrument", "string", false, "Canonical instrument, e.g. BTC-USDT, BTC-USDT-PERP.");
const INSTRUMENT_REQ: Param = ("instrument", "string", true, "Canonical instrument, e.g. BTC-USDT.");
const INTERVAL: Param = ("interval", "string", false, "Window length from config/windows.yaml (default 1m).");
const FROM: Param = ("from", "string", false, "Start (inclusive): milliseconds since the epoch or RFC 3339.");
const FROM_HOT: Param = ("from", "string", false, "Start of a history query; without it, the latest value per series.");
const TO: Param = ("to", "string", false, "End (exclusive); default now.");
const LIMIT: Param = ("limit", "integer", false, "Items per page (default 500, at most limits.max_limit).");
const CURSOR: Param = ("cursor", "string", false, "next_cursor of the previous page.");

pub const ROUTES: &[Route] = &[
    Route { method: "get", path: "/healthz", summary: "Liveness.", params: &[] },
    Route {
        method: "get",
        path: "/readyz",
        summary: "Readiness: ClickHouse answers and the topics are followed.",
        params: &[],
    },
    Route { method: "get", path: "/api/v1/instruments", summary: "Venues and instruments served.", params: &[VENUE] },
    Route {
        method: "get",
        path: "/api/v1/latest",
        summary: "Latest trade, reference prices and book top per venue and instrument (memory).",
        params: &[VENUE, INSTRUMENT],
    },
    Route {
        method: "get",
        path: "/api/v1/book",
        summary: "Current top levels of an order book (the book worker's Redis snapshot).",
        params: &[VENUE_REQ, INSTRUMENT_REQ, ("depth", "integer", false, "Levels each side (default 20).")],
    },
    Route {
        method: "get",
        path: "/api/v1/klines",
        summary: "K-lines (OHLCV, VWAP) ascending by open time.",
        params: &[VENUE_REQ, INSTRUMENT_REQ, INTERVAL, FROM, TO, LIMIT, CURSOR],
    },
    Route {
        method: "get",
        path: "/api/v1/factors",
        summary: "VWAP and order-book imbalance and depth per window.",
        params: &[VENUE_REQ, INSTRUMENT_REQ, INTERVAL, FROM, TO, LIMIT, CURSOR],
    },
    Route {
        method: "get",
        path: "/api/v1/spreads",
        summary: "Spreads between venues in bps of the pair's mid.",
        params: &[
            INSTRUMENT,
            VENUE,
            ("venue_b", "string", false, "The other venue of the pair."),
            FROM_HOT,
            TO,
            LIMIT,
            CURSOR,
        ],
    },
    Route {
        method: "get",
        path: "/api/v1/divergence",
        summary: "|index − mark| / index in bps per venue.",
        params: &[VENUE, INSTRUMENT, FROM_HOT, TO, LIMIT, CURSOR],
    },
    Route {
        method: "get",
        path: "/api/v1/smooth",
        summary: "PriceSmooth per instrument.",
        params: &[INSTRUMENT, FROM_HOT, TO, LIMIT, CURSOR],
    },
    Route {
        method: "get",
        path: "/api/v1/dex/swaps",
        summary: "DEX swaps ascending by block time (default: the last hour), each at its latest version: confirmed \
            ones (layer=final) or pending and confirmed ones (layer=mixed); retracted swaps never.",
        params: &[
            ("pool", "string", false, "Pool address, 0x + 40 hex digits (any case)."),
            ("instrument", "string", false, "Canonical pair of the pool, e.g. WETH-USDC."),
            ("layer", "string", false, "final (default: confirmed swaps) or mixed (pending and confirmed)."),
            FROM,
            TO,
            LIMIT,
            CURSOR,
        ],
    },
    Route {
        method: "get",
        path: "/api/v1/alerts",
        summary: "Alerts: firing now (state=active, memory) or history (state=all, newest first).",
        params: &[
            ("state", "string", false, "active (default) or all."),
            VENUE,
            INSTRUMENT,
            ("rule", "string", false, "Rule name."),
            ("severity", "string", false, "P1, P2 or P3."),
            FROM,
            TO,
            LIMIT,
            CURSOR,
        ],
    },
    Route { method: "get", path: "/api/v1/silences", summary: "Silences, active or starting later.", params: &[] },
    Route {
        method: "post",
        path: "/api/v1/silences",
        summary: "Create a silence: {\"matchers\": {label: value}, \"duration\": \"2h\", \"comment\": \"…\"}.",
        params: &[],
    },
    Route {
        method: "delete",
        path: "/api/v1/silences/{id}",
        summary: "Delete a silence.",
        params: &[("id", "string", true, "The silence id.")],
    },
    Route {
        method: "get",
        path: "/api/v1/quality",
        summary: "Data quality per minute, venue, instrument and channel.",
        params: &[VENUE, INSTRUMENT, ("channel", "string", false, "trades, depth, …"), FROM, TO, LIMIT, CURSOR],
    },
    Route {
        method: "get",
        path: "/api/v1/quality/summary",
        summary: "Per venue and instrument: messages, gaps, reconnects, lag P95, completeness (default: last hour).",
        params: &[VENUE, INSTRUMENT, FROM, TO],
    },
    Route {
        method: "get",
        path: "/api/v1/slo",
        summary: "SLO report per venue: latency P95, completeness, reconnect recovery P95 (default: last day).",
        params: &[FROM, TO],
    },
];

pub fn document() -> Value {
    let mut paths = Map::new();
    for r in ROUTES {
        let params: Vec<Value> = r
            .params
            .iter()
            .map(|(name, ty, required, description)| {
                json!({"name": name, "in": if r.path.contains(&format!("{{{name}}}")) { "path" } else { "query" },
                    "required": required, "description": description, "schema": {"type": ty}})
            })
            .collect();
        let mut op = json!({
            "summary": r.summary,
            "parameters": params,
            "responses": {
                "200": {"description": "OK (lists: {\"items\": [...], \"next_cursor\": null | string})"},
                "400": {"$ref": "#/components/responses/Error"},
                "404": {"$ref": "#/components/responses/Error"},
                "429": {"$ref": "#/components/responses/Error"},
            },
        });
        if r.path.starts_with("/api/") {
            op["security"] = json!([{}, {"apiKey": []}]);
        }
        let entry = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        entry[r.method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "tickwatch query API", "version": env!("CARGO_PKG_VERSION"),
            "description": "Prices and sizes are exact decimal strings; times are UTC milliseconds (`*_ms`)."},
        "paths": paths,
        "components": {
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
            "responses": {"Error": {"description": "{\"error\": {status, code, parameter?, message}}",
                "content": {"application/json": {"schema": {"type": "object", "properties": {"error": {"type": "object",
                    "properties": {"status": {"type": "integer"}, "code": {"type": "string"},
                        "parameter": {"type": "string"}, "message": {"type": "string"}}}}}}}}},
        },
    })
}

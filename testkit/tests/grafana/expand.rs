//! A dashboard query as ClickHouse receives it from Grafana and the plugin.

use super::*;

/// What Grafana sends for a panel: the time range (epoch ms) and the variables' values. The
/// database is the one the queries run in (the dashboard names `tickwatch`).
pub struct Grafana<'a> {
    pub from_ms: i64,
    pub to_ms: i64,
    pub vars: BTreeMap<&'a str, String>,
    pub database: &'a str,
}

impl Grafana<'_> {
    /// The SQL ClickHouse receives: template variables replaced by the frontend
    /// (`templateSrv.replace`, single values as they are), then the plugin's macros by its
    /// backend (pkg/macros: `$__timeFilter(c)` is `c >= toDateTime(from_s) AND c <=
    /// toDateTime(to_s)`, `$__fromTime`/`$__toTime` are `toDateTime(s)`, seconds truncated).
    pub fn expand(&self, sql: &str) -> String {
        let sql = self.macros(&self.variables(sql));
        assert!(!sql.contains('$'), "something was left unexpanded:\n{sql}");
        if self.database == DASHBOARD_DB {
            sql
        } else {
            sql.replace(&format!("{DASHBOARD_DB}."), &format!("{}.", self.database))
        }
    }

    /// `$name` and `${name}`; `$__...` are Grafana's or the plugin's and stay for `macros`.
    fn variables(&self, sql: &str) -> String {
        let mut out = String::new();
        let mut rest = sql;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let (name, len) = if let Some(braced) = after.strip_prefix('{') {
                let end = braced.find('}').expect("unclosed ${");
                (&braced[..end], end + 2)
            } else {
                let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
                (&after[..end], end)
            };
            if name.starts_with("__") {
                out.push('$');
                rest = after;
                continue;
            }
            let value = self.vars.get(name).unwrap_or_else(|| panic!("unknown variable ${name} in\n{sql}"));
            out.push_str(value);
            rest = &after[len..];
        }
        out.push_str(rest);
        out
    }

    fn macros(&self, sql: &str) -> String {
        let (from_s, to_s) = (self.from_ms.div_euclid(1000), self.to_ms.div_euclid(1000));
        let mut out = String::new();
        let mut rest = sql;
        while let Some(i) = rest.find("$__") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 3..];
            let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
            let name = &after[..end];
            let mut tail = &after[end..];
            let args: Vec<&str> = match tail.strip_prefix('(') {
                Some(inner) => {
                    let close = inner.find(')').expect("unclosed macro");
                    tail = &inner[close + 1..];
                    inner[..close].split(',').map(str::trim).collect()
                }
                None => Vec::new(),
            };
            let expansion = match (name, args.as_slice()) {
                ("timeFilter", [col]) => {
                    format!("{col} >= toDateTime({from_s}) AND {col} <= toDateTime({to_s})")
                }
                ("fromTime", []) => format!("toDateTime({from_s})"),
                ("toTime", []) => format!("toDateTime({to_s})"),
                _ => panic!("macro $__{name}({}) is not one this test knows", args.join(", ")),
            };
            out.push_str(&expansion);
            rest = tail;
        }
        out.push_str(rest);
        out
    }
}

//! `eth_getLogs`: a block range (`fromBlock`/`toBlock`, default latest) or one block
//! (`blockHash`, EIP-234), narrowed by address and position-wise topics, as geth matches them.

use super::chain::State;
use super::logs::Log;
use super::methods::{block_number, check_pruned, hex, RpcError};
use super::NodeFaults;
use serde_json::{json, Value};
use tickwatch_model::hex::to_hex;

/// Per topic position: None matches anything, Some(list) any of the list.
type TopicFilter = Vec<Option<Vec<String>>>;

fn present<'a>(filter: &'a Value, key: &str) -> Option<&'a Value> {
    filter.get(key).filter(|v| !v.is_null())
}

/// The blocks the filter covers, after the node's checks (range, pruning, size limit).
fn block_range(state: &State, faults: &NodeFaults, filter: &Value) -> Result<(u64, u64), RpcError> {
    if let Some(hash) = present(filter, "blockHash") {
        if present(filter, "fromBlock").is_some() || present(filter, "toBlock").is_some() {
            return Err(RpcError::invalid_params(
                "cannot specify both BlockHash and FromBlock/ToBlock, choose one or the other",
            ));
        }
        let hash = hash.as_str().ok_or_else(|| RpcError::invalid_params("blockHash is not a string"))?;
        let number = state.number_of(hash).ok_or_else(|| RpcError::new(-32000, "unknown block"))?;
        check_pruned(faults, number)?;
        return Ok((number, number));
    }
    let latest = json!("latest");
    let from = block_number(state, present(filter, "fromBlock").unwrap_or(&latest))?;
    let to = block_number(state, present(filter, "toBlock").unwrap_or(&latest))?;
    if to > state.head {
        return Err(RpcError::new(-32602, "block range extends beyond current head block"));
    }
    if from > to {
        return Err(RpcError::new(-32602, "invalid block range params"));
    }
    check_pruned(faults, from)?;
    if let Some(limit) = faults.max_block_range {
        let span = to - from + 1;
        if span > limit {
            let until = from + limit.max(1) - 1;
            let message = format!(
                "query exceeds max block range {limit}: {span} blocks requested, try with this block range [{}, {}]",
                hex(from),
                hex(until)
            );
            return Err(RpcError::new(-32005, message));
        }
    }
    Ok((from, to))
}

fn is_address(text: &str) -> bool {
    text.len() == 42 && text.starts_with("0x") && text[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_topic(text: &str) -> bool {
    text.len() == 66 && text.starts_with("0x") && text[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// None: any address; Some(list): any of these (lowercase).
fn addresses(filter: &Value) -> Result<Option<Vec<String>>, RpcError> {
    let list = match present(filter, "address") {
        None => return Ok(None),
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().map(|a| a.as_str().unwrap_or_default()).collect(),
        Some(other) => return Err(RpcError::invalid_params(format!("bad address filter {other}"))),
    };
    match list.iter().find(|a| !is_address(a)) {
        Some(bad) => Err(RpcError::invalid_params(format!("bad address `{bad}`"))),
        None => Ok(Some(list.iter().map(|a| a.to_ascii_lowercase()).collect())),
    }
}

fn topics(filter: &Value) -> Result<TopicFilter, RpcError> {
    let positions = match present(filter, "topics") {
        None => return Ok(Vec::new()),
        Some(Value::Array(positions)) => positions,
        Some(other) => return Err(RpcError::invalid_params(format!("bad topics filter {other}"))),
    };
    let topic = |v: &Value| match v.as_str() {
        Some(t) if is_topic(t) => Ok(t.to_ascii_lowercase()),
        _ => Err(RpcError::invalid_params(format!("bad topic {v}"))),
    };
    positions
        .iter()
        .map(|position| match position {
            Value::Null => Ok(None),
            Value::Array(alternatives) if alternatives.is_empty() || alternatives.iter().any(Value::is_null) => {
                Ok(None)
            }
            Value::Array(alternatives) => alternatives.iter().map(topic).collect::<Result<_, _>>().map(Some),
            one => topic(one).map(|t| Some(vec![t])),
        })
        .collect()
}

fn matches(log: &Log, addresses: &Option<Vec<String>>, topics: &TopicFilter) -> bool {
    if addresses.as_ref().is_some_and(|list| !list.contains(&log.address)) {
        return false;
    }
    // geth: a filter with more positions than the log has topics never matches it.
    if topics.len() > log.topics.len() {
        return false;
    }
    topics.iter().zip(&log.topics).all(|(wanted, topic)| wanted.as_ref().is_none_or(|list| list.contains(topic)))
}

pub(crate) fn log_json(number: u64, block_hash: &str, log: &Log) -> Value {
    json!({
        "address": log.address,
        "topics": log.topics,
        "data": to_hex(&log.data),
        "blockNumber": hex(number),
        "transactionHash": log.tx_hash,
        "transactionIndex": hex(log.tx_index),
        "blockHash": block_hash,
        "logIndex": hex(log.log_index),
        "removed": false,
    })
}

pub(crate) fn get_logs(state: &State, faults: &NodeFaults, params: &Value) -> Result<Value, RpcError> {
    let filter = params
        .get(0)
        .filter(|f| f.is_object())
        .ok_or_else(|| RpcError::invalid_params("eth_getLogs takes one filter object"))?;
    let (from, to) = block_range(state, faults, filter)?;
    let (addresses, topics) = (addresses(filter)?, topics(filter)?);
    let mut found = Vec::new();
    for (&number, body) in state.bodies.range(from..=to) {
        let hash = state.hash_of(number);
        found.extend(body.logs.iter().filter(|l| matches(l, &addresses, &topics)).map(|l| log_json(number, &hash, l)));
    }
    Ok(Value::Array(found))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(topics: &[&str]) -> Log {
        Log {
            address: "0xa43fe16908251ee70ef74718545e4fe6c5ccec9f".into(),
            topics: topics.iter().map(|t| t.to_string()).collect(),
            data: vec![],
            tx_hash: "0x01".into(),
            tx_index: 0,
            log_index: 0,
        }
    }

    #[test]
    fn topics_match_by_position_with_wildcards_and_alternatives() {
        let (a, b, c) =
            (format!("0x{}", "a".repeat(64)), format!("0x{}", "b".repeat(64)), format!("0x{}", "c".repeat(64)));
        let l = log(&[&a, &b]);
        let filter = |t: Value| topics(&json!({ "topics": t })).unwrap();
        assert!(matches(&l, &None, &filter(json!([a, null]))));
        assert!(matches(&l, &None, &filter(json!([[c, a.to_uppercase().replace("0X", "0x")], b]))));
        assert!(!matches(&l, &None, &filter(json!([c]))));
        assert!(!matches(&l, &None, &filter(json!([null, null, null]))), "more positions than topics");
        let upper = json!({"address": ["0xA43FE16908251EE70EF74718545E4FE6C5CCEC9F"]});
        assert!(matches(&l, &addresses(&upper).unwrap(), &Vec::new()));
        assert!(!matches(&l, &addresses(&json!({"address": format!("0x{}", "1".repeat(40))})).unwrap(), &Vec::new()));
        assert!(addresses(&json!({"address": "0x12"})).is_err() && topics(&json!({"topics": ["0x12"]})).is_err());
    }
}

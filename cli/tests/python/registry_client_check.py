"""Conformance of tickwatch's Schema Registry with a third-party client from PyPI
(python-schema-registry-client, which encodes with fastavro).

Run by cli/tests/registry_conformance.rs:
    python registry_client_check.py REGISTRY_URL SUBJECT SCHEMA_FILE FRAMED_HEX
FRAMED_HEX is a Trade that tickwatch framed (Confluent wire format) with the id it registered
under SUBJECT. Prints one JSON object: what this client decoded from it, and a Trade this
client encoded, for the Rust side to decode. Exits non-zero on any failed check.
"""
import datetime
import decimal
import json
import sys

from schema_registry.client import SchemaRegistryClient, schema
from schema_registry.client.errors import ClientError
from schema_registry.serializers import AvroMessageSerializer

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def micros(value):
    if isinstance(value, datetime.datetime):
        return (value - EPOCH) // datetime.timedelta(microseconds=1)
    return value


def plain(record):
    out = {}
    for key, value in record.items():
        if isinstance(value, decimal.Decimal):
            out[key] = format(value.normalize(), "f")
        elif isinstance(value, datetime.datetime):
            out[key] = micros(value)
        else:
            out[key] = value
    return out


def main():
    url, subject, schema_file, framed_hex = sys.argv[1:5]
    client = SchemaRegistryClient(url=url)
    with open(schema_file) as f:
        trade = json.load(f)
    trade_schema = schema.AvroSchema(trade)

    # Registering what tickwatch registered gives the same id; twice is still the same id.
    schema_id = client.register(subject, trade_schema)
    assert client.register(subject, trade_schema) == schema_id
    latest = client.get_schema(subject)
    assert latest.schema_id == schema_id and latest.version == 1, latest
    assert client.get_by_id(schema_id).raw_schema == trade
    assert client.check_version(subject, trade_schema).schema_id == schema_id
    assert subject in client.get_subjects()

    # Compatibility: an added field with a default passes; a type change does not.
    added = json.loads(json.dumps(trade))
    added["fields"].append({"name": "liquidation", "type": "boolean", "default": False})
    assert client.test_compatibility(subject, schema.AvroSchema(added)) is True
    changed = json.loads(json.dumps(trade))
    for field in changed["fields"]:
        if field["name"] == "trade_id":
            field["type"] = "long"
    assert client.test_compatibility(subject, schema.AvroSchema(changed)) is False
    try:
        client.register(subject, schema.AvroSchema(changed))
        raise AssertionError("an incompatible schema was accepted")
    except ClientError as err:
        assert err.http_code == 409, err
    # Like Confluent's, the registry has no subject-level config until one is set.
    assert client.update_compatibility("BACKWARD", subject)
    assert client.get_compatibility(subject) == "BACKWARD"

    serializer = AvroMessageSerializer(client)
    decoded = serializer.decode_message(bytes.fromhex(framed_hex))

    mine = {
        "venue": "okx", "instrument": "BTC-USDT-PERP", "base": "BTC", "quote": "USDT",
        "kind": "PERP", "expiry_us": None, "venue_symbol": "BTC-USDT-SWAP", "trade_id": "py-1",
        "price": decimal.Decimal("29123.4"), "size": decimal.Decimal("0.000000000000000001"),
        "taker_side": "BUY", "event_time_us": 1_652_400_000_000_123,
        "receive_time_us": 1_652_400_000_002_456, "source_lag_ms": 2, "sequence": None,
    }
    encoded = serializer.encode_record_with_schema(subject, trade_schema, mine)
    print(json.dumps({"schema_id": schema_id, "decoded": plain(decoded), "encoded_hex": encoded.hex()}))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Offline throughput of cryptofeed's own WebSocket message handling.

Replays recorded venue frames (raw JSON text, exactly what the socket hands over)
through `Feed.message_handler`, the coroutine cryptofeed's ConnectionHandler awaits
for every received message, and reports frames per second as one JSON line.

Setup (Python 3.11; cryptofeed 2.4.1 ships no wheel, pip builds it, needs a C compiler):
    python3.11 -m venv .venv && .venv/bin/pip install -r requirements.txt

Usage:
    .venv/bin/python parse_bench.py --fixtures ../../../shared/fixtures \
        --venue binance|binance-usdm|okx|bybit --kind trades|all [--repeat N]

No network is touched. The only things cryptofeed would fetch over REST are fed from
recordings or built from the recorded frames (see seed_symbols and RecordedRest).
"""
import argparse
import asyncio
import importlib.metadata
import json
import logging
import re
import sys
import time
import types
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from cryptofeed.defines import CANDLES, FUNDING, L2_BOOK, LIQUIDATIONS, TICKER, TRADES
from cryptofeed.exchanges import OKX, Binance, BinanceFutures, Bybit
from cryptofeed.symbols import Symbols

# venue -> (feed class, fixture folder, recording file)
VENUES = {
    'binance': (Binance, 'binance_spot', 'ws_combined_stream_recording.jsonl'),
    'binance-usdm': (BinanceFutures, 'binance_usdm', 'ws_combined_stream_recording.jsonl'),
    'okx': (OKX, 'okx', 'ws_public_recording.jsonl'),
    'bybit': (Bybit, 'bybit', 'orderbook_500_XRPUSDT_2024-12-01_historical.jsonl'),
}


def is_trade(venue: str, msg: dict) -> bool:
    if venue.startswith('binance'):
        return msg['data'].get('e') == 'aggTrade'
    if venue == 'okx':
        return 'event' not in msg and msg['arg']['channel'] == 'trades'
    return msg.get('topic', '').startswith('publicTrade')


def seed_symbols(venue: str, cls, folder: Path, frames: list) -> None:
    """Fill cryptofeed's symbol cache so that Feed.__init__ skips its REST download.

    Exchange.__init__ only calls symbol_mapping() (an HTTP GET of the instrument list)
    when Symbols.populated(id) is false. We run the class's own _parse_symbol_data on a
    response body instead, so symbol normalisation is still cryptofeed's code.
    """
    if venue.startswith('binance'):
        # The recorded /exchangeInfo body from the same session as the frames.
        body = json.loads((folder / 'rest_exchangeInfo.json').read_text())
    elif venue == 'okx':
        # No instruments recording exists: build the /api/v5/public/instruments body
        # from the instIds seen in the frames, with only the fields cryptofeed reads.
        ids = sorted({m['arg']['instId'] for m in frames})
        rows = []
        for inst in ids:
            parts = inst.split('-')
            if parts[-1] == 'SWAP':
                rows.append({'instType': 'SWAP', 'instId': inst, 'tickSz': '0'})
            elif len(parts) == 3:
                rows.append({'instType': 'FUTURES', 'instId': inst, 'tickSz': '0'})
            else:
                rows.append({'instType': 'SPOT', 'instId': inst, 'baseCcy': parts[0],
                             'quoteCcy': parts[1], 'tickSz': '0'})
        body = [{'data': rows}]
    else:
        # Same idea for Bybit's /v5/market/instruments-info (category=linear): the
        # recording is orderbook.500.<SYMBOL> of USDT/USDC linear perpetuals.
        rows = []
        for sym in sorted({m['topic'].split('.')[-1] for m in frames}):
            base, quote = re.fullmatch(r'(\w+?)(USDT|USDC)', sym).groups()
            rows.append({'symbol': sym, 'contractType': 'LinearPerpetual', 'baseCoin': base,
                         'quoteCoin': quote, 'priceFilter': {'tickSize': '0'}})
        body = [{'result': {'list': rows}}]
    Symbols.set(cls.id, *cls._parse_symbol_data(body))


class RecordedRest:
    """Stands in for feed.http_conn: answers Binance's depth-snapshot GET
    (/api/v3/depth?symbol=X&limit=1000) with the REST body recorded next to the frames."""

    def __init__(self, folder: Path):
        self.bodies = {p.stem.removeprefix('rest_depth_snapshot_'): p.read_text()
                       for p in folder.glob('rest_depth_snapshot_*.json')}

    async def read(self, address, **_):
        return self.bodies[parse_qs(urlparse(address).query)['symbol'][0]]

    async def close(self):
        pass


class WarningCounter(logging.Handler):
    """A book reset or an unknown message shows up only as a log line: count them so
    a run that silently took a degraded path is visible in the result."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record):
        self.count += 1


async def main(args) -> dict:
    cls, sub, recording = VENUES[args.venue]
    folder = Path(args.fixtures) / sub
    lines = [ln for ln in (folder / recording).read_text().splitlines() if ln.strip()]
    parsed = [json.loads(ln) for ln in lines]
    if args.kind == 'trades':
        keep = [is_trade(args.venue, m) for m in parsed]
        lines = [ln for ln, k in zip(lines, keep) if k]
        parsed = [m for m, k in zip(parsed, keep) if k]
    if not lines:
        sys.exit(f'{args.venue}: the recording has no {args.kind} frames')

    seed_symbols(args.venue, cls, folder, parsed)

    # Callbacks are bare counters so that the figure is cryptofeed's parsing and
    # normalisation cost (JSON, Decimal, Trade/OrderBook objects), not ours.
    counts = {'trades': 0, 'books': 0, 'other': 0}

    def counter(key):
        async def cb(obj, receipt_timestamp):
            counts[key] += 1
        return cb

    feed = cls(callbacks={TRADES: counter('trades'), L2_BOOK: counter('books'),
                          TICKER: counter('other'), CANDLES: counter('other'),
                          FUNDING: counter('other'), LIQUIDATIONS: counter('other')})
    feed.http_conn = RecordedRest(folder)
    # message_handler only reads conn.address (Bybit: linear vs spot market).
    conn = types.SimpleNamespace(address=cls.websocket_endpoints[0].address, uuid=feed.id)

    # Binance depth needs a REST snapshot per symbol before the diff stream applies.
    # cryptofeed fetches it lazily on the first depthUpdate; we reset the book state and
    # take it (from RecordedRest) before each pass, outside the timer, so every pass
    # replays the same snapshot+diff sequence and the timing is steady-state frame
    # handling only. OKX and Bybit carry their snapshots in the stream itself.
    depth_pairs = sorted({m['stream'].split('@')[0].upper() for m in parsed
                          if args.venue.startswith('binance') and m['data'].get('e') == 'depthUpdate'})

    async def prepare_pass():
        if depth_pairs:
            saved = dict(counts)
            feed._reset()
            for pair in depth_pairs:
                await feed._snapshot(pair)
            counts.update(saved)

    async def one_pass():
        handler = feed.message_handler
        for raw in lines:
            # ConnectionHandler passes the receive wall-clock time the same way.
            await handler(raw, conn, time.time())

    warnings = WarningCounter()
    logging.getLogger('feedhandler').addHandler(warnings)

    await prepare_pass()
    await one_pass()  # warm-up: first-use costs (imports, caches) stay out of the figure
    for k in counts:
        counts[k] = 0
    warnings.count = 0

    passes, elapsed = 0, 0.0
    while (passes < args.repeat) if args.repeat else (elapsed < args.min_seconds):
        await prepare_pass()
        t0 = time.perf_counter()
        await one_pass()
        elapsed += time.perf_counter() - t0
        passes += 1

    frames = passes * len(lines)
    return {'venue': args.venue, 'kind': args.kind, 'frames': frames,
            'seconds': round(elapsed, 4), 'frames_per_second': round(frames / elapsed, 1),
            'trades_seen': counts['trades'], 'books_seen': counts['books'],
            'other_seen': counts['other'], 'passes': passes, 'frames_per_pass': len(lines),
            'log_warnings': warnings.count,
            'cryptofeed_version': importlib.metadata.version('cryptofeed')}


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--fixtures', required=True, help='path to shared/fixtures')
    ap.add_argument('--venue', required=True, choices=sorted(VENUES))
    ap.add_argument('--kind', default='all', choices=['trades', 'all'])
    ap.add_argument('--repeat', type=int, default=0,
                    help='passes over the recording (default: as many as fit in --min-seconds)')
    ap.add_argument('--min-seconds', type=float, default=2.0)
    args = ap.parse_args()
    # cryptofeed's FeedHandler runs on uvloop by default (config 'uvloop': True).
    try:
        import uvloop
        run = uvloop.run
    except ImportError:
        run = asyncio.run
    print(json.dumps(run(main(args))))

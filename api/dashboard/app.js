// The tickwatch dashboard: plain ES, no bundler. The API serves this file as /assets/app.js
// and the chart library (npm `lightweight-charts`, standalone build) as
// /assets/vendor/lightweight-charts.js, which defines the global `LightweightCharts`.
//
// URL parameters: venue, instrument, interval (1s|5s|1m), hours (range of the charts),
// refresh (seconds between refreshes), key (sent as the X-API-Key header).
//
// For tests, after each render: `data-points` (points drawn), `data-series` and `data-state`
// (loading|ok|empty|error) on each chart container, `data-rows` and `data-state` on each
// table, and `document.body.dataset.ready = "1"` once every panel has loaded once.
"use strict";

(function () {
  const LWC = window.LightweightCharts;
  const params = new URLSearchParams(window.location.search);
  const INTERVALS = ["1s", "5s", "1m"];
  const INTERVAL_MS = { "1s": 1000, "5s": 5000, "1m": 60000 };
  const PAGE = 5000; // the API's largest page
  const MAX_ITEMS = 100000; // the most items one chart loads over its range
  const FULL_RELOAD_MS = 10 * 60 * 1000; // besides incremental refreshes
  const REFETCH_MS = 5 * 60 * 1000; // re-read the last minutes each refresh (late corrections)
  const COLORS = ["#4fc3f7", "#ffb74d", "#ba68c8", "#81c784", "#f06292", "#fff176", "#90a4ae", "#e57373"];

  const state = {
    apiKey: params.get("key") || "",
    venue: params.get("venue") || "",
    instrument: params.get("instrument") || "",
    interval: INTERVALS.includes(params.get("interval")) ? params.get("interval") : "1m",
    hours: positive(params.get("hours"), 6),
    refreshMs: positive(params.get("refresh"), 5) * 1000,
    instruments: [], // [{venue, instrument, kind, venue_symbol}]
    instrumentsError: null, // the last failure of /api/v1/instruments (tried again each refresh)
    generation: 0, // bumped on every change of selection; stale answers are dropped
    timer: null,
    lastFullLoad: 0,
  };

  const $ = (id) => document.getElementById(id);

  function positive(text, fallback) {
    const n = Number(text);
    return Number.isFinite(n) && n > 0 ? n : fallback;
  }

  // ---------------------------------------------------------------- API access

  class ApiError extends Error {}

  async function api(path, query) {
    const url = new URL(path, window.location.origin);
    for (const [k, v] of Object.entries(query || {})) {
      if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, String(v));
    }
    const headers = { Accept: "application/json" };
    if (state.apiKey) headers["X-API-Key"] = state.apiKey;
    let res;
    try {
      res = await fetch(url, { headers, cache: "no-store" });
    } catch (e) {
      throw new ApiError(`cannot reach the API (${path}): ${e.message}`);
    }
    const text = await res.text();
    let body = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch (_) {
      body = null;
    }
    if (!res.ok) {
      const err = body && body.error;
      if (err && err.message) {
        const code = err.code ? ` ${err.code}` : "";
        throw new ApiError(`${res.status}${code}: ${err.message}`);
      }
      throw new ApiError(`${res.status} ${res.statusText || "error"} from ${path}${text ? `: ${text.slice(0, 200)}` : ""}`);
    }
    if (body === null) throw new ApiError(`${path} answered something that is not JSON`);
    return body;
  }

  // A list that comes in one answer (/instruments, active alerts, /quality/summary: these
  // routes take no `limit` or `cursor`).
  async function apiList(path, query) {
    const body = await api(path, query);
    return { items: body.items || [], truncated: false };
  }

  // Every page of a paged list (history), following `next_cursor`, up to `max` items.
  async function apiAll(path, query, max = MAX_ITEMS) {
    const items = [];
    let cursor = null;
    for (;;) {
      const page = await api(path, { ...query, limit: PAGE, cursor });
      items.push(...(page.items || []));
      cursor = page.next_cursor;
      if (!cursor || items.length >= max) return { items, truncated: Boolean(cursor) };
    }
  }

  // ---------------------------------------------------------------- formatting

  function utc(ms, withDate = true) {
    if (ms === null || ms === undefined) return "";
    const iso = new Date(ms).toISOString(); // 2026-11-25T10:00:00.000Z
    return withDate ? `${iso.slice(0, 10)} ${iso.slice(11, 19)}` : iso.slice(11, 19);
  }

  function sameDay(ms) {
    return new Date(ms).toISOString().slice(0, 10) === new Date().toISOString().slice(0, 10);
  }

  function fmtNumber(v, digits = 2) {
    if (v === null || v === undefined || v === "") return "–";
    const n = Number(v);
    if (!Number.isFinite(n)) return String(v);
    return n.toLocaleString("en-US", { maximumFractionDigits: digits });
  }

  function hoursLabel() {
    return `${state.hours} h`;
  }

  // Decimal places of a decimal string ("64123.50" → 2).
  function places(text) {
    const s = String(text);
    const dot = s.indexOf(".");
    return dot < 0 ? 0 : s.length - dot - 1;
  }

  // ---------------------------------------------------------------- panels

  // A panel's message line: empty or error state (the chart or table stays underneath).
  function setMessage(name, kind, text) {
    const el = $(`msg-${name}`);
    if (!kind) {
      el.hidden = true;
      el.textContent = "";
      el.className = "message";
      return;
    }
    el.hidden = false;
    el.className = `message ${kind}`;
    el.textContent = text;
  }

  function markChart(name, st, points, series) {
    const el = $(`chart-${name}`);
    el.dataset.state = st;
    el.dataset.points = String(points);
    el.dataset.series = String(series);
    el.dataset.updatedAt = String(Date.now());
  }

  function markTable(name, st, rows) {
    const el = $(`table-${name}`);
    el.dataset.state = st;
    el.dataset.rows = String(rows);
    el.dataset.updatedAt = String(Date.now());
  }

  function chartOptions() {
    return {
      autoSize: true,
      layout: { background: { type: "solid", color: "#131722" }, textColor: "#c7ccd6", fontSize: 11 },
      grid: { vertLines: { color: "#1f2433" }, horzLines: { color: "#1f2433" } },
      rightPriceScale: { borderColor: "#2a2f3d" },
      timeScale: { borderColor: "#2a2f3d", timeVisible: true, secondsVisible: true },
      crosshair: { mode: 0 },
      localization: { timeFormatter: (t) => utc(t * 1000) },
    };
  }

  // ---- candlesticks (+ volume)

  const klines = {
    chart: null,
    candles: null,
    volume: null,
    bars: new Map(), // open_time_ms → item
    key: "",
    precision: -1,

    init() {
      this.chart = LWC.createChart($("chart-klines"), chartOptions());
      this.chart.applyOptions({ timeScale: { secondsVisible: state.interval !== "1m" } });
      this.candles = this.chart.addSeries(LWC.CandlestickSeries, {
        upColor: "#26a69a",
        downColor: "#ef5350",
        borderVisible: false,
        wickUpColor: "#26a69a",
        wickDownColor: "#ef5350",
      });
      this.volume = this.chart.addSeries(LWC.HistogramSeries, {
        priceFormat: { type: "volume" },
        priceScaleId: "volume",
        lastValueVisible: false,
        priceLineVisible: false,
      });
      this.chart.priceScale("volume").applyOptions({ scaleMargins: { top: 0.82, bottom: 0 } });
    },

    async load(gen, full) {
      const key = `${state.venue}|${state.instrument}|${state.interval}|${state.hours}`;
      $("klines-title").textContent = state.venue && state.instrument
        ? `${state.venue} · ${state.instrument} · ${state.interval} · last ${hoursLabel()}`
        : "";
      if (!state.venue || !state.instrument) {
        this.reset();
        markChart("klines", "empty", 0, 0);
        setMessage("klines", "empty", "choose a venue and an instrument");
        return;
      }
      const now = Date.now();
      const rangeStart = now - state.hours * 3600e3;
      const incremental = !full && key === this.key && this.bars.size > 0;
      const last = incremental ? Math.max(...this.bars.keys()) : 0;
      const from = incremental ? Math.max(rangeStart, last - REFETCH_MS) : rangeStart;
      try {
        const { items, truncated } = await apiAll("/api/v1/klines", {
          venue: state.venue,
          instrument: state.instrument,
          interval: state.interval,
          from: Math.floor(from),
        });
        if (gen !== state.generation) return;
        if (!incremental) {
          this.reset();
          this.key = key;
          this.chart.applyOptions({ timeScale: { secondsVisible: state.interval !== "1m" } });
        }
        for (const k of items) this.bars.set(Number(k.open_time_ms), k);
        this.draw(!incremental);
        const n = this.bars.size;
        if (n === 0) {
          markChart("klines", "empty", 0, 0);
          setMessage("klines", "empty", `no k-lines in the last ${hoursLabel()} for ${state.venue} ${state.instrument} ${state.interval}`);
        } else {
          markChart("klines", "ok", n, 1);
          setMessage("klines", truncated ? "note" : null, truncated ? `showing the first ${n} k-lines of the range` : "");
        }
      } catch (e) {
        if (gen !== state.generation) return;
        markChart("klines", "error", this.bars.size, this.bars.size ? 1 : 0);
        setMessage("klines", "error", e.message);
      }
    },

    reset() {
      this.bars.clear();
      this.key = "";
      this.precision = -1;
      this.candles.setData([]);
      this.volume.setData([]);
    },

    draw(fit) {
      const sorted = [...this.bars.entries()].sort((a, b) => a[0] - b[0]);
      const candles = [];
      const volume = [];
      let precision = 0;
      for (const [t, k] of sorted) {
        const time = t / 1000;
        const open = Number(k.open);
        const close = Number(k.close);
        candles.push({ time, open, high: Number(k.high), low: Number(k.low), close });
        volume.push({ time, value: Number(k.volume), color: close >= open ? "#26a69a55" : "#ef535055" });
        precision = Math.max(precision, places(k.open), places(k.high), places(k.low), places(k.close));
      }
      precision = Math.min(precision, 8);
      if (precision !== this.precision) {
        this.precision = precision;
        this.candles.applyOptions({ priceFormat: { type: "price", precision, minMove: 10 ** -precision } });
      }
      this.candles.setData(candles);
      this.volume.setData(volume);
      if (fit && candles.length) this.chart.timeScale().fitContent();
    },
  };

  // ---- line charts, one line per group (spreads: per venue pair; divergence: per venue)

  function lineChart(name, path, groupOf, emptyText) {
    return {
      name,
      chart: null,
      series: new Map(), // group → {series, points: Map(second → value)}
      key: "",
      lastAt: 0,

      init() {
        this.chart = LWC.createChart($(`chart-${name}`), chartOptions());
      },

      reset() {
        for (const s of this.series.values()) this.chart.removeSeries(s.series);
        this.series.clear();
        this.key = "";
        this.lastAt = 0;
        $(`legend-${name}`).replaceChildren();
      },

      group(label) {
        let s = this.series.get(label);
        if (!s) {
          const color = COLORS[this.series.size % COLORS.length];
          const series = this.chart.addSeries(LWC.LineSeries, {
            color,
            lineWidth: 2,
            title: label,
            priceFormat: { type: "price", precision: 2, minMove: 0.01 },
          });
          s = { series, points: new Map(), color };
          this.series.set(label, s);
          const item = document.createElement("span");
          item.className = "legend-item";
          item.dataset.series = label;
          item.style.setProperty("--c", color);
          item.textContent = label;
          $(`legend-${name}`).append(item);
        }
        return s;
      },

      async load(gen, full) {
        const key = `${state.instrument}|${state.hours}`;
        if (!state.instrument) {
          this.reset();
          markChart(name, "empty", 0, 0);
          setMessage(name, "empty", "choose an instrument");
          return;
        }
        const now = Date.now();
        const rangeStart = now - state.hours * 3600e3;
        const incremental = !full && key === this.key && this.lastAt > 0;
        const from = incremental ? Math.max(rangeStart, this.lastAt + 1) : rangeStart;
        try {
          const { items, truncated } = await apiAll(path, { instrument: state.instrument, from: Math.floor(from) });
          if (gen !== state.generation) return;
          if (!incremental) {
            this.reset();
            this.key = key;
          }
          const touched = new Set();
          let unit = "";
          for (const it of items) {
            const label = groupOf(it);
            const s = this.group(label);
            // One point per second and line (the chart's time axis is in seconds).
            s.points.set(Math.floor(Number(it.at_ms) / 1000), Number(it.value));
            touched.add(label);
            this.lastAt = Math.max(this.lastAt, Number(it.at_ms));
            unit = it.unit || unit;
          }
          for (const label of touched) {
            const s = this.series.get(label);
            const data = [...s.points.entries()].sort((a, b) => a[0] - b[0]).map(([time, value]) => ({ time, value }));
            s.series.setData(data);
          }
          if (!incremental && touched.size) this.chart.timeScale().fitContent();
          let points = 0;
          for (const s of this.series.values()) points += s.points.size;
          if (points === 0) {
            markChart(name, "empty", 0, 0);
            setMessage(name, "empty", `${emptyText} for ${state.instrument} in the last ${hoursLabel()}`);
          } else {
            markChart(name, "ok", points, this.series.size);
            const note = truncated ? `showing the first ${points} points of the range` : unit && unit !== "bps" ? `unit: ${unit}` : "";
            setMessage(name, note ? "note" : null, note);
          }
        } catch (e) {
          if (gen !== state.generation) return;
          let points = 0;
          for (const s of this.series.values()) points += s.points.size;
          markChart(name, "error", points, this.series.size);
          setMessage(name, "error", e.message);
        }
      },
    };
  }

  const spreads = lineChart(
    "spreads",
    "/api/v1/spreads",
    (it) => `${it.venue} − ${it.venue_b}`,
    "no spreads"
  );
  const divergence = lineChart("divergence", "/api/v1/divergence", (it) => it.venue, "no divergence");

  // ---- tables

  function cell(tr, text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    tr.append(td);
    return td;
  }

  const alerts = {
    async load(gen) {
      try {
        const { items } = await apiList("/api/v1/alerts", { state: "active" });
        if (gen !== state.generation) return;
        const body = $("table-alerts").tBodies[0];
        body.replaceChildren(
          ...items.map((a) => {
            const tr = document.createElement("tr");
            tr.dataset.rule = a.rule || "";
            tr.dataset.venue = a.venue || "";
            tr.dataset.instrument = a.instrument || "";
            if (a.instrument && a.instrument === state.instrument) tr.classList.add("selected");
            const sev = cell(tr, a.severity || "", "severity");
            sev.dataset.severity = a.severity || "";
            cell(tr, a.rule || "", "rule");
            cell(tr, a.venue || "–");
            cell(tr, a.instrument || "–");
            cell(tr, `${fmtNumber(a.value, 4)} / ${fmtNumber(a.threshold, 4)}`, "num");
            cell(tr, a.summary || "", "summary");
            const since = cell(tr, utc(a.started_at_ms, sameDay(a.started_at_ms) ? false : true));
            since.title = utc(a.started_at_ms);
            return tr;
          })
        );
        markTable("alerts", items.length ? "ok" : "empty", items.length);
        setMessage("alerts", items.length ? null : "empty", items.length ? "" : "no active alerts");
      } catch (e) {
        if (gen !== state.generation) return;
        markTable("alerts", "error", $("table-alerts").tBodies[0].rows.length);
        setMessage("alerts", "error", e.message);
      }
    },
  };

  const quality = {
    async load(gen) {
      try {
        const { items } = await apiList("/api/v1/quality/summary", {});
        if (gen !== state.generation) return;
        // The selected instrument first, then by venue and instrument.
        const rank = (q) => (q.instrument === state.instrument ? 0 : 1);
        items.sort((a, b) => rank(a) - rank(b) || a.venue.localeCompare(b.venue) || a.instrument.localeCompare(b.instrument));
        const body = $("table-quality").tBodies[0];
        body.replaceChildren(
          ...items.map((q) => {
            const tr = document.createElement("tr");
            tr.dataset.venue = q.venue;
            tr.dataset.instrument = q.instrument;
            if (q.instrument === state.instrument) tr.classList.add("selected");
            cell(tr, q.venue);
            cell(tr, q.instrument);
            cell(tr, fmtNumber(q.minutes, 0), "num");
            cell(tr, fmtNumber(q.messages, 0), "num");
            cell(tr, fmtNumber(q.gaps, 0), Number(q.gaps) > 0 ? "num bad" : "num");
            cell(tr, fmtNumber(q.reconnects, 0), Number(q.reconnects) > 0 ? "num warn" : "num");
            cell(tr, q.lag_p95_ms === null || q.lag_p95_ms === undefined ? "–" : `${fmtNumber(q.lag_p95_ms, 0)} ms`, "num");
            const c = q.completeness;
            const pct = c === null || c === undefined ? "–" : `${(Number(c) * 100).toFixed(1)} %`;
            const cls = c === null || c === undefined ? "num" : Number(c) >= 0.99 ? "num good" : Number(c) >= 0.9 ? "num warn" : "num bad";
            cell(tr, pct, cls);
            return tr;
          })
        );
        markTable("quality", items.length ? "ok" : "empty", items.length);
        setMessage("quality", items.length ? null : "empty", items.length ? "" : "no data-quality figures in the last 1 h");
      } catch (e) {
        if (gen !== state.generation) return;
        markTable("quality", "error", $("table-quality").tBodies[0].rows.length);
        setMessage("quality", "error", e.message);
      }
    },
  };

  // ---------------------------------------------------------------- selectors

  function fillSelect(select, values, selected) {
    select.replaceChildren(
      ...values.map((v) => {
        const o = document.createElement("option");
        o.value = v;
        o.textContent = v;
        o.selected = v === selected;
        return o;
      })
    );
    if (values.length === 0) {
      const o = document.createElement("option");
      o.value = "";
      o.textContent = "–";
      select.append(o);
    }
  }

  function venues() {
    const v = new Set(state.instruments.map((i) => i.venue));
    if (state.venue) v.add(state.venue); // preselected by the URL though not listed
    return [...v].sort();
  }

  function instrumentsOf(venue) {
    const v = new Set(state.instruments.filter((i) => i.venue === venue).map((i) => i.instrument));
    if (state.instrument && venue === state.venue) v.add(state.instrument);
    return [...v].sort();
  }

  function fillSelectors() {
    const vs = venues();
    if (!state.venue && vs.length) state.venue = vs[0];
    fillSelect($("venue"), vs, state.venue);
    const is = instrumentsOf(state.venue);
    if (!is.includes(state.instrument)) state.instrument = is[0] || "";
    fillSelect($("instrument"), is, state.instrument);
    $("interval").value = state.interval;
    const hours = $("hours");
    if (![...hours.options].some((o) => Number(o.value) === state.hours)) {
      const o = document.createElement("option");
      o.value = String(state.hours);
      o.textContent = `${state.hours} h`;
      hours.append(o);
    }
    hours.value = String(state.hours);
  }

  function writeUrl() {
    const p = new URLSearchParams(window.location.search);
    p.set("venue", state.venue);
    p.set("instrument", state.instrument);
    p.set("interval", state.interval);
    if (state.hours !== 6 || p.has("hours")) p.set("hours", String(state.hours));
    window.history.replaceState(null, "", `${window.location.pathname}?${p}`);
  }

  function onChange(e) {
    if (e.target.id === "venue") {
      state.venue = e.target.value;
      state.instrument = ""; // the new venue's first instrument, unless it lists the same one
      const keep = $("instrument").value;
      if (instrumentsOf(state.venue).includes(keep)) state.instrument = keep;
    } else if (e.target.id === "instrument") {
      state.instrument = e.target.value;
    } else if (e.target.id === "interval") {
      state.interval = e.target.value;
    } else if (e.target.id === "hours") {
      state.hours = positive(e.target.value, 6);
    }
    fillSelectors();
    writeUrl();
    refresh(true);
  }

  // ---------------------------------------------------------------- refresh loop

  function setStatus(kind, text) {
    const el = $("status");
    el.className = `status ${kind}`;
    el.textContent = text;
  }

  async function loadInstruments() {
    try {
      const { items } = await apiList("/api/v1/instruments", {});
      state.instruments = items;
      state.instrumentsError = null;
    } catch (e) {
      state.instrumentsError = e.message;
    }
  }

  async function refresh(full) {
    clearTimeout(state.timer);
    if (full) state.generation += 1;
    const gen = state.generation;
    const now = Date.now();
    const fullLoad = full || now - state.lastFullLoad > FULL_RELOAD_MS;
    if (fullLoad) state.lastFullLoad = now;
    if (state.instrumentsError) {
      const before = `${state.venue}|${state.instrument}`;
      await loadInstruments();
      if (gen !== state.generation) return;
      if (!state.instrumentsError) {
        fillSelectors();
        if (`${state.venue}|${state.instrument}` !== before) {
          writeUrl();
          return refresh(true);
        }
      }
    }
    await Promise.all([
      klines.load(gen, fullLoad),
      spreads.load(gen, fullLoad),
      divergence.load(gen, fullLoad),
      alerts.load(gen),
      quality.load(gen),
    ]);
    if (gen !== state.generation) return; // a newer refresh is under way
    const errors = document.querySelectorAll(".message.error:not([hidden])").length;
    const at = `${utc(Date.now(), false)} UTC`;
    if (state.instrumentsError) setStatus("error", `instruments: ${state.instrumentsError} · ${at}`);
    else if (errors) setStatus("error", `${errors} panel${errors > 1 ? "s" : ""} failed · ${at}`);
    else setStatus("ok", `updated ${at} · every ${state.refreshMs / 1000} s`);
    document.body.dataset.ready = "1";
    document.body.dataset.refreshedAt = String(Date.now());
    state.timer = setTimeout(() => refresh(false), state.refreshMs);
  }

  async function start() {
    if (!LWC) {
      setStatus("error", "the chart library did not load (/assets/vendor/lightweight-charts.js); run `make setup`");
      document.body.dataset.ready = "1";
      return;
    }
    klines.init();
    spreads.init();
    divergence.init();
    await loadInstruments();
    fillSelectors();
    if (state.venue && state.instrument) writeUrl();
    $("controls").addEventListener("change", onChange);
    await refresh(true);
  }

  window.tickwatch = { state, refresh };
  start();
})();

// PriceHub's dashboard: the page's assets from GET /prices, then every change from GET /stream;
// any other asset found through GET /assets; the chosen asset's venues from its price document
// and its candles from the candles endpoint.
"use strict";

const config = JSON.parse(document.getElementById("config").textContent);
const prices = {}; // asset -> {doc, receivedAt}: the newest document and when it came
const opens = {}; // asset -> the price 24 h ago (the open of the hourly candle then)
const openAskedAt = {};
const OPEN_RETRY_MS = 10000;
let chosen = null;
let interval = config.intervals[0];
let chartLoadedAt = 0;
const CHART_REFRESH_MS = 5000;
const SEARCH_DELAY_MS = 200; // a search waits for a pause in typing
const SEARCH_LIMIT = 10;
const SEARCHABLE = /^[A-Za-z0-9]{1,20}$/; // what GET /assets takes as q
let searchTimer = null;
let searchNumber = 0; // the newest search: an older one's late answer is dropped
let watched = null; // closes the chosen asset's own stream, when the page's does not name it
const STREAM_RETRY_MS = 5000;
const STREAM_RETRY_MAX_MS = 60000;
// What a used source weighs in the price, by method: each used source's weight is its share
// (its volume times its trust); the methods that do not weigh by it say what counts instead.
const WEIGHTS = {
  vwap: "Weight: each used source's share of the price, its 24 h volume times its trust (less for a kept quote's age or a distance from the median).",
  median: "median: the middle used price (the mean of the two middle ones); no weights.",
  volume_weighted_median: "volume_weighted_median: the used price where half the weight is reached, cheapest first.",
  trimmed_mean: "trimmed_mean: the plain mean of the used prices once the highest and lowest fifth are dropped; no weights.",
  best_bid: "best_bid: the highest used bid; no weights.",
  best_ask: "best_ask: the lowest used ask; no weights.",
  mid: "mid: halfway between the highest used bid and the lowest used ask; no weights.",
};

const $ = (selector, root = document) => root.querySelector(selector);

function formatPrice(value) {
  if (value === null || value === undefined) return "–";
  const digits = Math.abs(value) >= 1 ? 2 : 6;
  return Number(value).toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: Math.max(digits, Math.abs(value) >= 1000 ? 2 : 4),
  });
}

function formatAge(seconds) {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  return `${Math.floor(seconds / 3600)} h`;
}

function ageOf(asset) {
  const { doc, receivedAt } = prices[asset];
  return doc.age_seconds + (performance.now() - receivedAt) / 1000;
}

function isStale(asset) {
  // Stale as served, or grown older since than its tier allows.
  const { doc } = prices[asset];
  return doc.stale || ageOf(asset) > config.staleAfter[doc.tier];
}

function receive(doc) {
  const known = prices[doc.asset];
  if (known && known.doc.aggregated_at > doc.aggregated_at) return; // an older one, late
  prices[doc.asset] = { doc, receivedAt: performance.now() };
  const row = document.getElementById(`asset-${doc.asset}`);
  if (row) showRow(doc, row);
  if (doc.asset === chosen) showDetail();
}

function showRow(doc, row) {
  row.dataset.aggregatedAt = doc.aggregated_at;
  $(".price", row).textContent = formatPrice(doc.price);
  $(".sources", row).textContent = `${doc.sources_used} of ${doc.sources_total}`;
  $(".confidence", row).textContent = `± ${formatPrice(doc.confidence)}`;
  $(".tier", row).textContent = doc.tier;
  row.classList.remove("flash");
  void row.offsetWidth; // restart the animation
  row.classList.add("flash");
  wantOpen(doc.asset);
  showChange(doc.asset);
  showAge(doc.asset);
}

function showAge(asset) {
  const row = document.getElementById(`asset-${asset}`);
  const stale = isStale(asset);
  $(".age", row).textContent = formatAge(ageOf(asset));
  row.classList.toggle("stale", stale);
  $(".age", row).title = stale ? "stale: no fresh price lately" : "fresh";
}

function showChange(asset) {
  const cell = $(".change", document.getElementById(`asset-${asset}`));
  if (!(asset in opens) || !(asset in prices)) return;
  const change = Number(((prices[asset].doc.price / opens[asset] - 1) * 100).toFixed(2));
  cell.textContent = `${change > 0 ? "+" : ""}${change.toFixed(2)} %`;
  cell.classList.toggle("up", change > 0);
  cell.classList.toggle("down", change < 0);
}

async function getJSON(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.json();
}

function candlesUrl(asset, name, start) {
  const url = new URL(config.urls.candles.replace("ASSET", asset), location.href);
  url.searchParams.set("interval", name);
  if (start) url.searchParams.set("start", start.toISOString());
  return url;
}

function wantOpen(asset) {
  // Asked again while missing (a new asset has no hourly candle yet), at most every 10 s.
  const now = performance.now();
  if (asset in opens || now - (openAskedAt[asset] || -Infinity) < OPEN_RETRY_MS) return;
  openAskedAt[asset] = now;
  loadOpen(asset).catch((error) => console.warn("No 24 h change:", error.message));
}

async function loadOpen(asset) {
  const dayAgo = new Date(Date.now() - 24 * 3600 * 1000);
  const { candles } = await getJSON(candlesUrl(asset, "1h", new Date(dayAgo - 3600 * 1000)));
  // The hourly candle that holds the moment 24 h ago, else the oldest there is.
  const then = candles.filter((candle) => Date.parse(candle.start) <= dayAgo).pop() || candles[0];
  if (!then) return;
  opens[asset] = then.open;
  showChange(asset);
}

async function loadPrices() {
  const url = `${config.urls.prices}?assets=${config.assets.join(",")}`;
  const { prices: docs } = await getJSON(url);
  docs.forEach(receive);
}

function listen() {
  const status = $("#status");
  openStream(config.assets, (state) => {
    status.textContent = state;
    status.className = state === "live" ? "status live" : "status down";
  });
}

// A stream of the assets' prices, which says its state ("live", "reconnecting", "refused;
// retrying in 5 s") to onState. EventSource reconnects a dropped stream itself, but gives up
// on any answer but 200, such as the front's 429 past its limits: then it is asked again
// after a pause that doubles from STREAM_RETRY_MS to STREAM_RETRY_MAX_MS. Return its closer.
function openStream(assets, onState = () => {}) {
  let source = null;
  let timer = null;
  let pause = STREAM_RETRY_MS;
  const connect = () => {
    source = new EventSource(`${config.urls.stream}?assets=${assets.join(",")}`);
    source.addEventListener("open", () => {
      pause = STREAM_RETRY_MS;
      onState("live");
    });
    source.addEventListener("error", () => {
      if (source.readyState !== EventSource.CLOSED) {
        onState("reconnecting");
        return;
      }
      onState(`refused; retrying in ${pause / 1000} s`);
      timer = setTimeout(connect, pause);
      pause = Math.min(pause * 2, STREAM_RETRY_MAX_MS);
    });
    source.addEventListener("price", (event) => receive(JSON.parse(event.data)));
  };
  connect();
  return () => {
    clearTimeout(timer);
    source.close();
  };
}

function choose(asset) {
  chosen = asset;
  watch(asset);
  document.querySelectorAll("#assets tbody tr").forEach((row) => {
    row.classList.toggle("chosen", row.dataset.asset === asset);
  });
  $("#detail").hidden = false;
  $("#detail-title").textContent = asset;
  if (location.hash !== `#${asset}`) history.replaceState(null, "", `#${asset}`);
  showDetail();
  loadChart();
}

function watch(asset) {
  // The page's stream names its own assets; one found elsewhere gets a stream of its own.
  if (watched) watched();
  watched = null;
  if (config.assets.includes(asset)) return;
  watched = openStream([asset]);
}

function showSummary() {
  if (!(chosen in prices)) {
    $("#detail-summary").textContent = "No price yet.";
    return;
  }
  const { doc } = prices[chosen];
  $("#detail-summary").textContent =
    `${formatPrice(doc.price)} by ${doc.method}, ${doc.sources_used} of ${doc.sources_total} ` +
    `venues, ± ${formatPrice(doc.confidence)}` + (isStale(chosen) ? " (stale)" : "");
}

function showDetail() {
  showSummary();
  if (!(chosen in prices)) return;
  const { doc } = prices[chosen];
  $("#detail").dataset.aggregatedAt = doc.aggregated_at;
  const weighs = doc.method === "vwap" || doc.method === "volume_weighted_median";
  const rows = doc.sources.flatMap((source) => {
    const share = weighs ? (source.weight ?? undefined) : undefined;
    const row = tableRow(source, [
      [source.exchange],
      [source.market ?? "–"],
      [source.status],
      [formatPrice(source.price), "num"],
      [conversion(source), "conversion"],
      [share === undefined ? "–" : `${(share * 100).toFixed(1)} %`, "num weight"],
      [source.volume === null ? "–" : Number(source.volume).toLocaleString("en-US"), "num wide"],
    ]);
    row.className = source.status;
    const why = source.detail || source.reason;
    if (!why) return [row];
    // Why it was left out (or why an older quote was kept), on a line of its own.
    const note = tableRow(source, [[why]]);
    note.className = "why";
    note.firstChild.colSpan = row.children.length;
    return [row, note];
  });
  $("#venues tbody").replaceChildren(...rows);
  $("#weights-note").textContent = WEIGHTS[doc.method] ?? "";
  if (performance.now() - chartLoadedAt > CHART_REFRESH_MS) loadChart();
}

function conversion(source) {
  // The market's quote currency, and the rate that converted its prices with the rate's age.
  if (!source.quote) return "–";
  if (source.rate === null || source.rate === undefined) return source.quote;
  const rate = Number(source.rate).toPrecision(6);
  return `${source.quote} × ${rate} (${formatAge(source.rate_age_seconds)})`;
}

function tableRow(source, cells) {
  const row = document.createElement("tr");
  row.dataset.exchange = source.exchange;
  row.dataset.market = source.market ?? "";
  cells.forEach(([text, className]) => {
    const cell = document.createElement("td");
    cell.textContent = text;
    if (className) cell.className = className;
    row.append(cell);
  });
  return row;
}

async function loadChart() {
  const asset = chosen;
  const name = interval;
  chartLoadedAt = performance.now();
  document.querySelectorAll(".intervals button").forEach((button) => {
    button.setAttribute("aria-pressed", String(button.dataset.interval === name));
  });
  try {
    const { candles } = await getJSON(candlesUrl(asset, name));
    if (asset === chosen && name === interval) drawChart(candles);
  } catch (error) {
    $("#chart-note").textContent = `Candles unavailable (${error.message}).`;
  }
}

function svg(tag, attributes) {
  const element = document.createElementNS("http://www.w3.org/2000/svg", tag);
  Object.entries(attributes).forEach(([key, value]) => element.setAttribute(key, value));
  return element;
}

function drawChart(candles) {
  const chart = $("#chart");
  const [width, height, right, top, bottom] = [600, 260, 80, 10, 24];
  chart.replaceChildren();
  $("#chart-note").textContent = candles.length ? "" : "No candles in this range yet.";
  if (!candles.length) return;
  const high = Math.max(...candles.map((c) => c.high));
  const low = Math.min(...candles.map((c) => c.low));
  const span = high - low || Math.abs(high) * 0.001 || 1;
  const y = (value) => top + ((high - value) / span) * (height - top - bottom);
  // Slots for at least 40 candles, the newest at the right edge, so a few stay narrow.
  const slot = (width - right) / Math.max(candles.length, 40);
  const first = width - right - candles.length * slot;
  candles.forEach((candle, index) => {
    const x = first + index * slot + slot / 2;
    const direction = candle.close >= candle.open ? "up" : "down";
    const group = svg("g", { class: `candle ${direction}` });
    group.append(svg("line", { x1: x, x2: x, y1: y(candle.high), y2: y(candle.low) }));
    const bodyTop = y(Math.max(candle.open, candle.close));
    group.append(
      svg("rect", {
        x: x - Math.max(slot * 0.35, 0.5),
        y: bodyTop,
        width: Math.max(slot * 0.7, 1),
        height: Math.max(y(Math.min(candle.open, candle.close)) - bodyTop, 1),
      }),
    );
    const title = svg("title", {});
    title.textContent =
      `${candle.start} O ${candle.open} H ${candle.high} L ${candle.low} C ${candle.close}`;
    group.append(title);
    chart.append(group);
  });
  const label = (text, x, yAt, anchor = "start") => {
    const element = svg("text", { x, y: yAt, "text-anchor": anchor, class: "axis" });
    element.textContent = text;
    chart.append(element);
  };
  label(formatPrice(high), width - right + 6, top + 10);
  label(formatPrice(low), width - right + 6, height - bottom);
  const time = (start) => new Date(start).toISOString().slice(5, 16).replace("T", " ");
  if (first < width - right - 200) label(time(candles[0].start), first, height - 6);
  label(`${time(candles[candles.length - 1].start)} UTC`, width - right, height - 6, "end");
}

function searchSoon() {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(search, SEARCH_DELAY_MS);
}

async function search() {
  const text = $("#search").value.trim();
  const number = ++searchNumber;
  if (!text) return showFound([], "");
  if (!SEARCHABLE.test(text)) return showFound([], "Letters and digits only, up to 20.");
  const url = new URL(config.urls.assets, location.href);
  Object.entries({ q: text, enabled: "true", limit: SEARCH_LIMIT }).forEach(([key, value]) =>
    url.searchParams.set(key, value),
  );
  try {
    const { assets, next_cursor: more } = await getJSON(url);
    if (number !== searchNumber) return;
    const note = !assets.length
      ? `No asset's name holds ${text}.`
      : more ? `The first ${assets.length}; type more to narrow.` : "";
    showFound(assets, note);
  } catch (error) {
    if (number === searchNumber) showFound([], `Search unavailable (${error.message}).`);
  }
}

function showFound(assets, note) {
  const list = $("#found");
  list.replaceChildren(
    ...assets.map((asset) => {
      const option = document.createElement("li");
      option.id = `found-${asset.symbol}`;
      option.setAttribute("role", "option");
      option.dataset.asset = asset.symbol;
      option.textContent = `${asset.symbol} `;
      const what = document.createElement("span");
      what.className = "note";
      what.textContent = `${asset.base} in ${asset.quote}, ${asset.tier}`;
      option.append(what);
      option.addEventListener("click", () => pick(asset.symbol));
      return option;
    }),
  );
  list.hidden = !assets.length;
  $("#search").setAttribute("aria-expanded", String(!list.hidden));
  $("#search").removeAttribute("aria-activedescendant");
  $("#found-note").textContent = note;
}

function moveInFound(step) {
  const options = [...document.querySelectorAll("#found li")];
  if (!options.length) return;
  const at = options.findIndex((option) => option.classList.contains("active"));
  const next = options[(at + step + options.length) % options.length];
  options.forEach((option) => {
    option.classList.toggle("active", option === next);
    option.setAttribute("aria-selected", String(option === next));
  });
  $("#search").setAttribute("aria-activedescendant", next.id);
  next.scrollIntoView({ block: "nearest" });
}

function pick(asset) {
  $("#search").value = asset;
  showFound([], "");
  choose(asset);
}

function onSearchKey(event) {
  const keys = {
    ArrowDown: () => moveInFound(1),
    ArrowUp: () => moveInFound(-1),
    Escape: () => showFound([], ""),
    Enter: () => {
      const option = $("#found li.active") || $("#found li");
      if (option) pick(option.dataset.asset);
    },
  };
  if (!(event.key in keys)) return;
  event.preventDefault();
  keys[event.key]();
}

function start() {
  $("#search").addEventListener("input", searchSoon);
  $("#search").addEventListener("keydown", onSearchKey);
  document.querySelectorAll("#assets tbody tr[data-asset]").forEach((row) => {
    row.addEventListener("click", () => choose(row.dataset.asset));
    row.addEventListener("keydown", (event) => {
      if (event.key === "Enter") choose(row.dataset.asset);
    });
  });
  document.querySelectorAll(".intervals button").forEach((button) => {
    button.addEventListener("click", () => {
      interval = button.dataset.interval;
      loadChart();
    });
  });
  if (!config.assets.length) return;
  loadPrices()
    .catch((error) => console.warn("Prices unavailable:", error.message))
    .finally(() => {
      listen();
      const asked = location.hash.slice(1);
      if (SEARCHABLE.test(asked)) choose(asked);
    });
  setInterval(() => {
    config.assets.filter((asset) => asset in prices).forEach(showAge);
    if (chosen) showSummary(); // a price turns stale as it ages, with no new event
  }, 1000);
}

start();

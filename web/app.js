// Hallmark status page: reads the node's JSON API (same origin), listens to
// its tip events and draws what it finds. No dependencies and no build step;
// the node serves this file itself.
//
// Each element holding a figure of /api/status carries the raw JSON value in
// `data-value`, whatever its text shows, so a reader (or a test) gets it
// exactly. `body[data-ready="1"]` once status, peers and blocks have each
// loaded; `body[data-error]` holds the message of the banner while one shows.
'use strict';

const STATUS_PERIOD_MS = 2000;      // also the chart's sampling period
const PEERS_PERIOD_MS = 5000;
const REQUEST_TIMEOUT_MS = 5000;
const TIP_EVENT_DELAY_MS = 500;     // a syncing node sends many tips a second
const EVENTS_RETRY_MS = 10000;      // after the server refused the stream
const CHART_WINDOW_MS = 5 * 60 * 1000;
const RECENT_BLOCKS = 10;
const MAX_BLOCKS_PER_REQUEST = 100; // the API's limit for `count`
const SHORT_HEX = 16;

// Options in the address's fragment, never sent to the server:
// `#token=HEX` when the node wants a bearer token; `events=off` polls only,
// without the open tip stream, for proxies that buffer streams and for tools
// that wait for the network to fall idle (a headless browser's virtual time
// budget never runs out while a stream is open). Joined with `&`.
const options = new URLSearchParams(location.hash.slice(1));
const token = options.get('token') || '';
const tipEvents = options.get('events') !== 'off';

let status = null;        // the last status that loaded
let blocksTip = null;     // the tip the blocks table was loaded for
const samples = [];       // chart samples: {t, height, rate}, oldest first
const failures = new Map(); // source ('status', 'peers', ...) -> message
const loaded = new Set();   // sources that loaded at least once

// ---------------------------------------------------------------- DOM helpers

function $(id) {
  return document.getElementById(id);
}

// Builds an element; attributes that are null or undefined are left out and
// children are appended as nodes or text (never parsed as HTML).
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined) continue;
    if (name === 'class') node.className = value;
    else node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

// Shows a figure: `text` for the eye, the raw JSON value in data-value.
function show(id, value, text = String(value)) {
  const node = $(id);
  node.textContent = text;
  node.dataset.value = String(value);
  return node;
}

// Shows a hash or key shortened, the full hex in data-full and the tooltip.
function showHex(id, hex) {
  const node = show(id, hex, shortHex(hex));
  node.dataset.full = hex;
  node.title = hex;
}

// --------------------------------------------------------------- formatting

function shortHex(hex) {
  return hex.length > SHORT_HEX ? hex.slice(0, SHORT_HEX) + '…' : hex;
}

function formatCount(n) {
  return Math.round(n).toLocaleString('en-US');
}

function formatDuration(seconds) {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor(s % 3600 / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor(s % 86400 / 3600)} h`;
}

// "12 s ago"; a time ahead of this browser's clock (skewed clocks) says so
// rather than showing a negative age.
function formatAge(unixSeconds) {
  const age = Date.now() / 1000 - unixSeconds;
  if (age < -1) return `${formatDuration(-age)} ahead`;
  return `${formatDuration(Math.max(0, age))} ago`;
}

function formatTime(unixSeconds) {
  return new Date(unixSeconds * 1000).toLocaleTimeString('en-GB');
}

function formatUtc(unixSeconds) {
  return new Date(unixSeconds * 1000).toISOString().replace('.000Z', 'Z');
}

// "1 peer", "2 peers".
function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function formatMiB(bytes) {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

// -------------------------------------------------------------------- API

// GETs a path of the node's API and returns its JSON body; throws an Error
// whose message is what the banner should say.
async function api(path) {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS);
  let response, text;
  try {
    response = await fetch(path, { headers, signal: abort.signal, cache: 'no-store' });
    text = await response.text();
  } catch (err) {
    const why = err.name === 'AbortError'
      ? `no answer within ${REQUEST_TIMEOUT_MS / 1000} s` : err.message;
    throw new Error(`cannot reach the node at ${location.host} (${why})`);
  } finally {
    clearTimeout(timer);
  }
  let body = null;
  try { body = JSON.parse(text); } catch (err) { /* described below */ }
  if (!response.ok) throw new Error(describeRefusal(response.status, body));
  if (body === null) throw new Error(`${path}: the node's answer is not JSON`);
  return body;
}

function describeRefusal(httpStatus, body) {
  if (httpStatus === 401) {
    return token
      ? 'this node refused the token in the address: open the page as ' +
        '/#token=…, the token is in DATADIR/.cookie'
      : 'this node needs its token: open the page as /#token=…, ' +
        'the token is in DATADIR/.cookie';
  }
  const error = body && body.error;
  if (error) return `the node answered ${httpStatus} ${error.code}: ${error.message}`;
  return `the node answered HTTP ${httpStatus}`;
}

// Runs `load` for one source and keeps the banner and the ready flag up to
// date. Returns whether it succeeded.
async function attempt(source, load) {
  let ok = true;
  try {
    await load();
    failures.delete(source);
    loaded.add(source);
  } catch (err) {
    ok = false;
    failures.set(source, err.message);
  }
  showFailures();
  if (['status', 'peers', 'blocks'].every(s => loaded.has(s))) {
    document.body.dataset.ready = '1';
  }
  return ok;
}

function showFailures() {
  const message = failures.values().next().value;
  const banner = $('error');
  banner.hidden = !message;
  banner.textContent = message || '';
  if (message) document.body.dataset.error = message;
  else delete document.body.dataset.error;
  document.body.classList.toggle('stale', Boolean(message));
}

// Wraps an async task so that it never runs twice at once: calls made while
// it runs collapse into one more run afterwards, and share its promise,
// which resolves to the last run's result.
function coalesced(task) {
  let running = null;
  let again = false;
  return function run() {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        let result;
        do {
          again = false;
          result = await task();
        } while (again);
        return result;
      } finally {
        running = null;
      }
    })();
    return running;
  };
}

// Runs `task` now and then `periodMs` after each run ends, so slow answers
// never pile up.
function every(periodMs, task) {
  const run = async () => {
    try {
      await task();
    } finally {
      setTimeout(run, periodMs);
    }
  };
  run();
}

// ----------------------------------------------------------------- status

const refreshStatus = coalesced(() => attempt('status', async () => {
  status = await api('/api/status');
  renderStatus(status);
  // The blocks table follows the tip: reload it whenever the tip moved
  // (this also retries a load that failed).
  if (status.tip !== blocksTip) refreshBlocks();
}));

function renderStatus(s) {
  document.title = `Hallmark ${s.chain} · ${s.height}`;
  show('chain', s.chain);
  show('version', s.version);
  showHex('public-key', s.public_key);
  show('height', s.height);
  showHex('tip', s.tip);
  show('tip-age', s.tip_timestamp, formatAge(s.tip_timestamp))
    .title = formatUtc(s.tip_timestamp);
  show('cumulative-work', s.cumulative_work);
  show('pending-records', s.pending_records);
  show('producing', s.producing, s.producing ? 'yes' : 'no')
    .className = s.producing ? 'yes' : 'no';
  show('connector-state', s.connector_state, s.connector_state || 'none');
  show('peers-live', s.peers);
  show('sync-target', s.sync_target);
  show('next-difficulty', s.next_difficulty);
  show('issue-difficulty', s.issue_difficulty);
  renderSync(s);
  renderNotices(s);
}

// The tip's age moves with the clock, not with the node.
function tickTipAge() {
  if (status) $('tip-age').textContent = formatAge(status.tip_timestamp);
}

// ------------------------------------------------------------------- sync

// One line per sync under way: {label, fraction (0..1, null if unknown),
// text, wait (why it waits, if it does)}.
function syncLines(s) {
  const lines = [];
  if (s.state_sync) lines.push(stateSyncLine(s.state_sync));
  if (s.block_sync) lines.push(blockSyncLine(s.block_sync));
  else if (s.sync_target > s.height) lines.push(behindLine(s));
  return lines;
}

function blockSyncLine(b) {
  // The fetch covers heights from_height..target_height and has applied
  // blocks up to `height`.
  const total = b.target_height - b.from_height + 1;
  const done = b.height - b.from_height + 1;
  const eta = b.eta_s === null ? 'ETA unknown' : `ETA ${formatDuration(b.eta_s)}`;
  return {
    label: 'block sync',
    fraction: total > 0 ? done / total : 1,
    text: `height ${b.height} of ${b.target_height} (from ${b.from_height}), ` +
      `${formatCount(b.records_per_s)} records/s, ${eta}, ` +
      `${plural(b.peers, 'peer')}, ` +
      `running ${formatDuration(b.elapsed_ms / 1000)}`,
  };
}

function stateSyncLine(st) {
  const ranges = st.ranges_done + st.ranges_left;
  const fractions = {
    headers: st.best_height > 0 ? st.headers / st.best_height : null,
    ranges: ranges > 0 ? st.ranges_done / ranges : null,
    finishing: 1,
    done: 1,
  };
  const parts = [
    `phase ${st.phase}`,
    `headers ${st.headers} of ${st.best_height}`,
    `target height ${st.target_height}`,
    `${st.ranges_done} ranges done, ${st.ranges_left} left`,
    `${formatCount(st.keys)} keys (${formatCount(st.resumed_keys)} resumed)`,
    formatMiB(st.bytes),
    `${formatCount(st.keys_per_s)} keys/s`,
  ];
  if (st.eta_s !== null && st.phase !== 'done') {
    parts.push(`about ${formatDuration(st.eta_s)} left`);
  }
  if (st.retargets > 0) parts.push(plural(st.retargets, 'retarget'));
  if (st.bad_proofs > 0) parts.push(plural(st.bad_proofs, 'bad proof'));
  parts.push(`${st.phase === 'done' ? 'took' : 'running'} ` +
    formatDuration(st.elapsed_ms / 1000));
  return {
    label: 'state sync',
    fraction: st.phase in fractions ? fractions[st.phase] : null,
    text: parts.join(', '),
    wait: st.error,
  };
}

// Peers are ahead but no block fetch runs (yet): the connector decides when.
function behindLine(s) {
  const behind = s.sync_target - s.height;
  return {
    label: 'behind',
    fraction: s.sync_target > 0 ? s.height / s.sync_target : null,
    text: `height ${s.height} of ${s.sync_target}: ${plural(behind, 'block')} behind`,
  };
}

function renderSync(s) {
  const lines = syncLines(s);
  const running = lines.some(line => line.fraction === null || line.fraction < 1);
  const state = !running ? 'in-sync' : s.block_sync || s.state_sync ? 'syncing' : 'behind';
  const pill = show('sync-state', state, state.replace('-', ' '));
  pill.className = `pill ${state}`;

  const container = $('sync-lines');
  container.replaceChildren(...lines.map(renderSyncLine));
  if (!running) {
    container.append(el('p', { class: 'in-sync-text' },
      `in sync: height ${s.height}, best among peers ${s.sync_target}`));
  }
}

function renderSyncLine(line) {
  // A progress element without a value is drawn as "under way, amount unknown".
  const bar = el('progress', { max: '1' });
  if (line.fraction !== null) bar.value = Math.min(1, Math.max(0, line.fraction));
  const node = el('div', { class: 'sync-line' },
    el('span', { class: 'label' }, line.label), bar, el('p', {}, line.text));
  if (line.wait) node.append(el('p', { class: 'wait' }, `waits: ${line.wait}`));
  return node;
}

// Conditions a person should know about and may have to act on; each is
// a list of text and nodes.
function renderNotices(s) {
  const notices = [];
  if (s.fetch_error) {
    notices.push([`Fetching blocks is paused: ${s.fetch_error}`]);
  }
  if (s.deep_fork) {
    const f = s.deep_fork;
    notices.push([
      'Peer ', el('code', { title: f.peer }, shortHex(f.peer)),
      ` follows a heavier branch that forks ${plural(f.depth, 'block')} below ` +
      `our tip (at height ${f.fork_height}, its tip at ${f.tip_height}), ` +
      'deeper than this node reorganises. If this node was cut off from the ' +
      'network, restart it with ',
      el('code', { class: 'option' }, `--reorg-window ${f.depth}`),
      ' or more to follow it; otherwise leave it.']);
  }
  $('notices').replaceChildren(
    ...notices.map(parts => el('p', { class: 'notice' }, ...parts)));
}

// ------------------------------------------------------------------ peers

const LINK_ORDER = { up: 0, connecting: 1, down: 2, banned: 3 };

const refreshPeers = () => attempt('peers', async () => {
  const { peers } = await api('/api/peers');
  renderPeers(peers);
});

function renderPeers(peers) {
  // Live links first, then by key, so rows keep their places between polls.
  const sorted = [...peers].sort((a, b) =>
    (LINK_ORDER[a.link] ?? 9) - (LINK_ORDER[b.link] ?? 9) ||
    a.key.localeCompare(b.key));
  $('peers').tBodies[0].replaceChildren(...sorted.map(peerRow));
  $('peers-empty').hidden = peers.length > 0;
  $('peers-count').textContent = `${peers.length} known`;
}

function peerRow(p) {
  const banned = p.banned_until === null ? null : `banned until ${formatUtc(p.banned_until)}`;
  return el('tr', { 'data-key': p.key },
    el('td', {}, el('code', { title: p.key }, p.key.slice(0, SHORT_HEX))),
    el('td', {}, el('span', { class: `link link-${p.link}`, title: banned }, p.link)),
    el('td', { class: 'num' }, String(p.height)),
    el('td', { class: 'num' }, String(p.score)),
    el('td', { class: 'addresses' }, p.addresses.join(', ')),
    el('td', {}, p.inbound ? 'inbound' : 'outbound'),
    el('td', {}, p.static ? 'static' : 'learned'),
    el('td', {}, p.last_seen === null ? 'never' : formatAge(p.last_seen)));
}

// ----------------------------------------------------------------- blocks

const refreshBlocks = coalesced(() => attempt('blocks', async () => {
  const tip = status.tip;
  const from = Math.max(0, status.height - RECENT_BLOCKS + 1);
  const { blocks } = await api(`/api/blocks?from=${from}&count=${RECENT_BLOCKS}`);
  renderBlocks(blocks);
  blocksTip = tip;
}));

function renderBlocks(blocks) {
  const newestFirst = [...blocks].reverse();
  $('blocks').tBodies[0].replaceChildren(...newestFirst.map(blockRow));
  $('blocks-empty').hidden = blocks.length > 0;
}

function blockRow(b) {
  const ours = status && b.producer === status.public_key;
  const producer = ours
    ? el('span', { class: 'self', title: b.producer }, 'this node')
    : el('code', { title: b.producer }, shortHex(b.producer));
  return el('tr', { 'data-height': b.height },
    el('td', { class: 'num' }, String(b.height)),
    el('td', {}, el('code', { title: b.hash }, shortHex(b.hash))),
    el('td', { title: formatUtc(b.timestamp) }, formatTime(b.timestamp)),
    // null: only the header is kept (below a state sync's base).
    el('td', { class: 'num' }, b.records === null ? '—' : String(b.records)),
    el('td', {}, producer));
}

// ------------------------------------------------------------------ chart

// Every STATUS_PERIOD_MS: refresh the status and add a chart sample. A
// period the node did not answer is a gap in the chart, not a zero.
async function sampleStatus() {
  const ok = await refreshStatus();
  const sample = { t: Date.now(), height: ok ? status.height : null, rate: null };
  if (ok) sample.rate = await recordsPerSecond(lastSample(), sample, status);
  samples.push(sample);
  while (samples[0].t < sample.t - CHART_WINDOW_MS) samples.shift();
  drawChart();
}

function lastSample() {
  return samples.length ? samples[samples.length - 1] : null;
}

// Records a second between two samples: the block sync's own figure while
// one runs; otherwise the records of the blocks that arrived in between
// over the time between the samples. Null when it cannot be told (no
// earlier sample, too many blocks to count in one request, a failed request).
async function recordsPerSecond(previous, current, s) {
  if (s.block_sync) return s.block_sync.records_per_s;
  if (!previous || previous.height === null) return null;
  const newBlocks = current.height - previous.height;
  if (newBlocks <= 0) return 0;
  if (newBlocks > MAX_BLOCKS_PER_REQUEST) return null;
  try {
    const { blocks } = await api(
      `/api/blocks?from=${previous.height + 1}&count=${newBlocks}`);
    const records = blocks.reduce((sum, b) => sum + (b.records ?? 0), 0);
    return records / ((current.t - previous.t) / 1000);
  } catch (err) {
    return null;
  }
}

// The chart's colours come from the stylesheet, so it follows the theme.
function chartColours() {
  const css = getComputedStyle(document.documentElement);
  const colour = name => css.getPropertyValue(name).trim();
  return {
    height: colour('--height-color'),
    rate: colour('--rate-color'),
    grid: colour('--grid'),
    text: colour('--muted'),
  };
}

// Low and high ends of an axis for the values present (nulls skipped).
function axisRange(values, { fromZero }) {
  const present = values.filter(v => v !== null);
  if (!present.length) return null;
  let low = fromZero ? 0 : Math.min(...present);
  let high = Math.max(...present);
  // A flat line sits in the middle rather than on an edge.
  if (high - low < 1) {
    if (fromZero) high = Math.max(1, high);
    else { low -= 1; high += 1; }
  }
  return { low, high };
}

function formatAxisValue(v) {
  return Number.isInteger(v) ? v.toLocaleString('en-US') : v.toFixed(1);
}

function drawChart() {
  const canvas = $('chart');
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const ctx = canvas.getContext('2d');
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.font = '11px system-ui, sans-serif';

  const colours = chartColours();
  const plot = { left: 52, right: width - 52, top: 18, bottom: height - 20 };
  const now = Date.now();
  const x = t => plot.left +
    (t - (now - CHART_WINDOW_MS)) / CHART_WINDOW_MS * (plot.right - plot.left);

  drawGrid(ctx, plot, x, now, colours);
  const heights = axisRange(samples.map(s => s.height), { fromZero: false });
  const rates = axisRange(samples.map(s => s.rate), { fromZero: true });
  if (!heights) {
    ctx.fillStyle = colours.text;
    ctx.textAlign = 'center';
    ctx.fillText('collecting samples…', (plot.left + plot.right) / 2,
      (plot.top + plot.bottom) / 2);
    return;
  }
  drawAxis(ctx, plot, heights, 'left', 'height', colours.height);
  drawSeries(ctx, plot, x, heights, 'height', colours.height);
  if (rates) {
    drawAxis(ctx, plot, rates, 'right', 'records/s', colours.rate);
    drawSeries(ctx, plot, x, rates, 'rate', colours.rate);
  }
}

// Horizontal lines at the bottom, middle and top; a time label a minute.
function drawGrid(ctx, plot, x, now, colours) {
  ctx.strokeStyle = colours.grid;
  ctx.lineWidth = 1;
  for (const f of [0, 0.5, 1]) {
    const y = Math.round(plot.bottom - f * (plot.bottom - plot.top)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(plot.left, y);
    ctx.lineTo(plot.right, y);
    ctx.stroke();
  }
  ctx.fillStyle = colours.text;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  const minutes = CHART_WINDOW_MS / 60000;
  // In a narrow window a label every minute would run together.
  const step = (plot.right - plot.left) / minutes < 60 ? 2 : 1;
  for (let m = minutes; m >= 0; m--) {
    if (m % step !== 0) continue;
    const label = m === 0 ? 'now' : `−${m} min`;
    ctx.fillText(label, x(now - m * 60000), plot.bottom + 5);
  }
}

// Labels one vertical axis: its title above it, its range beside it.
function drawAxis(ctx, plot, range, side, title, colour) {
  const left = side === 'left';
  const xLabel = left ? plot.left - 6 : plot.right + 6;
  ctx.fillStyle = colour;
  ctx.textAlign = left ? 'right' : 'left';
  ctx.textBaseline = 'middle';
  ctx.fillText(formatAxisValue(range.high), xLabel, plot.top);
  ctx.fillText(formatAxisValue(range.low), xLabel, plot.bottom);
  ctx.textBaseline = 'bottom';
  ctx.textAlign = left ? 'left' : 'right';
  ctx.fillText(title, left ? plot.left : plot.right, plot.top - 6);
}

// One line through the samples' `field`, broken where a value is null.
function drawSeries(ctx, plot, x, range, field, colour) {
  const y = v => plot.bottom -
    (v - range.low) / (range.high - range.low) * (plot.bottom - plot.top);
  ctx.strokeStyle = colour;
  ctx.lineWidth = 2;
  ctx.lineJoin = 'round';
  ctx.beginPath();
  let drawing = false;
  for (const s of samples) {
    const v = s[field];
    if (v === null) {
      drawing = false;
      continue;
    }
    if (drawing) ctx.lineTo(x(s.t), y(v));
    else ctx.moveTo(x(s.t), y(v));
    drawing = true;
  }
  ctx.stroke();
}

// ----------------------------------------------------------------- events

// Tip events only prompt a status refresh (which reloads the blocks when the
// tip moved), at most one per TIP_EVENT_DELAY_MS however fast tips come.
let tipRefreshPending = false;

function onTip() {
  if (tipRefreshPending) return;
  tipRefreshPending = true;
  setTimeout(() => {
    tipRefreshPending = false;
    refreshStatus();
  }, TIP_EVENT_DELAY_MS);
}

// EventSource cannot send headers, so the token goes in the query. It
// reconnects by itself after a dropped stream; a refused one is closed for
// good, and retried here. Polling keeps the page current meanwhile.
function listenForTips() {
  const query = token ? `?token=${encodeURIComponent(token)}` : '';
  const events = new EventSource(`/api/events${query}`);
  const indicator = $('events');
  events.addEventListener('tip', onTip);
  events.onopen = () => {
    indicator.textContent = 'live';
    indicator.className = 'events live';
  };
  events.onerror = () => {
    indicator.textContent = 'polling';
    indicator.className = 'events down';
    if (events.readyState === EventSource.CLOSED) {
      setTimeout(listenForTips, EVENTS_RETRY_MS);
    }
  };
}

// ------------------------------------------------------------------ start

function start() {
  // A new #token=… only changes the fragment, which does not reload the page.
  window.addEventListener('hashchange', () => location.reload());
  window.addEventListener('resize', drawChart);
  every(STATUS_PERIOD_MS, sampleStatus);
  every(PEERS_PERIOD_MS, refreshPeers);
  setInterval(tickTipAge, 1000);
  if (tipEvents) listenForTips();
  else $('events').textContent = 'polling';
}

start();

// The training-progress page: watches one session with the gateway's own /client.js and shows
// where the run stands. Query parameters: gateway (default http://127.0.0.1:8080), session
// (default training-run-1), transport (a comma list of websocket, sse, poll; default
// websocket,poll: WebSockets, and long polling when they cannot be opened).

const params = new URLSearchParams(location.search);
const gateway = (params.get('gateway') ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
const session = params.get('session') ?? 'training-run-1';
const transports = (params.get('transport') ?? 'websocket,poll').split(',').map((t) => t.trim()).filter(Boolean);

const TRANSPORT_NAMES = { websocket: 'WebSocket', sse: 'Server-Sent Events', poll: 'long polling' };
const COLORS = ['#3b6fe0', '#e0683b', '#1f9d63', '#9b4fd1', '#c9a227', '#d1497a'];
// A path of a few thousand points draws in well under a frame; past that, every k-th point is
// enough for a 640-unit-wide chart, and keeps redraws cheap on long runs.
const MAX_POINTS_DRAWN = 2000;

const $ = (id) => document.getElementById(id);

const run = {
  started: null,      // training_started's data
  latest: null,       // the newest step_update's data
  latestSeq: 0,
  completed: null,    // phase_completed's data
  series: new Map(),  // model index -> [{step, loss}], in step order
  best: new Map(),    // model index -> best loss seen
  partial: false,     // history no longer held the run's first events
};

// For tests and for the curious, in the console.
window.seen = [];
window.states = [];
window.run = run;

$('session').textContent = session;

/**
 * A late joiner sees where things stand at once: the session's state holds the latest event of
 * each name, even when history no longer holds the run's start. The replay that follows (since=0)
 * fills in the chart.
 */
async function loadWhereThingsStand() {
  const response = await fetch(`${gateway}/api/sessions/${encodeURIComponent(session)}`);
  if (response.status === 404) {
    return; // Not started yet: the first event will come over the connection.
  }
  if (!response.ok) {
    throw new Error(`GET /api/sessions/${session} answered ${response.status}`);
  }
  const { state } = await response.json();
  if (state.training_started) applyStarted(state.training_started.data);
  if (state.step_update) applyStep(state.step_update.seq, state.step_update.data, false);
  if (state.phase_completed) applyCompleted(state.phase_completed.data);
}

function onEvent(e) {
  window.seen.push(e.seq);
}

function applyStarted(data) {
  run.started = data;
  render();
}

/** A step moves the numbers only forward (state and replay may both bring it); only events draw the chart. */
function applyStep(seq, data, chart) {
  if (seq > run.latestSeq) {
    run.latest = data;
    run.latestSeq = seq;
  }
  if (chart) {
    let points = run.series.get(data.model);
    if (!points) {
      points = [];
      run.series.set(data.model, points);
    }
    if (points.length === 0 || data.step > points[points.length - 1].step) {
      points.push({ step: data.step, loss: data.loss });
    }
    run.best.set(data.model, Math.min(run.best.get(data.model) ?? Infinity, data.loss));
  }
  render();
}

function applyCompleted(data) {
  run.completed = data;
  render();
}

// Events come in bursts (a replay, a batch); the page is drawn once per frame, not per event.
let frame = 0;
function render() {
  if (!frame) {
    frame = requestAnimationFrame(() => { frame = 0; draw(); });
  }
}

function draw() {
  const { started, latest, completed } = run;
  if (started) {
    $('run').textContent = `${started.run} · ${started.modelCount} models × ${started.stepsPerModel} steps`;
    drawHyper(started.hyperparameters);
  }

  const total = latest?.totalSteps ?? started?.totalSteps ?? 0;
  const done = completed ? completed.totalSteps : latest?.globalStep ?? 0;
  const percent = total ? Math.floor((100 * done) / total) : 0;
  $('bar-fill').style.width = `${percent}%`;
  document.querySelector('.bar').setAttribute('aria-valuenow', String(percent));
  document.querySelector('.progress').classList.toggle('done', Boolean(completed));
  $('percent').textContent = `${percent}%`;
  $('overall').textContent = `${done} of ${total} steps`;
  if (latest) {
    $('model-label').textContent = `Model ${latest.model} of ${latest.models} · ${latest.modelName}`;
    $('step-label').textContent = `step ${latest.step} of ${latest.steps}`;
    $('loss').textContent = latest.loss.toFixed(4);
    $('perplexity').textContent = latest.perplexity.toFixed(2);
    $('learning-rate').textContent = latest.learningRate.toExponential(2);
    const best = run.best.get(latest.model);
    $('best').textContent = best === undefined ? '–' : best.toFixed(4);
  }

  const phase = $('phase');
  phase.className = `pill ${completed ? 'completed' : started || latest ? 'training' : 'waiting'}`;
  phase.textContent = completed ? 'completed' : started || latest ? 'training' : 'waiting for the run';

  $('summary').hidden = !completed;
  if (completed) {
    $('summary-note').textContent = `${completed.totalSteps} steps in ${completed.seconds} s`;
    $('summary-rows').replaceChildren(...completed.models.map((m) => row(
      `${m.model}. ${m.name}`, m.finalLoss.toFixed(4), m.finalPerplexity.toFixed(2), m.bestLoss.toFixed(4))));
  }

  drawChart();
}

function row(...cells) {
  const tr = document.createElement('tr');
  for (const text of cells) {
    const td = document.createElement('td');
    td.textContent = text;
    tr.append(td);
  }
  return tr;
}

function drawHyper(hyper) {
  const entries = Object.entries(hyper ?? {});
  $('hyper').replaceChildren(...entries.map(([name, value]) => {
    const div = document.createElement('div');
    const dt = document.createElement('dt');
    const dd = document.createElement('dd');
    dt.textContent = name;
    dd.textContent = typeof value === 'number' && value !== 0 && Math.abs(value) < 0.01 ? value.toExponential(1) : String(value);
    div.append(dt, dd);
    return div;
  }));
}

const SVG = 'http://www.w3.org/2000/svg';
const W = 640, H = 300, LEFT = 44, RIGHT = 12, TOP = 10, BOTTOM = 26;

function svg(name, attributes, text) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) {
    element.setAttribute(key, String(value));
  }
  if (text !== undefined) {
    element.textContent = text;
  }
  return element;
}

/** Loss against step, one line per model, all on the same axes so that the models compare. */
function drawChart() {
  const chart = $('chart');
  const all = [...run.series.values()].flat();
  $('chart-note').textContent = run.partial ? '(from what the gateway\'s history still holds)' : '';
  if (all.length === 0) {
    chart.replaceChildren(svg('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'empty' }, 'No steps yet'));
    $('legend').replaceChildren();
    return;
  }

  const maxStep = Math.max(run.started?.stepsPerModel ?? 1, ...all.map((p) => p.step), 2);
  let low = Math.min(...all.map((p) => p.loss));
  let high = Math.max(...all.map((p) => p.loss));
  if (high - low < 1e-9) {
    high += 0.5;
    low -= 0.5;
  }
  const ticks = niceTicks(low, high, 5);
  low = Math.min(low, ticks[0]);
  high = Math.max(high, ticks[ticks.length - 1]);
  const x = (step) => LEFT + ((step - 1) / (maxStep - 1)) * (W - LEFT - RIGHT);
  const y = (loss) => TOP + (1 - (loss - low) / (high - low)) * (H - TOP - BOTTOM);

  const children = [];
  for (const tick of ticks) {
    children.push(svg('line', { x1: LEFT, x2: W - RIGHT, y1: y(tick), y2: y(tick), class: 'grid' }));
    children.push(svg('text', { x: LEFT - 6, y: y(tick) + 4, 'text-anchor': 'end', class: 'axis-label' }, formatTick(tick)));
  }
  for (const step of [1, Math.round(maxStep / 4), Math.round(maxStep / 2), Math.round((3 * maxStep) / 4), maxStep]) {
    children.push(svg('text', { x: x(step), y: H - 6, 'text-anchor': 'middle', class: 'axis-label' }, String(step)));
  }

  const legend = [];
  for (const [model, points] of [...run.series.entries()].sort((a, b) => a[0] - b[0])) {
    const color = COLORS[(model - 1) % COLORS.length];
    const every = Math.ceil(points.length / MAX_POINTS_DRAWN);
    const drawn = points.filter((_, i) => i % every === 0 || i === points.length - 1);
    const d = drawn.map((p, i) => `${i ? 'L' : 'M'}${x(p.step).toFixed(1)},${y(p.loss).toFixed(1)}`).join('');
    children.push(svg('path', { d, stroke: color, class: 'series', 'data-model': model, 'data-points': drawn.length }));

    const item = document.createElement('li');
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = color;
    const name = run.started?.models?.find((m) => m.index === model)?.name ?? `model ${model}`;
    item.append(swatch, `${name}: ${points[points.length - 1].loss.toFixed(4)}`);
    legend.push(item);
  }
  chart.replaceChildren(...children);
  $('legend').replaceChildren(...legend);
}

/** About `count` round values spanning [low, high]. */
function niceTicks(low, high, count) {
  const raw = (high - low) / (count - 1);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw);
  const ticks = [];
  for (let t = Math.floor(low / step) * step; t <= high + step * 0.5; t += step) {
    ticks.push(Number(t.toPrecision(12)));
  }
  return ticks;
}

function formatTick(value) {
  return Number.isInteger(value) ? String(value) : value.toFixed(value < 1 ? 2 : 1);
}

function setConnection(kind, text) {
  const pill = $('connection');
  pill.className = `pill ${kind}`;
  pill.textContent = text;
}

function showNotice(text) {
  const notice = $('notice');
  notice.textContent = text;
  notice.hidden = false;
}

// Started last: everything above (the frame counter, the chart's constants) is initialized by then.
let GatewayClient;
try {
  ({ GatewayClient } = await import(`${gateway}/client.js`));
} catch (error) {
  setConnection('failed', `cannot reach the gateway at ${gateway}`);
  showNotice(`Could not load ${gateway}/client.js (${error.message}). Start the gateway (dotnet run --project Gateway -c Release), or pass ?gateway=http://host:port.`);
  throw error;
}
try {
  await loadWhereThingsStand();
} catch (error) {
  // Not fatal: the replay below brings what history holds.
  console.warn('could not read the session\'s state:', error);
}
render();
const client = new GatewayClient(`${gateway}/ws/${encodeURIComponent(session)}`, { since: 0, transports });
window.client = client;

if (!transports.includes('websocket')) {
  showNotice(`Not using WebSockets: this page was asked for ${transports.map((t) => TRANSPORT_NAMES[t] ?? t).join(', then ')} (?transport=).`);
}

client.on('training_started', (e) => { onEvent(e); applyStarted(e.data); });
client.on('step_update', (e) => { onEvent(e); applyStep(e.seq, e.data, true); });
client.on('phase_completed', (e) => { onEvent(e); applyCompleted(e.data); });
client.on('@state', (s) => {
  window.states.push(`${s.state}${s.attempt ? `:${s.attempt}` : ''} (${s.transport})`);
  if (s.state === 'open') {
    setConnection(s.transport === 'websocket' ? 'live' : 'live fallback', `live over ${TRANSPORT_NAMES[s.transport]}`);
  } else if (s.state === 'reconnecting') {
    setConnection('reconnecting', `reconnecting (attempt ${s.attempt})…`);
  } else if (s.state === 'connecting') {
    setConnection('connecting', `connecting over ${TRANSPORT_NAMES[s.transport]}…`);
  } else if (s.state === 'closed') {
    const over = TRANSPORT_NAMES[s.transport];
    setConnection(s.code === 1000 ? 'ended' : 'failed',
      s.code === 1000 ? `run ended · came over ${over}` : `closed (${s.code ?? ''} ${s.reason ?? ''})`);
  }
});
client.on('@fallback', (f) => {
  showNotice(`WebSockets could not be opened from here (a proxy or firewall may block them): switched to ${TRANSPORT_NAMES[f.transport]}. The numbers are the same, just a little later.`);
});
client.on('@reset', () => {
  // The session started over (deleted and published again, or an in-memory gateway restarted):
  // what this page drew belongs to the old run.
  Object.assign(run, { started: null, latest: null, latestSeq: 0, completed: null, partial: false });
  run.series.clear();
  run.best.clear();
  render();
});
client.on('@resumed', (r) => {
  // History keeps the last events of a session only; the chart then starts where it does.
  if (r.complete === false) {
    run.partial = true;
    render();
  }
});

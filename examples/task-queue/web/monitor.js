// The queue monitor: a table of tasks built from the session's keyed state when the page opens
// (one entry per event name and task id), then kept current by live events.
const params = new URLSearchParams(location.search);
const gateway = params.get('gateway') ?? 'http://127.0.0.1:8080';
const session = params.get('session') ?? 'queue:default';
const { GatewayClient } = await import(`${gateway}/client.js`);

const STATES = { task_queued: 'queued', task_started: 'running', task_completed: 'completed', task_failed: 'failed' };
const MAX_ROWS = 200;
const THROUGHPUT_WINDOW_MS = 60_000;

const tasks = new Map();
const progress = { received: 0, conflated: 0 };
let drained = null;

function taskOf(id) {
  let task = tasks.get(id);
  if (!task) {
    task = { id, kind: '', input: null, state: 'queued', stateSeq: 0, percent: 0, progressSeq: 0, queuedSeq: Infinity, worker: null, detail: '', durationMs: null, endedAt: null };
    tasks.set(id, task);
  }
  return task;
}

// One reducer for the snapshot's entries and for live events. Each field remembers the seq it came
// from, so an event seen live and again in the snapshot (or a snapshot entry older than a live
// event) never moves a task backwards.
function apply(name, id, data, seq, ts) {
  if (!(name in STATES) && name !== 'task_progress') return;
  const task = taskOf(id);
  task.kind = data.kind ?? task.kind;
  if (name === 'task_queued') {
    task.queuedSeq = Math.min(task.queuedSeq, seq);
    task.input = data.input;
  }
  if (name === 'task_progress') {
    if (seq > task.progressSeq) {
      task.progressSeq = seq;
      task.percent = data.percent;
      task.worker ??= data.worker;
    }
    return;
  }
  if (seq <= task.stateSeq) return;
  task.stateSeq = seq;
  task.state = STATES[name];
  if (data.worker) task.worker = data.worker;
  if (name === 'task_completed' || name === 'task_failed') {
    task.durationMs = data.duration_ms;
    task.endedAt = Date.parse(ts);
    task.detail = name === 'task_completed' ? data.result : data.error;
  }
}

const client = new GatewayClient(`${gateway.replace(/^http/, 'ws')}/ws/${session}`);
window.monitor = { client, tasks, progress };

client.on('*', (e) => {
  if (e.event === 'queue_drained') {
    drained = e.data;
  } else if (e.key) {
    if (e.event === 'task_progress') {
      progress.received++;
      progress.conflated += e.conflated ?? 0;
    }
    apply(e.event, e.key, e.data, e.seq, e.ts);
  }
  schedule();
});

// Where things stand, from the session's keyed state: every task's latest queued, started,
// progress and outcome event, applied oldest first. Asked for once the client has joined; events
// published meanwhile arrive live too, and the seqs sort them out.
async function loadSnapshot() {
  const status = await client.status();
  const entries = [];
  for (const [name, byKey] of Object.entries(status.keyed ?? {})) {
    for (const [key, entry] of Object.entries(byKey)) entries.push({ name, key, ...entry });
  }
  entries.sort((a, b) => a.seq - b.seq);
  for (const entry of entries) apply(entry.name, entry.key, entry.data, entry.seq, entry.ts);
  drained ??= status.state?.queue_drained?.data ?? null;
  document.body.dataset.snapshot = 'loaded';
  schedule();
}

function reload() {
  loadSnapshot().catch((error) => console.error('reading the queue state failed:', error));
}

client.on('@resumed', (resumed) => {
  // Back after a drop, but the gateway's history no longer held everything missed meanwhile:
  // the keyed state still has every task's latest events.
  if (!resumed.complete) reload();
});

client.on('@reset', () => {
  // The session started a new life (deleted, expired, or its gateway restarted): start over.
  tasks.clear();
  drained = null;
  reload();
});

const connection = document.getElementById('connection');
let latency = null;
client.on('@state', (s) => {
  connection.dataset.state = s.state;
  const attempt = s.state === 'reconnecting' ? ` (attempt ${s.attempt})` : '';
  setText('connection-text', `${s.state}${attempt} · ${s.transport}${latency === null ? '' : ` · ${latency} ms`}`);
});
client.on('@latency', (ms) => {
  latency = ms;
  if (client.state === 'open') setText('connection-text', `open · ${client.transport} · ${ms} ms`);
});

reload();

let pending = false;
function schedule() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    render();
  });
}

// The throughput window moves with time, even when nothing is published.
setInterval(schedule, 1000);

function render() {
  const counts = { queued: 0, running: 0, completed: 0, failed: 0 };
  const workers = new Map();
  const windowStart = Date.now() - THROUGHPUT_WINDOW_MS;
  let recent = 0;
  for (const task of tasks.values()) {
    counts[task.state]++;
    if (task.state === 'completed' && task.endedAt >= windowStart) recent++;
    if (!task.worker) continue;
    let worker = workers.get(task.worker);
    if (!worker) workers.set(task.worker, worker = { name: task.worker, now: null, done: 0, failed: 0, totalMs: 0 });
    if (task.state === 'running') worker.now = task;
    if (task.state === 'completed') { worker.done++; worker.totalMs += task.durationMs ?? 0; }
    if (task.state === 'failed') worker.failed++;
  }

  for (const [state, count] of Object.entries(counts)) setText(`count-${state}`, count);
  setText('throughput', recent);
  setText('progress-received', progress.received);
  setText('progress-conflated', progress.conflated);
  setText('session', session);
  setText('last-run', drained ? `· last drained: run ${drained.run}, ${drained.completed} completed, ${drained.failed} failed in ${seconds(drained.elapsed_ms)}` : '');

  const workerRows = [...workers.values()].sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true })).map((w) =>
    row({ 'data-worker': w.name },
      cell(w.name),
      cell(w.now ? `${w.now.id} (${w.now.percent}%)` : 'idle', w.now ? '' : 'muted'),
      cell(w.done, 'num'), cell(w.failed, 'num'),
      cell(w.done ? seconds(w.totalMs / w.done) : '-', 'num')));
  document.querySelector('#workers tbody').replaceChildren(...workerRows);

  // Running first, then waiting in queue order, then the most recently ended.
  const rank = { running: 0, queued: 1, completed: 2, failed: 2 };
  const ordered = [...tasks.values()].sort((a, b) =>
    rank[a.state] - rank[b.state] || (rank[a.state] === 2 ? b.endedAt - a.endedAt : a.queuedSeq - b.queuedSeq));
  const taskRows = ordered.slice(0, MAX_ROWS).map((t) => {
    const percent = t.state === 'completed' ? 100 : t.percent;
    const bar = document.createElement('div');
    bar.className = 'bar';
    bar.style.setProperty('--percent', `${percent}%`);
    bar.dataset.percent = percent;
    const meter = document.createElement('div');
    meter.className = 'meter';
    const figure = document.createElement('span');
    figure.textContent = `${percent}%`;
    meter.append(bar, figure);
    const detail = t.state === 'completed' || t.state === 'failed' ? `${t.detail} · ${seconds(t.durationMs)}` : t.input ?? '';
    return row({ 'data-task': t.id, 'data-state': t.state },
      cell(t.id, 'mono'), cell(t.kind),
      cell(badge(t.state)),
      cell(meter, 'progress-col'),
      cell(t.worker ?? '-', t.worker ? '' : 'muted'),
      cell(detail, t.state === 'failed' ? 'error' : 'muted'));
  });
  document.querySelector('#tasks tbody').replaceChildren(...taskRows);
  document.getElementById('empty').hidden = tasks.size > 0;
  if (tasks.size > MAX_ROWS) setText('last-run', `${document.getElementById('last-run').textContent} · showing ${MAX_ROWS} of ${tasks.size}`);
}

function setText(id, value) {
  const element = document.getElementById(id);
  if (element.textContent !== String(value)) element.textContent = value;
}

function seconds(ms) {
  return ms == null ? '-' : `${(ms / 1000).toFixed(1)} s`;
}

function text(value) {
  return document.createTextNode(String(value));
}

function badge(state) {
  const span = document.createElement('span');
  span.className = `badge ${state}`;
  span.textContent = state;
  return span;
}

function cell(content, className = '') {
  const td = document.createElement('td');
  if (className) td.className = className;
  td.append(...(Array.isArray(content) ? content : [content instanceof Node ? content : text(content)]));
  return td;
}

function row(attributes, ...cells) {
  const tr = document.createElement('tr');
  for (const [name, value] of Object.entries(attributes)) tr.setAttribute(name, value);
  tr.append(...cells);
  return tr;
}

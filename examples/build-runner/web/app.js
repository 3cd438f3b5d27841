// The build page: one GatewayClient on the build's session, from its first event (since: 0), so
// a page opened late (even after the build ended) shows the whole log from line 1 and where
// every component, feature and checkpoint stands.
const params = new URLSearchParams(location.search);
const gateway = (params.get('gateway') ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
const session = params.get('session') ?? 'build-demo';

const $ = (selector) => document.querySelector(selector);
const log = $('#log');
const followButton = $('#follow');

$('#session').textContent = session;
document.title = `${session} · build log`;

// ---- The terminal -------------------------------------------------------------------------

let lineCount = 0;
let pending = [];
let flushScheduled = false;
let following = true;

// Lines arrive in bursts (a replay is a thousand at once): they are added to the page once per
// frame, in one go, and the view stays at the bottom only if the reader has not scrolled up.
function addLine(n, text) {
  pending.push([n, text]);
  if (!flushScheduled) {
    flushScheduled = true;
    requestAnimationFrame(flushLines);
  }
}

function flushLines() {
  flushScheduled = false;
  const fragment = document.createDocumentFragment();
  if (lineCount === 0 && pending.length > 0 && pending[0][0] > 1) {
    // The session's history no longer held the start of the log (its profile keeps too few
    // events for this build): say so rather than pass line n off as the first.
    const gap = document.createElement('div');
    gap.className = 'gap';
    gap.textContent = `… lines 1 to ${pending[0][0] - 1} are no longer in the session's history`;
    fragment.append(gap);
  }
  for (const [n, text] of pending) {
    const line = document.createElement('div');
    line.className = 'line';
    const number = document.createElement('span');
    number.className = 'n';
    number.textContent = n;
    line.append(number);
    renderAnsi(text, line);
    fragment.append(line);
  }
  lineCount += pending.length;
  pending = [];
  log.append(fragment);
  $('#line-count').textContent = `${lineCount.toLocaleString('en')} ${lineCount === 1 ? 'line' : 'lines'}`;
  if (following) {
    log.scrollTop = log.scrollHeight;
  }
}

log.addEventListener('scroll', () => {
  following = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
  followButton.hidden = following;
});
followButton.addEventListener('click', () => {
  following = true;
  followButton.hidden = true;
  log.scrollTop = log.scrollHeight;
});

// ANSI colours, rendered simply: SGR bold, dim and the 16 foreground colours; every other
// escape sequence (cursor moves, erase line) is dropped.
const ESCAPE = /\x1b\[([0-9;?]*)([A-Za-z])/g;

function renderAnsi(text, parent) {
  let bold = false;
  let dim = false;
  let colour = null;
  let last = 0;
  const emit = (part) => {
    if (part.length === 0) {
      return;
    }
    if (!bold && !dim && colour === null) {
      parent.append(part);
      return;
    }
    const span = document.createElement('span');
    span.className = [bold && 'b', dim && 'd', colour !== null && `c${colour}`].filter(Boolean).join(' ');
    span.textContent = part;
    parent.append(span);
  };
  for (const match of text.matchAll(ESCAPE)) {
    emit(text.slice(last, match.index));
    last = match.index + match[0].length;
    if (match[2] !== 'm') {
      continue;
    }
    for (const code of (match[1] || '0').split(';').map(Number)) {
      if (code === 0) { bold = false; dim = false; colour = null; }
      else if (code === 1) { bold = true; }
      else if (code === 2) { dim = true; }
      else if (code === 22) { bold = false; dim = false; }
      else if (code === 39) { colour = null; }
      else if ((code >= 30 && code <= 37) || (code >= 90 && code <= 97)) { colour = code; }
    }
  }
  // Other control characters (a stray \r, a bell) would show as boxes.
  emit(text.slice(last).replace(/[\x00-\x08\x0b-\x1f\x7f]/g, ''));
}

// ---- Progress -----------------------------------------------------------------------------

const bars = { component: new Map(), feature: new Map() };

function barRow(kind, name) {
  let row = bars[kind].get(name);
  if (!row) {
    row = document.createElement('li');
    row.dataset.name = name;
    row.innerHTML = '<span class="name"></span><span class="bar"><span class="fill"></span></span><span class="count"></span>';
    row.querySelector('.name').textContent = name;
    $(kind === 'component' ? '#components' : '#features').append(row);
    bars[kind].set(name, row);
  }
  return row;
}

function setBar(kind, name, pct, status, count) {
  const row = barRow(kind, name);
  row.dataset.status = status;
  row.querySelector('.fill').style.width = `${pct}%`;
  row.querySelector('.count').textContent = count;
}

function setOverall(pct, text) {
  $('#overall-fill').style.width = `${pct}%`;
  $('.overall').setAttribute('aria-valuenow', String(pct));
  $('#overall-text').textContent = text;
}

// ---- Checkpoints --------------------------------------------------------------------------

const checkpoints = new Map();

function describeCheckpoint(content) {
  if (!content || typeof content !== 'object') {
    return '';
  }
  switch (content.stage) {
    case 'compile': return `${content.artifact} · ${content.objects} objects${content.warnings ? ` · ${content.warnings} warnings` : ''}`;
    case 'test': return `${content.passed} passed${content.failed ? `, ${content.failed} failed` : ''}`;
    case 'package': return `${content.artifact.split('/').pop()} · ${(content.bytes / 1048576).toFixed(1)} MB`;
    default: return JSON.stringify(content);
  }
}

function showCheckpoint(event) {
  const { path, change, content, contentError } = event.data;
  let item = checkpoints.get(path);
  if (change === 'deleted') {
    item?.remove();
    checkpoints.delete(path);
  } else {
    if (!item) {
      item = document.createElement('li');
      item.innerHTML = '<span class="path"></span><time></time><span class="detail muted"></span>';
      checkpoints.set(path, item);
      // In name order, which is the order the build writes them in.
      const after = [...checkpoints.keys()].sort().filter((p) => p > path).map((p) => checkpoints.get(p)).find((li) => li.isConnected);
      $('#checkpoints').insertBefore(item, after ?? null);
    }
    item.dataset.stage = content?.stage ?? '';
    item.dataset.failed = String(Boolean(content?.failed));
    item.querySelector('.path').textContent = path;
    item.querySelector('time').textContent = new Date(event.ts).toLocaleTimeString('en-GB');
    item.querySelector('.detail').textContent = contentError ? `unreadable: ${contentError}` : describeCheckpoint(content);
  }
  $('#checkpoint-count').textContent = checkpoints.size ? `(${checkpoints.size})` : '';
}

// ---- The result ---------------------------------------------------------------------------

function showResult(data) {
  const result = $('#result');
  const seconds = (data.duration_ms / 1000).toFixed(1);
  document.body.dataset.result = data.status;
  if (data.status === 'passed') {
    result.textContent = `✔ Build passed in ${seconds} s · ${data.lines.toLocaleString('en')} lines · ${data.tests.passed.toLocaleString('en')} tests · ${data.warnings} warnings`;
  } else {
    const failed = data.failed_tests?.length ? `: ${data.failed_tests.join(', ')}` : '';
    result.textContent = `✘ Build failed (exit ${data.exit_code}) after ${seconds} s${failed}`;
  }
}

function clearAll() {
  log.replaceChildren();
  pending = [];
  lineCount = 0;
  $('#line-count').textContent = '0 lines';
  for (const kind of ['component', 'feature']) {
    bars[kind].clear();
  }
  $('#components').replaceChildren();
  $('#features').replaceChildren();
  checkpoints.clear();
  $('#checkpoints').replaceChildren();
  $('#checkpoint-count').textContent = '';
  document.body.dataset.result = 'running';
  $('#result').textContent = 'Waiting for the build…';
  setOverall(0, '');
}

// ---- The connection -----------------------------------------------------------------------

const connection = $('#connection');
function showConnection(state) {
  connection.dataset.state = state.state;
  if (state.state === 'open') {
    connection.textContent = `live · ${state.transport}`;
  } else if (state.state === 'reconnecting') {
    connection.textContent = `reconnecting (attempt ${state.attempt})`;
  } else if (state.state === 'closed' && state.code === 1000) {
    // The gateway closes a finished build's watchers with 1000 "session complete": the log is whole.
    connection.dataset.state = 'complete';
    connection.textContent = 'build ended · log complete';
  } else if (state.state === 'closed') {
    connection.textContent = `closed${state.reason ? `: ${state.reason}` : ''}`;
  } else {
    connection.textContent = state.state;
  }
}

try {
  const { GatewayClient } = await import(`${gateway}/client.js`);
  const client = new GatewayClient(`${gateway}/ws/${encodeURIComponent(session)}`, { since: 0 });
  window.client = client;

  client.on('@state', showConnection);
  // The build was started over (build.sh deletes the session first): show the new one from scratch.
  client.on('@reset', clearAll);

  client.on('build_started', (e) => {
    const { branch, commit, components, features, steps } = e.data;
    $('#revision').textContent = `${branch} @ ${commit}`;
    for (const c of components) {
      setBar('component', c.name, 0, 'waiting', `0/${c.files}`);
    }
    for (const f of features) {
      setBar('feature', f.name, 0, 'waiting', `0/${f.tests}`);
    }
    $('#result').textContent = 'Building…';
    setOverall(0, `0 of ${steps} steps`);
  });
  client.on('component_progress', (e) => {
    const d = e.data;
    setBar('component', d.component, d.pct, d.status, `${d.compiled}/${d.files}`);
  });
  client.on('feature_progress', (e) => {
    const d = e.data;
    setBar('feature', d.feature, d.pct, d.failed ? 'failed' : d.status, `${d.passed}/${d.tests}`);
  });
  client.on('build_progress', (e) => {
    const d = e.data;
    setOverall(d.pct, `${d.phase} · ${d.done} of ${d.total} steps · ${d.pct}%`);
    if (document.body.dataset.result === 'running') {
      $('#result').textContent = `Building… ${d.pct}%`;
    }
  });
  client.on('terminal_output', (e) => addLine(e.data.n, e.data.line));
  client.on('checkpoint', showCheckpoint);
  client.on('build_finished', (e) => showResult(e.data));
} catch (error) {
  connection.dataset.state = 'closed';
  connection.textContent = `cannot load ${gateway}/client.js`;
  $('#result').textContent = `Is the gateway running at ${gateway}? (${error.message})`;
}

// The gateway's dashboard (docs/dashboard.md): the sessions, a live tail of one with its state,
// keyed state and presence, a publish box and the connection's status. Plain ES module, no build
// step and no dependency but the gateway's own /client.js. Everything it shows comes from the
// public API (GET /api/sessions, polled) and one GatewayClient per open session.

import { GatewayClient } from '../client.js';

// The gateway's root, with whatever path prefix a reverse proxy put before it: the page is served
// at {root}/ and this module at {root}/dashboard/dashboard.js.
const ROOT = new URL('..', import.meta.url);

// The session list is polled: a list of sessions has no stream of its own, and one small GET every
// two seconds is cheap for the gateway and live enough for a person. Paused while the tab is hidden.
const POLL_MS = 2000;

// The tail keeps the newest rows only: a page left open on a busy session must not grow forever.
const TAIL_MAX = 500;

// Join and leave lines kept under the member list.
const PRESENCE_LOG_MAX = 8;

const SESSION_NAME = /^[A-Za-z0-9._:-]{1,128}$/;
const EVENT_NAME = /^[A-Za-z0-9._:-]{1,64}$/;
const NAME_RULE = 'characters from A-Z a-z 0-9 . _ : -';
const TOKEN_KEY = 'gateway-dashboard-token';

const $ = (id) => document.getElementById(id);

// The open session (its client, state and members), or null on the list.
const view = { session: null };

// False until the first answer from the session list that was not a 401: a session is not opened
// before the page knows which credentials it needs.
let authorized = false;

// ---- credentials ----------------------------------------------------------------------------

/**
 * The token the user gave, kept in sessionStorage (this tab only, gone when it closes) and never
 * put in a URL. A JWT travels as `Authorization: Bearer`; anything else is taken for an API key
 * (`X-Api-Key`). WebSockets get a single-use ticket for it (spec section 14).
 */
const credentials = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  set token(value) {
    if (value) {
      sessionStorage.setItem(TOKEN_KEY, value);
    } else {
      sessionStorage.removeItem(TOKEN_KEY);
    }
    $('sign-out').hidden = !value;
  },
  isJwt(token) {
    return token.split('.').length === 3;
  },
  headers() {
    const token = this.token;
    if (!token) {
      return {};
    }
    return this.isJwt(token) ? { Authorization: `Bearer ${token}` } : { 'X-Api-Key': token };
  },
};

function api(path, init = {}) {
  return fetch(new URL(path, ROOT), { ...init, cache: 'no-store', headers: { ...credentials.headers(), ...init.headers } });
}

/** The gateway's own words for a refusal: a problem+json `detail`, else the body, else the status. */
async function problemText(response) {
  const text = await response.text().catch(() => '');
  return problemTextOf(response.status, text);
}

function problemTextOf(status, text) {
  try {
    const problem = JSON.parse(text);
    if (problem && typeof problem.detail === 'string') {
      return `${problem.detail} (${status}${problem.title ? ` ${problem.title}` : ''})`;
    }
  } catch {
    // Not JSON: the body as it came.
  }
  return text ? `${text.trim()} (${status})` : `the gateway answered ${status}`;
}

// ---- the token prompt -----------------------------------------------------------------------

/** Shows the token form, with the gateway's reason when a token was refused. */
function askForToken(reason) {
  const overlay = $('token-overlay');
  if (reason || overlay.hidden) {
    $('token-error').textContent = reason ?? '';
  }
  if (overlay.hidden) {
    overlay.hidden = false;
    $('token-input').value = '';
  }
  $('token-input').focus();
}

$('token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const token = $('token-input').value.trim();
  if (!token) {
    $('token-error').textContent = 'Type a token: a JWT, or an API key of this gateway.';
    return;
  }
  credentials.token = token;
  $('token-overlay').hidden = true;
  pollNow();
  if (view.session) {
    openSession(view.session.name);
  }
});

$('sign-out').addEventListener('click', () => {
  credentials.token = null;
  closeSession();
  // The session opens again once the gateway has said whether it needs a token.
  authorized = false;
  pollNow();
});

// ---- the connection status pill -------------------------------------------------------------

const TRANSPORT_NAMES = { websocket: 'WebSocket', sse: 'SSE', poll: 'long polling' };

function showStatus(state, text, { retry = null, title = '' } = {}) {
  const pill = $('status');
  pill.dataset.state = state;
  pill.title = title;
  setText($('status-text'), text);
  $('status-retry').hidden = retry === null;
  if (retry !== null) {
    setText($('status-retry'), retry);
  }
}

/** The pill while no session is open: whether the gateway answers the session list. */
function showListStatus() {
  if (view.session) {
    return;
  }
  if (!$('token-overlay').hidden) {
    showStatus('auth', 'token needed');
  } else if (list.reachable === false) {
    showStatus('offline', 'gateway unreachable', { title: list.error ?? '' });
  } else {
    showStatus('idle', list.reachable ? 'no session open' : 'starting');
  }
}

function showClientStatus() {
  const session = view.session;
  if (!session) {
    return;
  }
  const { client } = session;
  if (!client) {
    return;
  }
  const s = session.lastState ?? { state: client.state };
  const via = client.transport !== 'websocket' ? ` · ${TRANSPORT_NAMES[client.transport]}` : '';
  switch (s.state) {
    case 'open':
      showStatus('open', client.latency === null ? `connected${via}` : `connected · ${client.latency} ms${via}`, {
        title: `Open over ${TRANSPORT_NAMES[client.transport]}; latency is the last ping's round trip`,
      });
      break;
    case 'reconnecting':
      showStatus('reconnecting', `reconnecting (attempt ${s.attempt})`, {
        retry: 'Retry now',
        title: `Next try in ${((s.delay ?? 0) / 1000).toFixed(1)} s${session.lastError ? `; last error: ${session.lastError}` : ''}`,
      });
      break;
    case 'closed':
      if (session.complete) {
        showStatus('complete', 'session complete', { retry: 'Reconnect', title: 'The gateway closed the session: a final event ended it' });
      } else {
        showStatus('closed', 'disconnected', { retry: 'Retry', title: session.lastError ?? s.reason ?? '' });
      }
      break;
    default:
      showStatus('connecting', 'connecting…');
  }
  // Who was there when the connection was last open; greyed until it is open again.
  $('members').classList.toggle('stale', s.state !== 'open');
  setText($('fact-transport'), TRANSPORT_NAMES[client.transport]);
}

$('status-retry').addEventListener('click', () => {
  const session = view.session;
  if (!session?.client) {
    return;
  }
  // close() then connect(): the attempt count starts over and the client resumes from its cursor.
  session.client.close();
  session.lastError = null;
  session.client.connect();
});

// ---- the session list -----------------------------------------------------------------------

const list = {
  reachable: null,
  error: null,
  items: [],
  rows: new Map(),
  timer: null,
  inFlight: false,
  lastOk: null,
};

async function pollSessions() {
  if (list.inFlight) {
    return;
  }
  list.inFlight = true;
  clearTimeout(list.timer);
  list.timer = null;
  let refused = null;
  try {
    const response = await api('api/sessions');
    list.reachable = true;
    list.error = null;
    if (response.status === 401) {
      refused = await problemText(response);
    } else if (!response.ok) {
      // 403: the token is good but may not list sessions (an admin right); a session can still be opened by name.
      list.items = [];
      renderSessions();
      setSessionsNote(await problemText(response), true);
    } else {
      list.items = await response.json();
      list.lastOk = new Date();
      renderSessions();
    }
  } catch (error) {
    list.reachable = false;
    list.error = String(error.message ?? error);
    setSessionsNote('The gateway does not answer; retrying.', true);
  } finally {
    list.inFlight = false;
  }
  if (refused !== null) {
    // No token yet: just ask. A token the gateway refused: say why, in its words, and ask again.
    const hadToken = credentials.token !== null;
    credentials.token = null;
    setSessionsNote('This gateway needs a token.', true);
    askForToken(hadToken ? `The gateway refused it: ${refused}` : '');
    showListStatus();
    return;
  }
  if (!authorized) {
    // The gateway answered without asking for a token (or is away, and the client will keep
    // trying): the session in the address can be opened now.
    authorized = true;
    route();
  }
  showListStatus();
  renderUpdated();
  schedulePoll();
}

function schedulePoll() {
  clearTimeout(list.timer);
  list.timer = document.hidden || !$('token-overlay').hidden ? null : setTimeout(pollSessions, POLL_MS);
}

function pollNow() {
  clearTimeout(list.timer);
  pollSessions();
}

document.addEventListener('visibilitychange', () => {
  if (!document.hidden) {
    pollNow();
  }
});

function setSessionsNote(text, error = false) {
  const note = $('sessions-note');
  note.hidden = !text;
  note.classList.toggle('error', error);
  setText(note, text ?? '');
}

function renderUpdated() {
  const foot = $('sessions-updated');
  setText(foot, list.lastOk ? `Updated ${clock(list.lastOk)} · every ${POLL_MS / 1000} s` : '');
}

/** Updates the list in place (rows are kept, text changed only where it changed): no flicker, no lost hover. */
function renderSessions() {
  const filter = $('filter').value.trim().toLowerCase();
  const items = [...list.items].sort((a, b) => (a.session < b.session ? -1 : a.session > b.session ? 1 : 0));
  const shown = filter ? items.filter((s) => s.session.toLowerCase().includes(filter)) : items;
  const ul = $('sessions');
  const keep = new Set();
  shown.forEach((item, index) => {
    keep.add(item.session);
    let row = list.rows.get(item.session);
    if (!row) {
      row = sessionRow(item.session);
      list.rows.set(item.session, row);
    }
    updateSessionRow(row, item);
    if (ul.children[index] !== row.li) {
      ul.insertBefore(row.li, ul.children[index] ?? null);
    }
  });
  for (const [name, row] of list.rows) {
    if (!keep.has(name)) {
      row.li.remove();
      list.rows.delete(name);
    }
  }
  setText($('session-count'), items.length ? (shown.length === items.length ? `${items.length}` : `${shown.length} of ${items.length}`) : '');
  if (!items.length) {
    setSessionsNote('No sessions yet. Publish an event, or open a session by name.');
  } else if (!shown.length) {
    setSessionsNote(`No session matches “${filter}”.`);
  } else {
    setSessionsNote(null);
  }
  markCurrentSession();
  if (view.session) {
    const mine = list.items.find((s) => s.session === view.session.name);
    if (mine) {
      setClients(mine.clients);
    }
  }
}

function sessionRow(name) {
  const li = document.createElement('li');
  li.dataset.session = name;
  const a = document.createElement('a');
  a.href = sessionHash(name);
  const top = document.createElement('div');
  top.className = 'session-row-top';
  const title = element('span', 'session-name', name);
  title.title = name;
  const badge = element('span', 'badge badge-complete', 'complete');
  badge.hidden = true;
  top.append(title, badge);
  const meta = document.createElement('div');
  meta.className = 'session-meta';
  const seq = element('span', 'seq');
  const clients = element('span', 'clients');
  const last = element('span', 'last');
  meta.append(seq, clients, last);
  a.append(top, meta);
  li.append(a);
  return { li, badge, seq, clients, last };
}

function updateSessionRow(row, item) {
  setText(row.seq, `seq ${item.seq}`);
  setText(row.clients, `${item.clients} ${item.clients === 1 ? 'client' : 'clients'}`);
  row.clients.classList.toggle('live', item.clients > 0);
  setText(row.last, item.lastEventAt ? ago(item.lastEventAt) : 'no events');
  row.last.title = item.lastEventAt ? `last event ${new Date(item.lastEventAt).toLocaleString()}` : '';
  row.badge.hidden = !item.complete;
  row.li.dataset.clients = String(item.clients);
  row.li.dataset.seq = String(item.seq);
}

function markCurrentSession() {
  const current = view.session?.name;
  for (const [name, row] of list.rows) {
    row.li.setAttribute('aria-current', name === current ? 'true' : 'false');
  }
}

$('filter').addEventListener('input', renderSessions);

// ---- routing --------------------------------------------------------------------------------


function sessionHash(name) {
  return `#/session/${encodeURIComponent(name)}`;
}

function route() {
  if (!authorized) {
    return;
  }
  const match = /^#\/session\/(.+)$/.exec(location.hash);
  let name = null;
  if (match) {
    try {
      name = decodeURIComponent(match[1]);
    } catch {
      name = match[1];
    }
  }
  if (name !== null && !SESSION_NAME.test(name)) {
    closeSession();
    showEmpty(`“${name}” is not a session name: 1-128 ${NAME_RULE}.`);
    return;
  }
  if (name === null) {
    closeSession();
    showEmpty();
    return;
  }
  if (view.session?.name !== name) {
    openSession(name);
  }
}

function showEmpty(error = '') {
  $('empty-view').hidden = false;
  $('session-view').hidden = true;
  $('crumb-sep').hidden = true;
  setText($('crumb-session'), '');
  $('open-error').textContent = error;
  document.title = 'Gateway dashboard';
  markCurrentSession();
  showListStatus();
}

$('open-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const name = $('open-name').value.trim();
  if (!SESSION_NAME.test(name)) {
    $('open-error').textContent = `A session name is 1-128 ${NAME_RULE}.`;
    return;
  }
  location.hash = sessionHash(name);
});

window.addEventListener('hashchange', route);

// ---- one session ----------------------------------------------------------------------------

function webSocketAddress(name) {
  const url = new URL(`ws/${encodeURIComponent(name)}`, ROOT);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  if (!credentials.token) {
    // With auth off a client names itself (spec section 17): the others see who is watching.
    url.searchParams.set('user', 'dashboard');
  }
  return url.toString();
}

/** How the client authenticates: a JWT through client.js's token option, an API key through tickets minted here. */
function clientCredentials(name) {
  const token = credentials.token;
  if (!token) {
    return {};
  }
  if (credentials.isJwt(token)) {
    return { token: () => credentials.token ?? '' };
  }
  return {
    ticket: async () => {
      const response = await api('api/tickets', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ sessions: [name] }),
      });
      if (!response.ok) {
        const error = new Error(`POST /api/tickets answered ${response.status}: ${await response.text()}`);
        error.code = 'ticket_refused';
        throw error;
      }
      return (await response.json()).ticket;
    },
  };
}

function openSession(name) {
  closeSession();
  $('empty-view').hidden = true;
  $('session-view').hidden = false;
  $('crumb-sep').hidden = false;
  setText($('crumb-session'), name);
  setText($('session-name'), name);
  document.title = `${name} · Gateway dashboard`;
  for (const id of ['fact-seq', 'fact-clients', 'fact-epoch', 'fact-transport']) {
    setText($(id), '–');
  }
  $('fact-complete').hidden = true;
  $('publish-result').textContent = '';
  $('publish-result').className = 'publish-result';
  resetTail();

  const session = {
    name,
    client: null,
    me: null,
    complete: false,
    lastState: null,
    lastError: null,
    state: {},
    keyed: {},
    // One list per status request out: the events that came meanwhile, applied again on top of its answer.
    snapshots: new Set(),
    members: [],
    presenceOff: null,
  };
  view.session = session;
  markCurrentSession();
  renderState();
  renderPresence();
  showStatus('connecting', 'connecting…');
  startingPoint(name).then((start) => {
    if (view.session === session) {
      watch(session, start);
    }
  });
}

/**
 * Where the tail starts: the last TAIL_MAX events of what history holds, not all of it (a profile
 * may keep a million). Unknown, refused or unreachable: from the start of what there is.
 */
async function startingPoint(name) {
  try {
    const response = await api(`api/sessions/${encodeURIComponent(name)}`);
    if (response.ok) {
      const session = await response.json();
      return { since: Math.max(0, session.seq - TAIL_MAX), epoch: session.epoch };
    }
  } catch {
    // The client reports the outage itself.
  }
  return { since: 0 };
}

function watch(session, start) {
  const client = new GatewayClient(webSocketAddress(session.name), {
    ...start,
    presence: true,
    ...clientCredentials(session.name),
  });
  session.client = client;
  window.client = client;

  client.on('@state', (s) => {
    session.lastState = s;
    if (s.state === 'closed' && s.code === 1000 && s.reason === 'session complete') {
      session.complete = true;
      $('fact-complete').hidden = false;
    }
    showClientStatus();
  });
  client.on('@latency', () => showClientStatus());
  client.on('@welcome', (w) => {
    session.me = w.connection;
    setText($('fact-epoch'), w.epoch ?? '–');
    if (w.complete) {
      session.complete = true;
      $('fact-complete').hidden = false;
    }
    renderPresence();
  });
  client.on('@open', () => {
    refreshSnapshot(session);
    client.presence().then(() => {
      session.presenceOff = null;
      renderPresence();
    }, (error) => {
      if (error.code === 'forbidden') {
        session.presenceOff = error.message;
        renderPresence();
      }
    });
  });
  client.on('@reset', (r) => {
    tailNote(`The session started over (epoch ${r.epoch}): its history was lost; events from seq 1 follow.`);
    session.state = {};
    session.keyed = {};
    setText($('fact-epoch'), r.epoch);
    refreshSnapshot(session);
  });
  client.on('@resumed', (r) => {
    if (r.complete === false) {
      tailNote('Some events were no longer in the history and are missing here; state and keyed state are read again.');
      refreshSnapshot(session);
    }
  });
  client.on('@members', (members) => {
    session.members = members;
    renderPresence();
  });
  client.on('@join', (m) => presenceLog('join', m));
  client.on('@leave', (m) => presenceLog('leave', m));
  client.on('@presence_diff', (d) => {
    (d.joined ?? []).forEach((m) => presenceLog('join', m));
    (d.left ?? []).forEach((m) => presenceLog('leave', m));
  });
  client.on('@error', (error) => onClientError(session, error));
  client.on('*', (e) => onEvent(session, e));
}

function closeSession() {
  const session = view.session;
  if (!session) {
    return;
  }
  view.session = null;
  session.client?.close();
  window.client = undefined;
}

function onClientError(session, error) {
  session.lastError = error?.message ?? String(error);
  if (error?.code === 'ticket_refused') {
    const match = /answered (\d{3}): ([\s\S]*)$/.exec(error.message);
    const status = match ? Number(match[1]) : 0;
    const reason = match ? problemTextOf(status, match[2]) : error.message;
    if (status === 401) {
      // The token is no longer good (expired, revoked): ask again rather than retry forever.
      session.client.close();
      credentials.token = null;
      askForToken(`The gateway refused it: ${reason}`);
      return;
    }
    if (status === 403) {
      session.client.close();
      tailNote(`Refused: ${reason}`);
    }
  }
  if (view.session === session) {
    showClientStatus();
  }
}

/** Reads the session's state and keyed state; events that arrive meanwhile are applied again on top. */
async function refreshSnapshot(session) {
  const later = [];
  session.snapshots.add(later);
  let status;
  try {
    status = await session.client.status();
  } catch {
    // Disconnected meanwhile: the next open reads it again.
    return;
  } finally {
    session.snapshots.delete(later);
  }
  if (view.session !== session) {
    return;
  }
  if (!status) {
    return;
  }
  session.state = structuredClone(status.state ?? {});
  session.keyed = structuredClone(status.keyed ?? {});
  for (const e of later) {
    applyToState(session, e);
  }
  if (status.complete) {
    session.complete = true;
    $('fact-complete').hidden = false;
  }
  setText($('fact-epoch'), status.epoch ?? '–');
  setSeq(Math.max(status.seq ?? 0, session.client.seq ?? 0));
  setClients(status.clients);
  renderState();
}

function onEvent(session, e) {
  if (view.session !== session) {
    return;
  }
  for (const later of session.snapshots) {
    later.push(e);
  }
  applyToState(session, e);
  setSeq(e.seq);
  queueRow(e);
  scheduleStateRender();
}

/**
 * The state a status answer would show, kept up to date from events: the latest per name, and
 * per name and key, with appends joined (spec section 19). An entry's seq says what it holds, so
 * an event at or below it is already in it.
 */
function applyToState(session, e) {
  if (e.key === undefined) {
    const held = session.state[e.event];
    if (!held || e.seq > held.seq) {
      session.state[e.event] = { seq: e.seq, ts: e.ts, data: e.data };
    }
    return;
  }
  const byKey = (session.keyed[e.event] ??= {});
  const held = byKey[e.key];
  if (held && e.seq <= held.seq) {
    return;
  }
  if (e.append && held && held.chunks > 0 && typeof held.data === 'string') {
    byKey[e.key] = { seq: e.seq, ts: e.ts, data: held.data + e.data, chunks: held.chunks + 1 };
  } else if (e.append) {
    byKey[e.key] = { seq: e.seq, ts: e.ts, data: e.data, chunks: 1 };
  } else {
    byKey[e.key] = { seq: e.seq, ts: e.ts, data: e.data };
  }
}

function setSeq(seq) {
  const shown = Number($('fact-seq').dataset.seq ?? 0);
  if (seq > shown || Number.isNaN(shown)) {
    $('fact-seq').dataset.seq = String(seq);
    setText($('fact-seq'), String(seq));
  }
}

function setClients(clients) {
  if (Number.isInteger(clients)) {
    setText($('fact-clients'), String(clients));
  }
}

// ---- the tail -------------------------------------------------------------------------------

const tail = {
  pending: [],
  frame: 0,
  paused: false,
  pausedBy: null,
  missed: 0,
  rows: 0,
  events: new WeakMap(),
};

function resetTail() {
  tail.pending = [];
  tail.missed = 0;
  tail.rows = 0;
  $('tail').replaceChildren(element('div', 'tail-empty', 'Waiting for events…'));
  $('fact-seq').dataset.seq = '0';
  setPaused(false);
  renderTailCount();
}

function queueRow(e) {
  tail.pending.push(e);
  if (tail.pending.length > TAIL_MAX) {
    tail.pending.splice(0, tail.pending.length - TAIL_MAX);
  }
  if (!tail.frame) {
    // One DOM update per frame, however many events a replay or a burst brings.
    tail.frame = requestAnimationFrame(flushRows);
  }
}

function flushRows() {
  tail.frame = 0;
  const box = $('tail');
  const batch = tail.pending;
  tail.pending = [];
  if (!batch.length) {
    return;
  }
  box.querySelector('.tail-empty')?.remove();
  const fresh = batch.length < 50;
  const fragment = document.createDocumentFragment();
  for (const e of batch) {
    fragment.append(tailRow(e, fresh));
  }
  box.append(fragment);
  tail.rows += batch.length;
  while (tail.rows > TAIL_MAX && box.firstElementChild) {
    if (box.firstElementChild.classList.contains('tail-row')) {
      tail.rows--;
    }
    box.firstElementChild.remove();
  }
  if (tail.paused) {
    tail.missed += batch.length;
    renderPauseButton();
  } else {
    box.scrollTop = box.scrollHeight;
  }
  renderTailCount();
}

function tailRow(e, fresh) {
  const row = document.createElement('div');
  row.className = fresh ? 'tail-row fresh' : 'tail-row';
  row.dataset.seq = String(e.seq);
  row.dataset.event = e.event;
  const name = element('span', 'name', e.event);
  name.title = e.event;
  const time = element('span', 'time', clock(new Date(e.ts), true));
  time.title = e.ts;
  const data = element('span', 'data');
  if (e.key !== undefined) {
    data.append(element('span', 'tag tag-key', `key ${e.key}`));
  }
  if (e.append) {
    data.append(element('span', 'tag tag-append', 'append'));
  }
  if (e.conflated) {
    data.append(element('span', 'tag tag-conflated', `conflated ×${e.conflated}`));
  }
  if (e.from) {
    data.append(element('span', 'tag', `from ${e.from.user ?? e.from.connection}`));
  }
  const text = compact(e.data);
  data.append(document.createTextNode(text));
  data.title = text.length > 2000 ? `${text.slice(0, 2000)}… (click the row for all of it)` : text;
  row.append(element('span', 'seq', String(e.seq)), time, name, data);
  tail.events.set(row, e);
  return row;
}

function tailNote(text) {
  const box = $('tail');
  box.querySelector('.tail-empty')?.remove();
  box.append(element('div', 'tail-note', text));
  if (!tail.paused) {
    box.scrollTop = box.scrollHeight;
  }
}

function renderTailCount() {
  setText($('tail-count'), tail.rows ? (tail.rows >= TAIL_MAX ? `last ${TAIL_MAX}` : `${tail.rows}`) : '');
}

function setPaused(paused, by = 'button') {
  tail.paused = paused;
  tail.pausedBy = paused ? by : null;
  if (!paused) {
    tail.missed = 0;
    const box = $('tail');
    box.scrollTop = box.scrollHeight;
  }
  renderPauseButton();
}

function renderPauseButton() {
  const button = $('tail-pause');
  button.setAttribute('aria-pressed', String(tail.paused));
  setText(button, tail.paused ? (tail.missed ? `Resume scroll (${tail.missed} new)` : 'Resume scroll') : 'Pause scroll');
}

$('tail-pause').addEventListener('click', () => setPaused(!tail.paused));
$('tail-clear').addEventListener('click', () => {
  tail.rows = 0;
  tail.missed = 0;
  $('tail').replaceChildren(element('div', 'tail-empty', 'Cleared; new events appear here.'));
  renderTailCount();
  renderPauseButton();
});

// A click on a row shows its data in full, pretty-printed; another click folds it again.
$('tail').addEventListener('click', (e) => {
  const row = e.target.closest('.tail-row');
  if (!row || window.getSelection()?.toString()) {
    return;
  }
  const event = tail.events.get(row);
  const expanded = row.classList.toggle('expanded');
  const data = row.querySelector('.data');
  data.lastChild.textContent = expanded ? JSON.stringify(event.data, null, 2) : compact(event.data);
});

// Scrolling up to read pauses the auto-scroll; scrolling back to the bottom resumes it.
$('tail').addEventListener('scroll', () => {
  const box = $('tail');
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 24;
  if (!atBottom && !tail.paused) {
    setPaused(true, 'scroll');
  } else if (atBottom && tail.pausedBy === 'scroll') {
    setPaused(false);
  }
}, { passive: true });

// ---- state, keyed state, presence -----------------------------------------------------------

let stateFrame = 0;

function scheduleStateRender() {
  if (!stateFrame) {
    stateFrame = requestAnimationFrame(() => {
      stateFrame = 0;
      renderState();
    });
  }
}

function renderState() {
  const session = view.session;
  if (!session) {
    return;
  }
  const state = $('state');
  const names = Object.keys(session.state).sort();
  setText($('state-count'), names.length ? String(names.length) : '');
  const stateNodes = [];
  for (const name of names) {
    const entry = session.state[name];
    stateNodes.push(kvName(name, null, entry), kvValue(compact(entry.data), name));
  }
  state.replaceChildren(...(stateNodes.length ? stateNodes : [element('dd', 'kv-empty', 'Nothing yet.')]));

  const keyed = $('keyed');
  const keyedNodes = [];
  let count = 0;
  for (const name of Object.keys(session.keyed).sort()) {
    const byKey = session.keyed[name];
    for (const key of Object.keys(byKey).sort()) {
      const entry = byKey[key];
      count++;
      // Assembled text reads as text; anything else as JSON.
      const text = typeof entry.data === 'string' ? entry.data : compact(entry.data);
      keyedNodes.push(kvName(name, key, entry), kvValue(text, `${name}/${key}`));
    }
  }
  setText($('keyed-count'), count ? String(count) : '');
  keyed.replaceChildren(...(keyedNodes.length ? keyedNodes : [element('dd', 'kv-empty', 'No keyed events.')]));
}

function kvName(name, key, entry) {
  const dt = element('dt', 'kv-name');
  const title = element('span', '', name);
  title.title = key === null ? name : `${name} / ${key}`;
  dt.append(title);
  if (key !== null) {
    dt.append(element('span', 'kv-key', key));
  }
  if (entry.chunks) {
    dt.append(element('span', 'kv-chunks', `${entry.chunks} ${entry.chunks === 1 ? 'chunk' : 'chunks'}`));
  }
  const seq = element('span', 'kv-seq', `#${entry.seq}`);
  seq.title = `seq ${entry.seq}, ${new Date(entry.ts).toLocaleString()}`;
  dt.append(seq);
  return dt;
}

function kvValue(text, id) {
  const dd = element('dd', 'kv-value', text);
  dd.dataset.entry = id;
  return dd;
}

function renderPresence() {
  const session = view.session;
  if (!session) {
    return;
  }
  const note = $('presence-note');
  const members = $('members');
  if (session.presenceOff) {
    note.hidden = false;
    setText(note, session.presenceOff.charAt(0).toUpperCase() + session.presenceOff.slice(1));
    members.replaceChildren();
    setText($('presence-count'), '');
    return;
  }
  note.hidden = true;
  const sorted = [...session.members].sort((a, b) => String(a.user ?? '').localeCompare(String(b.user ?? '')) || a.connection.localeCompare(b.connection));
  const users = new Set(sorted.map((m) => m.user ?? `#${m.connection}`));
  setText($('presence-count'), sorted.length ? `${sorted.length} · ${users.size} ${users.size === 1 ? 'user' : 'users'}` : '');
  members.replaceChildren(...sorted.map((m) => {
    const li = document.createElement('li');
    li.dataset.connection = m.connection;
    const who = m.user ?? 'anonymous';
    const avatar = element('span', 'avatar', who.slice(0, 1).toUpperCase());
    avatar.style.background = colourOf(who);
    const name = element('span', 'who', who);
    name.title = m.info ? `${who} ${compact(m.info)}` : who;
    li.append(avatar, name);
    if (m.connection === session.me) {
      const you = element('span', 'you', 'you');
      you.title = 'This dashboard\'s own connection';
      li.append(you);
    }
    const conn = element('span', 'conn', m.connection.slice(0, 8));
    conn.title = `connection ${m.connection}`;
    li.append(conn);
    return li;
  }));
  if (!sorted.length) {
    members.append(element('li', 'kv-empty', 'Nobody is connected.'));
  }
}

function presenceLog(kind, m) {
  const log = $('presence-log');
  const li = element('li', kind);
  const time = element('time', '', clock(new Date()));
  li.append(time, document.createTextNode(`${m.user ?? 'anonymous'} ${kind === 'join' ? 'joined' : 'left'}`));
  log.prepend(li);
  while (log.children.length > PRESENCE_LOG_MAX) {
    log.lastElementChild.remove();
  }
}

// ---- publishing -----------------------------------------------------------------------------

$('publish-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const session = view.session;
  const result = $('publish-result');
  const say = (text, kind) => {
    result.textContent = text;
    result.className = `publish-result ${kind}`;
  };
  if (!session) {
    return;
  }
  const event = $('publish-event').value.trim();
  if (!EVENT_NAME.test(event)) {
    say(`The event name must be 1-64 ${NAME_RULE}.`, 'error');
    return;
  }
  const text = $('publish-data').value.trim();
  let data = null;
  if (text !== '') {
    try {
      data = JSON.parse(text);
    } catch (error) {
      say(`The data is not valid JSON (${error.message}). Give any JSON value, such as {"pct": 40}, "done", 42 or true, or leave it empty for null.`, 'error');
      return;
    }
  }
  say('Publishing…', '');
  try {
    const response = await api(`api/sessions/${encodeURIComponent(session.name)}/events`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ event, data }),
    });
    if (response.status === 202) {
      const accepted = await response.json();
      say(`Published as seq ${accepted.seq}${accepted.duplicate ? ' (a duplicate of an earlier publish)' : ''}.`, 'ok');
      return;
    }
    say(`Not published: ${await problemText(response)}`, 'error');
  } catch (error) {
    say(`Not published: the gateway could not be reached (${error.message}).`, 'error');
  }
});

$('publish-data').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
    e.preventDefault();
    $('publish-form').requestSubmit();
  }
});

// ---- helpers --------------------------------------------------------------------------------

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

/** Changes a node's text only when it differs: no needless layout, no lost selection. */
function setText(node, text) {
  if (node.textContent !== text) {
    node.textContent = text;
  }
}

function compact(value) {
  const text = JSON.stringify(value);
  return text === undefined ? 'null' : text;
}

function pad(n, width = 2) {
  return String(n).padStart(width, '0');
}

function clock(date, millis = false) {
  if (Number.isNaN(date.getTime())) {
    return '–';
  }
  const base = `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  return millis ? `${base}.${pad(date.getMilliseconds(), 3)}` : base;
}

function ago(ts) {
  const seconds = Math.max(0, Math.round((Date.now() - new Date(ts).getTime()) / 1000));
  if (seconds < 2) {
    return 'just now';
  }
  if (seconds < 60) {
    return `${seconds}s ago`;
  }
  if (seconds < 3600) {
    return `${Math.floor(seconds / 60)}m ago`;
  }
  if (seconds < 86400) {
    return `${Math.floor(seconds / 3600)}h ago`;
  }
  return `${Math.floor(seconds / 86400)}d ago`;
}

/** A steady colour per user, so the same person looks the same in every list. */
function colourOf(text) {
  let hash = 0;
  for (const ch of text) {
    hash = (hash * 31 + ch.codePointAt(0)) | 0;
  }
  return `hsl(${Math.abs(hash) % 360} 55% 48%)`;
}

// ---- start ----------------------------------------------------------------------------------

credentials.token = credentials.token; // shows the sign-out button when a token is kept
const asked = new URLSearchParams(location.search).get('session');
if (asked !== null) {
  // ?session=name is the same as #/session/name; the query is dropped so the address stays one form.
  history.replaceState(null, '', `${location.pathname}${sessionHash(asked)}`);
}
showListStatus();
pollSessions();

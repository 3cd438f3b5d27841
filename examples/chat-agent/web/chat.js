// The chat page: one GatewayClient on the room's session, with presence. A message goes to the
// agent as an `rpc`; the agent's events (user_message, status, tool_execution, message_chunk)
// come back to every member, each keyed by the turn they belong to. A page that joins late
// rebuilds the room from the keyed state that `status()` returns, then applies live events.

const params = new URLSearchParams(location.search);
const gateway = (params.get('gateway') ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
const room = params.get('room') ?? 'lobby';

const $ = (id) => document.getElementById(id);
$('room').textContent = room;

let GatewayClient;
try {
  ({ GatewayClient } = await import(`${gateway}/client.js`));
} catch (e) {
  showState('closed', `cannot load ${gateway}/client.js: is the gateway running?`);
  throw e;
}

/** turn id -> what the page shows of one exchange: the user's message, tools, status, the answer. */
const turns = new Map();
/** clientId -> the bubble of a message this page sent that the agent has not echoed yet. */
const pending = new Map();
let client;
let me = null;
let myName = null;

const name = params.get('user')?.trim();
if (name) {
  join(name);
} else {
  $('join').hidden = false;
  $('join-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const typed = $('name').value.trim();
    if (typed) {
      $('join').hidden = true;
      join(typed);
    }
  });
}

function join(user) {
  myName = user;
  // With auth off the gateway takes the name from `user=` (spec section 17); with auth on it
  // would be the token's subject, and this parameter is ignored.
  client = new GatewayClient(`${gateway}/ws/${encodeURIComponent(room)}?user=${encodeURIComponent(user)}`, { presence: true });
  window.client = client;

  client.on('@state', (s) => {
    const text = s.state === 'reconnecting' ? `reconnecting (attempt ${s.attempt})` : s.state;
    showState(s.state, s.transport && s.transport !== 'websocket' ? `${text} · ${s.transport}` : text);
    showQueue();
  });
  client.on('@latency', (ms) => { $('latency').textContent = ` · ${ms} ms`; });
  let loaded = false;
  client.on('@welcome', (w) => {
    me = w.connection;
    // Once: after a reconnect the client resumes from its cursor and misses nothing.
    if (!loaded) {
      loaded = true;
      loadRoom();
    }
  });
  client.on('@reset', () => {
    // The session started over (its history was lost): the turns shown are of its former life.
    // This page's unconfirmed messages stay: the client still holds them.
    for (const t of turns.values()) {
      t.li.remove();
    }
    turns.clear();
    loadRoom();
  });
  client.on('@members', renderMembers);
  client.on('*', (e) => apply(e.event, e.key, e.data, e.seq, e.append === true));

  $('text').disabled = false;
  $('send').disabled = false;
  $('text').focus();
}

/** The room so far, from the session's keyed state: every turn, the answer being written included. */
async function loadRoom() {
  try {
    const status = await client.status();
    const entries = [];
    for (const [event, byKey] of Object.entries(status.keyed ?? {})) {
      for (const [key, entry] of Object.entries(byKey)) {
        entries.push({ event, key, ...entry });
      }
    }
    entries.sort((a, b) => a.seq - b.seq);
    for (const entry of entries) {
      apply(entry.event, entry.key, entry.data, entry.seq, false, true);
    }
  } catch (e) {
    console.warn('could not load the room', e);
  }
}

$('composer').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('text').value.trim();
  if (!text || !client) {
    return;
  }
  $('text').value = '';
  send(text);
});

function send(text) {
  const clientId = Math.random().toString(36).slice(2, 12);
  const li = document.createElement('li');
  li.className = 'turn pending';
  li.append(bubble('user mine', 'you', text));
  const note = document.createElement('span');
  note.className = 'note';
  li.querySelector('.msg').append(note);
  $('messages').append(li);
  pending.set(clientId, li);
  // While the client is connecting or reconnecting it queues the call and sends it first when the
  // WebSocket opens again; nothing to do here but say so.
  const call = client.rpc('chat', { text, clientId });
  note.textContent = client.state === 'open' ? 'sending…' : 'queued: sends when the connection is back';
  li.classList.toggle('queued', client.state !== 'open');
  showQueue();
  changed();

  call
    .then(() => { note.textContent = 'sent'; li.classList.remove('queued'); })
    .catch((err) => {
      li.classList.add('failed');
      note.textContent = err.code === 'disconnected'
        ? 'the connection dropped as it was sent: it may not have arrived'
        : `not sent: ${err.message}`;
    })
    .finally(showQueue);
}

/** Applies one event, or one entry of the keyed state (`fromState`), to its turn. */
function apply(event, key, data, seq, append, fromState = false) {
  if (!key) {
    return;
  }
  switch (event) {
    case 'user_message': {
      const t = turnFor(data.turn ?? key, seq);
      t.order = seq;
      place(t);
      t.user.querySelector('.who').textContent = data.user ?? 'someone';
      t.user.querySelector('.text').textContent = data.text;
      t.user.hidden = false;
      t.user.classList.toggle('mine', pending.has(data.clientId) || data.user === myName);
      const mine = pending.get(data.clientId);
      if (mine) {
        // The agent echoed the message this page sent: the turn takes its place.
        pending.delete(data.clientId);
        mine.remove();
        showQueue();
      }
      break;
    }
    case 'status': {
      const t = turnFor(data.turn ?? key, seq);
      if (seq >= t.statusSeq) {
        t.statusSeq = seq;
        t.li.dataset.status = data.state;
        t.answer.querySelector('.who').textContent = { thinking: 'agent · thinking…', answering: 'agent · answering…', failed: `agent · failed: ${data.error}` }[data.state] ?? 'agent';
        t.answer.hidden = false;
      }
      break;
    }
    case 'tool_execution': {
      const t = turnFor(data.turn, seq);
      let line = t.tools.get(data.call);
      if (!line) {
        line = { el: document.createElement('div'), seq: 0 };
        line.el.className = 'tool';
        t.tools.set(data.call, line);
        t.li.insertBefore(line.el, t.answer);
      }
      if (seq >= line.seq) {
        line.seq = seq;
        const query = JSON.stringify(data.input?.query ?? data.input);
        line.el.dataset.state = data.state;
        line.el.textContent = data.state === 'done'
          ? `${data.tool}(${query}) → ${data.output?.results?.length ?? 0} results · ${data.ms} ms`
          : `${data.tool}(${query}) running…`;
      }
      break;
    }
    case 'message_chunk': {
      const t = turnFor(key, seq);
      if (append) {
        // A chunk at or below the seq of what the page holds is already in the text.
        if (seq > t.answerSeq) {
          t.text += data;
          t.answerSeq = seq;
          t.live.push({ seq, data });
        }
      } else if (typeof data === 'string' && fromState) {
        // The text assembled so far; chunks that came live after that snapshot go on top of it.
        t.text = data + t.live.filter((c) => c.seq > seq).map((c) => c.data).join('');
        t.answerSeq = Math.max(t.answerSeq, seq);
      } else if (seq >= t.answerSeq) {
        // Without `append`: the final message, which replaces the assembled text.
        t.text = typeof data === 'string' ? data : data?.text ?? '';
        t.answerSeq = seq;
        t.live = [];
        t.li.dataset.answer = 'done';
      }
      t.answer.querySelector('.text').textContent = t.text;
      t.answer.hidden = false;
      break;
    }
    default:
      return;
  }
  changed();
}

function turnFor(id, seq) {
  let t = turns.get(id);
  if (!t) {
    const li = document.createElement('li');
    li.className = 'turn';
    li.dataset.turn = id;
    const user = bubble('user', '', '');
    user.hidden = true;
    const answer = bubble('agent', 'agent', '');
    answer.hidden = true;
    li.append(user, answer);
    t = { li, user, answer, tools: new Map(), order: seq, statusSeq: 0, answerSeq: 0, text: '', live: [] };
    turns.set(id, t);
    place(t);
  }
  return t;
}

/** Keeps turns in the order of their messages, with this page's unconfirmed messages last. */
function place(t) {
  t.li.dataset.order = t.order;
  const list = $('messages');
  const after = [...list.children].find((li) => li !== t.li && (li.classList.contains('pending') || Number(li.dataset.order) > t.order));
  if (after) {
    list.insertBefore(t.li, after);
  } else if (t.li.parentNode !== list || t.li.nextSibling) {
    list.append(t.li);
  }
}

function bubble(kind, who, text) {
  const div = document.createElement('div');
  div.className = `msg ${kind}`;
  const whoEl = document.createElement('span');
  whoEl.className = 'who';
  whoEl.textContent = who;
  const textEl = document.createElement('p');
  textEl.className = 'text';
  textEl.textContent = text;
  div.append(whoEl, textEl);
  return div;
}

function changed() {
  $('empty').hidden = $('messages').children.length > 0;
  const list = $('messages');
  list.scrollTop = list.scrollHeight;
}

function showState(state, text) {
  $('connection').dataset.state = state;
  $('state').textContent = text;
  if (state !== 'open') {
    $('latency').textContent = '';
  }
}

function showQueue() {
  const n = client?.queued ?? 0;
  $('queue').textContent = n ? `${n} message${n > 1 ? 's' : ''} waiting for the connection` : '';
}

function renderMembers(members) {
  const byUser = new Map();
  for (const m of members) {
    const name = m.user ?? 'anonymous';
    const entry = byUser.get(name) ?? { name, connections: 0, me: false };
    entry.connections++;
    entry.me ||= m.connection === me;
    byUser.set(name, entry);
  }
  const items = [...byUser.values()].sort((a, b) => a.name.localeCompare(b.name)).map((u) => {
    const li = document.createElement('li');
    li.textContent = u.name;
    if (u.me) {
      li.classList.add('me');
      li.append(Object.assign(document.createElement('span'), { className: 'tag', textContent: 'you' }));
    }
    if (u.connections > 1) {
      li.append(Object.assign(document.createElement('span'), { className: 'tag', textContent: `${u.connections} tabs` }));
    }
    return li;
  });
  $('members').replaceChildren(...items);
  $('member-count').textContent = String(byUser.size);
}

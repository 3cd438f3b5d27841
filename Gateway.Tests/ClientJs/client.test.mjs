// Unit tests of the browser client's logic, run with Node's own runner (node --test), from
// ClientScriptTests.cs. The transports are stand-ins driven by the test; the browser tests
// (Gateway.Tests/Browser) run the same module against a real gateway in Chromium.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  backoffDelay, OutboundQueue, ResumeCursor, parseGatewayUrl, webSocketUrl, streamUrl, pollUrl,
  parseEventId, GatewayClient, GatewayError, DEFAULTS,
} from '../../Gateway/Client/client.js';

test('backoff: full jitter under a ceiling that doubles per attempt and stops at the cap', () => {
  const top = () => 0.999999;
  assert.equal(backoffDelay(1, 500, 30000, () => 0), 0);
  assert.equal(backoffDelay(1, 500, 30000, top), 499);
  assert.equal(backoffDelay(2, 500, 30000, top), 999);
  assert.equal(backoffDelay(3, 500, 30000, top), 1999);
  assert.equal(backoffDelay(6, 500, 30000, top), 15999);
  assert.equal(backoffDelay(7, 500, 30000, top), 29999);
  assert.equal(backoffDelay(1000, 500, 30000, top), 29999);
  assert.equal(backoffDelay(3, 500, 30000, () => 0.5), 1000);
  assert.equal(DEFAULTS.backoffCap, 30000);
  for (let attempt = 1; attempt < 60; attempt++) {
    const delay = backoffDelay(attempt);
    assert.ok(delay >= 0 && delay < 30000, `attempt ${attempt}: ${delay}`);
  }
  assert.throws(() => backoffDelay(0), /attempt must be an integer of 1 or more, got 0/);
  assert.throws(() => backoffDelay(1.5), RangeError);
});

test('queue: first in first out, and a full queue refuses the newest', () => {
  const queue = new OutboundQueue(2);
  assert.equal(queue.push('a'), true);
  assert.equal(queue.push('b'), true);
  assert.equal(queue.push('c'), false);
  assert.equal(queue.length, 2);
  assert.deepEqual(queue.drain(), ['a', 'b']);
  assert.equal(queue.length, 0);
  assert.equal(queue.push('d'), true);
  assert.deepEqual(queue.drain(), ['d']);
  assert.equal(new OutboundQueue(0).push('x'), false);
  assert.throws(() => new OutboundQueue(-1), /queue capacity must be an integer of 0 or more, got -1/);
});

test('cursor: takes each seq once, in order; repeats and older seqs are dropped', () => {
  const cursor = new ResumeCursor();
  assert.equal(cursor.positioned, false);
  assert.equal(cursor.accept(5), true);
  assert.equal(cursor.accept(5), false);
  assert.equal(cursor.accept(4), false);
  assert.equal(cursor.accept(7), true);
  assert.equal(cursor.seq, 7);
  assert.equal(cursor.accept(undefined), false);
  assert.throws(() => new ResumeCursor(-1), /since must be an integer of 0 or more/);
});

test('cursor: the first epoch is adopted; another one means a new life, from seq 0', () => {
  const cursor = new ResumeCursor(10);
  assert.equal(cursor.observeEpoch('aaa'), false);
  assert.equal(cursor.seq, 10);
  assert.equal(cursor.observeEpoch('aaa'), false);
  assert.equal(cursor.observeEpoch(undefined), false);
  assert.equal(cursor.observeEpoch('bbb'), true);
  assert.equal(cursor.epoch, 'bbb');
  assert.equal(cursor.seq, 0);
  assert.equal(cursor.accept(1), true);
});

test('cursor: startAt positions a live client once, and never moves a positioned one', () => {
  const cursor = new ResumeCursor();
  cursor.startAt(17);
  assert.equal(cursor.seq, 17);
  cursor.startAt(3);
  assert.equal(cursor.seq, 17);
});

test('url: session, bases with a path prefix, and the caller\'s own parameters', () => {
  const target = parseGatewayUrl('wss://gw.example.com:8443/prefix/ws/build-42?user=ada&since=3&ticket=old&events=x');
  assert.equal(target.session, 'build-42');
  assert.equal(target.httpBase, 'https://gw.example.com:8443/prefix');
  assert.equal(target.wsBase, 'wss://gw.example.com:8443/prefix');
  assert.equal(target.params.toString(), 'user=ada');
  assert.equal(parseGatewayUrl('/ws/a:b', 'http://page.example/app/').wsBase, 'ws://page.example');
  assert.equal(parseGatewayUrl('http://h/ws/s').wsBase, 'ws://h');
  assert.throws(() => parseGatewayUrl('ftp://h/ws/s'), /unsupported scheme ftp: .* use ws:, wss:, http: or https:/);
  assert.throws(() => parseGatewayUrl('ws://h/sessions/s'), /is not a session address: expected ws\(s\):\/\/host\/ws\/\{session\}/);
  assert.throws(() => parseGatewayUrl('ws://h/ws/bad%20name'), TypeError);
  assert.throws(() => parseGatewayUrl('not a url'), /not a URL/);
});

test('url: every transport resumes from the cursor and carries the ticket, never a token', () => {
  const target = parseGatewayUrl('ws://h:1/ws/s1?user=ada');
  const cursor = new ResumeCursor(41, 'e1');
  assert.equal(webSocketUrl(target, { cursor, events: ['a', 'b'], presence: true, ticket: 't' }),
    'ws://h:1/ws/s1?user=ada&since=41&epoch=e1&events=a%2Cb&presence=true&ticket=t');
  assert.equal(webSocketUrl(target), 'ws://h:1/ws/s1?user=ada');
  assert.equal(streamUrl(target, { cursor }), 'http://h:1/api/sessions/s1/stream?user=ada&since=41&epoch=e1');
  assert.equal(pollUrl(target, { cursor, wait: 25 }), 'http://h:1/api/sessions/s1/events?user=ada&since=41&epoch=e1&wait=25&limit=1000');
  assert.equal(pollUrl(target, { cursor: new ResumeCursor() }), 'http://h:1/api/sessions/s1/events?user=ada&since=0&wait=25&limit=1000');
});

test('event ids: <epoch>:<seq>', () => {
  assert.deepEqual(parseEventId('3f9a2c41b7e0:19'), { epoch: '3f9a2c41b7e0', seq: 19 });
  assert.equal(parseEventId('19'), null);
  assert.equal(parseEventId(''), null);
  assert.equal(parseEventId(null), null);
});

// ---- the client over stand-in transports ----------------------------------------------------

class FakeSocket {
  static all = [];
  constructor(url, protocol) {
    this.url = url;
    this.protocol = protocol;
    this.sent = [];
    this.closed = null;
    FakeSocket.all.push(this);
  }
  send(text) { this.sent.push(JSON.parse(text)); }
  close(code) { this.closed = code ?? 1005; }
  open() { this.onopen?.({}); }
  receive(message) { this.onmessage?.({ data: JSON.stringify(message) }); }
  drop(code = 1006, reason = '') { this.onclose?.({ code, reason }); }
}

class FakeSource {
  static all = [];
  constructor(url) {
    this.url = url;
    this.listeners = new Map();
    FakeSource.all.push(this);
  }
  addEventListener(name, fn) { this.listeners.set(name, fn); }
  close() { this.closed = true; }
  open() { this.onopen?.({}); }
  receive(message, lastEventId = '', name = null) {
    const fn = name ? this.listeners.get(name) : this.onmessage;
    fn({ data: JSON.stringify(message), lastEventId });
  }
}

function fakeFetch(answers) {
  const calls = [];
  const f = async (url, init) => {
    calls.push({ url, init });
    const answer = answers(url, init);
    return {
      ok: answer.status >= 200 && answer.status < 300,
      status: answer.status,
      json: async () => answer.body,
      text: async () => JSON.stringify(answer.body),
    };
  };
  f.calls = calls;
  return f;
}

/**
 * Resolves once `predicate()` holds, checked after each turn of the event loop (the client opens
 * its transports after awaiting credentials, and backs off on real timers of a millisecond or two).
 */
function until(client, predicate, what) {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 5000;
    const check = () => {
      if (predicate()) {
        resolve();
      } else if (Date.now() > deadline) {
        reject(new Error(`timed out waiting for ${what}`));
      } else {
        setImmediate(check);
      }
    };
    check();
  });
}

function event(seq, name = 'tick') {
  return { type: 'event', session: 's', event: name, seq, ts: '2026-12-02T00:00:00.000Z', data: { n: seq } };
}

test('client: reconnects, resumes with since and epoch, and delivers each event once, in order', async () => {
  FakeSocket.all = [];
  const client = new GatewayClient('ws://h/ws/s', { WebSocket: FakeSocket, backoffBase: 1, pingInterval: 60000 });
  const seen = [];
  const states = [];
  client.on('*', (e) => seen.push(e.seq));
  client.on('@state', (s) => states.push(s.attempt ? `${s.state}:${s.attempt}` : s.state));
  await until(client, () => FakeSocket.all.length === 1, 'the first socket');
  const first = FakeSocket.all[0];
  assert.equal(first.url, 'ws://h/ws/s');
  assert.equal(first.protocol, 'gateway.v1');
  first.open();
  first.receive({ type: 'welcome', seq: 2, epoch: 'e1' });
  first.receive(event(3));
  first.receive(event(4));
  first.drop(1006);
  await until(client, () => FakeSocket.all.length === 2, 'the reconnect');
  const second = FakeSocket.all[1];
  assert.equal(second.url, 'ws://h/ws/s?since=4&epoch=e1');
  second.open();
  second.receive({ type: 'welcome', seq: 6, epoch: 'e1' });
  // The gateway replays after since; a repeat (here seq 4 again) is not delivered twice.
  second.receive(event(4));
  second.receive(event(5));
  second.receive(event(6));
  second.receive({ type: 'resumed', since: 4, replayed: 2, complete: true, epoch: 'e1' });
  second.receive(event(7));
  assert.deepEqual(seen, [3, 4, 5, 6, 7]);
  assert.deepEqual(states, ['connecting', 'open', 'reconnecting:1', 'open']);
  second.drop(1000, 'session complete');
  assert.equal(client.state, 'closed');
  assert.equal(FakeSocket.all.length, 2);
});

test('client: a new epoch starts the cursor over, so the new life\'s events are delivered', async () => {
  FakeSocket.all = [];
  const client = new GatewayClient('ws://h/ws/s', { WebSocket: FakeSocket, backoffBase: 1, pingInterval: 60000, since: 0 });
  const seen = [];
  const resets = [];
  client.on('*', (e) => seen.push(e.seq));
  client.on('@reset', (r) => resets.push(r.epoch));
  await until(client, () => FakeSocket.all.length === 1, 'the first socket');
  FakeSocket.all[0].open();
  FakeSocket.all[0].receive({ type: 'welcome', seq: 9, epoch: 'old' });
  FakeSocket.all[0].receive(event(9));
  FakeSocket.all[0].drop();
  await until(client, () => FakeSocket.all.length === 2, 'the reconnect');
  assert.equal(FakeSocket.all[1].url, 'ws://h/ws/s?since=9&epoch=old');
  FakeSocket.all[1].open();
  FakeSocket.all[1].receive({ type: 'welcome', seq: 2, epoch: 'new' });
  FakeSocket.all[1].receive(event(1));
  FakeSocket.all[1].receive(event(2));
  assert.deepEqual(seen, [9, 1, 2]);
  assert.deepEqual(resets, ['new']);
  client.close();
});

test('client: requests wait in the queue while disconnected and go out in order on open', async () => {
  FakeSocket.all = [];
  const client = new GatewayClient('ws://h/ws/s', { WebSocket: FakeSocket, queueSize: 2, pingInterval: 60000 });
  const a = client.publish('chat', { text: 'a' });
  const b = client.rpc('agent.ask', { q: 1 });
  await assert.rejects(client.publish('chat', { text: 'c' }), (e) => e instanceof GatewayError && e.code === 'queue_full');
  await until(client, () => FakeSocket.all.length === 1, 'the socket');
  const socket = FakeSocket.all[0];
  assert.equal(client.queued, 2);
  socket.open();
  const sent = socket.sent.filter((m) => m.type !== 'ping');
  assert.deepEqual(sent.map((m) => m.type), ['publish', 'rpc']);
  assert.equal(sent[0].event, 'chat');
  socket.receive({ type: 'ack', id: sent[0].id, seq: 12 });
  socket.receive({ type: 'error', id: sent[1].id, code: 'rejected', message: 'no' });
  assert.equal(await a, 12);
  await assert.rejects(b, (e) => e.code === 'rejected' && e.message === 'no');
  const c = client.status();
  const asked = socket.sent.at(-1);
  socket.receive({ type: 'status', id: asked.id, seq: 12, keyed: { answer: { k1: { seq: 3, data: 'hi' } } } });
  assert.deepEqual((await c).keyed, { answer: { k1: { seq: 3, data: 'hi' } } });
  const lost = client.rpc('agent.ask');
  socket.drop(1006);
  await assert.rejects(lost, (e) => e.code === 'disconnected');
  client.close();
});

test('client: latency from ping and pong', async () => {
  FakeSocket.all = [];
  const client = new GatewayClient('ws://h/ws/s', { WebSocket: FakeSocket, pingInterval: 60000 });
  await until(client, () => FakeSocket.all.length === 1, 'the socket');
  const socket = FakeSocket.all[0];
  socket.open();
  const ping = socket.sent.find((m) => m.type === 'ping');
  assert.ok(ping, 'a ping on open');
  assert.equal(typeof ping.ts, 'number');
  const measured = new Promise((resolve) => client.on('@latency', resolve));
  socket.receive({ type: 'pong', id: ping.id, ts: ping.ts, serverTs: Date.now() });
  const latency = await measured;
  assert.equal(client.latency, latency);
  assert.ok(latency >= 0);
  client.close();
});

test('client: presence keeps members from the answer, joins, leaves and diffs', async () => {
  FakeSocket.all = [];
  const client = new GatewayClient('ws://h/ws/s', { WebSocket: FakeSocket, presence: true, pingInterval: 60000 });
  await until(client, () => FakeSocket.all.length === 1, 'the socket');
  const socket = FakeSocket.all[0];
  assert.equal(socket.url, 'ws://h/ws/s?presence=true');
  socket.open();
  const asked = socket.sent.find((m) => m.type === 'presence');
  socket.receive({ type: 'presence', id: asked.id, members: [{ connection: 'c1', user: 'ada', info: null }] });
  await new Promise((resolve) => setImmediate(resolve));
  socket.receive({ type: 'join', connection: 'c2', user: 'bob', info: { name: 'Bob' } });
  socket.receive({ type: 'presence_diff', joined: [{ connection: 'c3', user: null, info: null }], left: [{ connection: 'c1', user: 'ada' }] });
  assert.deepEqual(client.members().map((m) => m.connection), ['c2', 'c3']);
  socket.receive({ type: 'leave', connection: 'c2', user: 'bob' });
  assert.deepEqual(client.members().map((m) => m.connection), ['c3']);
  client.close();
});

test('client: after WebSockets fail to open N times it falls back to SSE, resuming from its position', async () => {
  FakeSocket.all = [];
  FakeSource.all = [];
  const fetch = fakeFetch(() => ({ status: 200, body: { session: 's', seq: 5, epoch: 'e1' } }));
  const client = new GatewayClient('ws://h/ws/s', {
    WebSocket: FakeSocket, EventSource: FakeSource, fetch, backoffBase: 1, fallbackAfter: 2, pingInterval: 60000, events: ['tick'],
  });
  const seen = [];
  client.on('tick', (e) => seen.push(e.seq));
  await until(client, () => FakeSocket.all.length === 1, 'the first socket');
  FakeSocket.all[0].drop(1006);
  await until(client, () => FakeSocket.all.length === 2, 'the second socket');
  FakeSocket.all[1].drop(1006);
  await until(client, () => FakeSource.all.length === 1, 'the stream');
  assert.equal(client.transport, 'sse');
  // Each failed open was counted because the gateway answered plain HTTP; then the stream learned its position.
  assert.deepEqual(fetch.calls.map((c) => c.url), ['http://h/healthz', 'http://h/healthz', 'http://h/api/sessions/s']);
  assert.equal(fetch.calls[0].init.mode, 'no-cors');
  const source = FakeSource.all[0];
  assert.equal(source.url, 'http://h/api/sessions/s/stream?since=5&epoch=e1&events=tick');
  source.open();
  assert.equal(client.state, 'open');
  source.receive(event(6), 'e1:6');
  // A gateway that names its events dispatches by name; the filter's names are heard too.
  source.receive(event(7), 'e1:7', 'tick');
  source.receive(event(7), 'e1:7');
  await assert.rejects(client.rpc('x'), (e) => e.code === 'unsupported_transport');
  source.onerror({});
  await until(client, () => FakeSource.all.length === 2, 'the stream again');
  assert.equal(FakeSource.all[1].url, 'http://h/api/sessions/s/stream?since=7&epoch=e1&events=tick');
  FakeSource.all[1].open();
  FakeSource.all[1].receive({ type: 'closed', code: 1000, reason: 'session complete' });
  assert.equal(client.state, 'closed');
  assert.deepEqual(seen, [6, 7]);
});

test('client: with a token it asks for a ticket in a header, and the token never enters a URL', async () => {
  FakeSocket.all = [];
  const fetch = fakeFetch(() => ({ status: 200, body: { ticket: 'tk-1', expiresIn: 30 } }));
  const client = new GatewayClient('ws://h/ws/s', { WebSocket: FakeSocket, fetch, token: 'secret-jwt', pingInterval: 60000 });
  await until(client, () => FakeSocket.all.length === 1, 'the socket');
  assert.equal(fetch.calls[0].url, 'http://h/api/tickets');
  assert.equal(fetch.calls[0].init.headers.Authorization, 'Bearer secret-jwt');
  assert.deepEqual(JSON.parse(fetch.calls[0].init.body), { sessions: ['s'], publish: false });
  assert.equal(FakeSocket.all[0].url, 'ws://h/ws/s?ticket=tk-1');
  assert.ok(!FakeSocket.all[0].url.includes('secret'));
  client.close();
});

test('client: bad options are refused with what is accepted', () => {
  assert.throws(() => new GatewayClient('ws://h/ws/s', { events: ['bad name'], autoConnect: false }), /events must be an array of event names/);
  assert.throws(() => new GatewayClient('ws://h/ws/s', { ticket: 'abc', autoConnect: false }), /ticket must be a function/);
  assert.throws(() => new GatewayClient('ws://h/ws/s', { transports: ['carrier-pigeon'], autoConnect: false }), /transports must be a non-empty array of websocket, sse, poll/);
  assert.throws(() => new GatewayClient('ws://h/ws/s', { since: -1, autoConnect: false }), /since must be an integer of 0 or more/);
});

test('client: after SSE fails too it long-polls from its cursor, filters by name itself, and stops at sessionComplete', async () => {
  FakeSocket.all = [];
  FakeSource.all = [];
  const pages = [
    { events: [event(3), event(4, 'other'), event(5)], seq: 5, epoch: 'e1', complete: true, more: false, sessionComplete: false },
    { events: [event(5), event(6)], seq: 6, epoch: 'e1', complete: true, more: false, sessionComplete: true },
  ];
  const fetch = fakeFetch((url) => url.includes('/events?') ? { status: 200, body: pages.shift() } : { status: 404, body: {} });
  const client = new GatewayClient('ws://h/ws/s?user=ada', {
    WebSocket: FakeSocket, EventSource: FakeSource, fetch, backoffBase: 1, fallbackAfter: 1, pingInterval: 60000, events: ['tick'], since: 2, epoch: 'e1',
  });
  const seen = [];
  client.on('*', (e) => seen.push(e.seq));
  await until(client, () => FakeSocket.all.length === 1, 'the socket');
  FakeSocket.all[0].drop(1006);
  await until(client, () => FakeSource.all.length === 1, 'the stream');
  FakeSource.all[0].onerror({});
  await until(client, () => client.state === 'closed', 'the session to complete over polls');
  assert.equal(client.transport, 'poll');
  const polls = fetch.calls.filter((c) => c.url.includes('/events?')).map((c) => c.url);
  assert.deepEqual(polls, [
    'http://h/api/sessions/s/events?user=ada&since=2&epoch=e1&wait=0&limit=1000',
    'http://h/api/sessions/s/events?user=ada&since=5&epoch=e1&wait=25&limit=1000',
  ]);
  assert.deepEqual(seen, [3, 5, 6]);
});

test('client: while the gateway does not answer at all, failed opens do not count toward the fallback', async (t) => {
  FakeSocket.all = [];
  let gatewayUp = false;
  const f = async (url) => {
    if (!gatewayUp) {
      throw new TypeError('Failed to fetch');
    }
    return { ok: true, status: 200, json: async () => ({}), text: async () => '' };
  };
  const client = new GatewayClient('ws://h/ws/s', { WebSocket: FakeSocket, fetch: f, backoffBase: 1, fallbackAfter: 2, pingInterval: 60000 });
  // A failure must not leave the client retrying, and the runner waiting on it.
  t.after(() => client.close());
  for (let n = 1; n <= 4; n++) {
    await until(client, () => FakeSocket.all.length === n, `socket ${n}`);
    FakeSocket.all[n - 1].drop(1006);
  }
  await until(client, () => FakeSocket.all.length === 5, 'socket 5');
  assert.equal(client.transport, 'websocket', 'an unreachable gateway is an outage, not a refusal of WebSockets');
  gatewayUp = true;
  FakeSocket.all[4].drop(1006);
  await until(client, () => FakeSocket.all.length === 6, 'socket 6');
  FakeSocket.all[5].open();
  assert.equal(client.state, 'open');
  assert.equal(client.transport, 'websocket');
});

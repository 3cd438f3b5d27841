// The gateway's browser client: a dependency-free ES module served at /client.js, described by
// /client.d.ts beside it. One GatewayClient watches one session over a WebSocket, reconnects with
// backoff and resumes from the last event it saw, and falls back to Server-Sent Events and then to
// long polling when WebSockets cannot be opened at all. docs/browser-client.md is its manual.
//
// The pure parts (backoff, the outbound queue, the resume cursor, URL building) are exported on
// their own so that they can be tested without a network.

/** The defaults, each documented in docs/browser-client.md. */
export const DEFAULTS = Object.freeze({
  // The first reconnect waits up to half a second; each failure doubles the ceiling up to 30 s
  // (spec section 15). Full jitter spreads a thousand clients of a restarted gateway over the window.
  backoffBase: 500,
  backoffCap: 30000,
  // A ping every 10 s measures latency, and a ping left unanswered until the next one is due marks
  // the socket dead: well inside the gateway's own 45 s heartbeat timeout.
  pingInterval: 10000,
  // Messages sent while disconnected wait here; past this many, new ones are refused.
  queueSize: 256,
  // WebSocket opens that fail in a row, without one ever succeeding, before SSE is tried; then
  // the same count of SSE failures before long polling.
  fallbackAfter: 3,
  // How long a long poll waits on the gateway, in seconds (the gateway allows up to 30).
  pollWait: 25,
});

const NAME = /^[A-Za-z0-9._:-]{1,128}$/;
const EVENT_NAME = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * The delay before reconnect attempt number `attempt` (1 for the first retry): "full jitter", a
 * uniform random delay between 0 and min(cap, base * 2^(attempt-1)) milliseconds.
 */
export function backoffDelay(attempt, base = DEFAULTS.backoffBase, cap = DEFAULTS.backoffCap, random = Math.random) {
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new RangeError(`attempt must be an integer of 1 or more, got ${attempt}`);
  }
  // 2^30 * base is past any cap; the exponent stops there so the product stays finite.
  const ceiling = Math.min(cap, base * 2 ** Math.min(attempt - 1, 30));
  return Math.floor(random() * ceiling);
}

/**
 * A bounded first-in first-out queue of outbound messages. When it is full, `push` refuses the new
 * message and returns false: what was queued first keeps its place, so a flush never sends a
 * later message without the earlier ones.
 */
export class OutboundQueue {
  #items = [];
  #capacity;

  constructor(capacity = DEFAULTS.queueSize) {
    if (!Number.isInteger(capacity) || capacity < 0) {
      throw new RangeError(`queue capacity must be an integer of 0 or more, got ${capacity}`);
    }
    this.#capacity = capacity;
  }

  get capacity() { return this.#capacity; }

  get length() { return this.#items.length; }

  /** Appends `item`; false (and nothing queued) when the queue already holds `capacity` items. */
  push(item) {
    if (this.#items.length >= this.#capacity) {
      return false;
    }
    this.#items.push(item);
    return true;
  }

  /** Removes and returns every item, oldest first. */
  drain() {
    const items = this.#items;
    this.#items = [];
    return items;
  }
}

/**
 * Where a client stands in a session: the seq of the last event it delivered and the epoch (the
 * session's life) it belongs to. It decides which events are new, so an event that two transports
 * both deliver, or a replay repeats, reaches the application once.
 */
export class ResumeCursor {
  /** @param {number|null} seq the last seq seen, or null to start from what is live. */
  constructor(seq = null, epoch = null) {
    if (seq !== null && (!Number.isInteger(seq) || seq < 0)) {
      throw new RangeError(`since must be an integer of 0 or more, got ${seq}`);
    }
    this.seq = seq;
    this.epoch = epoch;
  }

  /** True once the cursor has a position to resume from. */
  get positioned() { return this.seq !== null; }

  /**
   * Notes the session's epoch as the gateway gave it. A different epoch than the one held means the
   * session started over from seq 1 (its history was lost): the cursor goes back to 0 so that the
   * new life's events are taken, and this returns true. The first epoch seen is simply adopted.
   */
  observeEpoch(epoch) {
    if (typeof epoch !== 'string' || epoch === '' || epoch === this.epoch) {
      return false;
    }
    const changed = this.epoch !== null;
    this.epoch = epoch;
    if (changed) {
      this.seq = 0;
    }
    return changed;
  }

  /** Takes the session's latest seq as the starting point when the cursor has none yet. */
  startAt(seq) {
    if (this.seq === null && Number.isInteger(seq) && seq >= 0) {
      this.seq = seq;
    }
  }

  /** True, and the cursor moves, when `seq` is after the last one delivered; false for a repeat. */
  accept(seq) {
    if (!Number.isInteger(seq)) {
      return false;
    }
    if (this.seq !== null && seq <= this.seq) {
      return false;
    }
    this.seq = seq;
    return true;
  }
}

/**
 * Reads a session's WebSocket address (`ws://host/ws/{session}`, or wss, http, https, or a path
 * relative to `base`). Returns the session, the gateway's HTTP and WebSocket bases (with any path
 * prefix before /ws/), and the query parameters the caller gave (such as `user` or `info`), which
 * every transport passes on. Throws a TypeError saying what is accepted.
 */
export function parseGatewayUrl(url, base = undefined) {
  let parsed;
  try {
    parsed = new URL(String(url), base);
  } catch {
    throw new TypeError(`not a URL: ${url}; give the session's WebSocket address, ws://host/ws/{session}`);
  }
  const secure = parsed.protocol === 'wss:' || parsed.protocol === 'https:';
  if (!secure && parsed.protocol !== 'ws:' && parsed.protocol !== 'http:') {
    throw new TypeError(`unsupported scheme ${parsed.protocol} in ${url}: use ws:, wss:, http: or https:`);
  }
  const match = /^(.*)\/ws\/([^/]+)$/.exec(parsed.pathname);
  const session = match ? decodeURIComponent(match[2]) : '';
  if (!match || !NAME.test(session)) {
    throw new TypeError(`${url} is not a session address: expected ws(s)://host/ws/{session}, the session 1-128 characters from A-Z a-z 0-9 . _ : -`);
  }
  const params = new URLSearchParams(parsed.search);
  // The client sets these itself on every connection.
  for (const owned of ['since', 'epoch', 'ticket', 'events', 'presence', 'named']) {
    params.delete(owned);
  }
  const host = parsed.host;
  return {
    session,
    httpBase: `${secure ? 'https' : 'http'}://${host}${match[1]}`,
    wsBase: `${secure ? 'wss' : 'ws'}://${host}${match[1]}`,
    params,
  };
}

function withQuery(address, target, query) {
  const params = new URLSearchParams(target.params);
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== false) {
      params.set(name, String(value));
    }
  }
  const text = params.toString();
  return text ? `${address}?${text}` : address;
}

function resumeQuery(cursor) {
  return cursor && cursor.seq !== null ? { since: cursor.seq, epoch: cursor.epoch ?? undefined } : {};
}

/** The WebSocket address for one connection: resume point, filter, presence, ticket. */
export function webSocketUrl(target, { cursor = null, events = null, presence = false, ticket = null } = {}) {
  return withQuery(`${target.wsBase}/ws/${encodeURIComponent(target.session)}`, target, {
    ...resumeQuery(cursor),
    events: events && events.length ? events.join(',') : undefined,
    presence: presence ? 'true' : undefined,
    ticket: ticket ?? undefined,
  });
}

/** The Server-Sent Events address (`/api/sessions/{s}/stream`), with the same parameters. */
export function streamUrl(target, { cursor = null, events = null, presence = false, ticket = null } = {}) {
  return withQuery(`${target.httpBase}/api/sessions/${encodeURIComponent(target.session)}/stream`, target, {
    ...resumeQuery(cursor),
    events: events && events.length ? events.join(',') : undefined,
    presence: presence ? 'true' : undefined,
    ticket: ticket ?? undefined,
  });
}

/** The long-poll address (`/api/sessions/{s}/events?since&epoch&wait&limit`). */
export function pollUrl(target, { cursor = null, wait = DEFAULTS.pollWait, limit = 1000, ticket = null } = {}) {
  return withQuery(`${target.httpBase}/api/sessions/${encodeURIComponent(target.session)}/events`, target, {
    since: cursor && cursor.seq !== null ? cursor.seq : 0,
    epoch: cursor?.epoch ?? undefined,
    wait,
    limit,
    ticket: ticket ?? undefined,
  });
}

/** Splits an SSE id, `<epoch>:<seq>`, into its parts; null when it is not one. */
export function parseEventId(id) {
  const match = /^([A-Za-z0-9]{1,32}):(\d+)$/.exec(id ?? '');
  return match ? { epoch: match[1], seq: Number(match[2]) } : null;
}

/** The error a request settles with: `code` is the gateway's error code or one of the client's own. */
export class GatewayError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'GatewayError';
    this.code = code;
  }
}

const TRANSPORTS = ['websocket', 'sse', 'poll'];

/**
 * Watches one session. See docs/browser-client.md for every option and event. Published events
 * are delivered to `on(name)` and `on('*')` listeners; the client's own news uses names that start
 * with `@` (`@state`, `@join`, ...), which no event name can.
 */
export class GatewayClient {
  #target;
  #options;
  #cursor;
  #queue;
  #listeners = new Map();
  #pending = new Map();
  #members = new Map();
  #state = 'idle';
  #transports;
  #transport;
  #socket = null;
  #source = null;
  #poll = null;
  #timer = null;
  #pingTimer = null;
  #pingOutstanding = null;
  #attempt = 0;
  #failures = 0;
  #opened = new Set();
  #nextId = 1;
  #latency = null;
  #generation = 0;
  #starting = false;

  /**
   * @param {string} url the session's WebSocket address, `ws://host/ws/{session}` (or relative to the page).
   * @param {object} [options] see GatewayClientOptions in client.d.ts.
   */
  constructor(url, options = {}) {
    this.#options = { ...DEFAULTS, ...options };
    const o = this.#options;
    this.#target = parseGatewayUrl(url, globalThis.location?.href);
    if (o.events != null) {
      if (!Array.isArray(o.events) || o.events.some((e) => e !== '*' && !EVENT_NAME.test(e))) {
        throw new TypeError('events must be an array of event names (1-64 characters from A-Z a-z 0-9 . _ : -), or ["*"]');
      }
      if (o.events.includes('*')) {
        o.events = null;
      }
    }
    if (o.ticket != null && typeof o.ticket !== 'function') {
      throw new TypeError('ticket must be a function returning a ticket (or a promise of one)');
    }
    if (o.token != null && typeof o.token !== 'string' && typeof o.token !== 'function') {
      throw new TypeError('token must be a string, or a function returning one (or a promise of one)');
    }
    if (o.transports != null && (!Array.isArray(o.transports) || o.transports.length === 0 || o.transports.some((t) => !TRANSPORTS.includes(t)))) {
      throw new TypeError(`transports must be a non-empty array of ${TRANSPORTS.join(', ')}`);
    }
    this.#transports = o.transports ?? TRANSPORTS;
    this.#transport = this.#transports[0];
    this.#cursor = new ResumeCursor(o.since ?? null, o.epoch ?? null);
    this.#queue = new OutboundQueue(o.queueSize);
    if (o.autoConnect !== false) {
      // A microtask later, so that the caller's listeners hear the first state; requests made
      // meanwhile are queued.
      this.#starting = true;
      queueMicrotask(() => this.connect());
    }
  }

  /** The session this client watches. */
  get session() { return this.#target.session; }

  /** `idle`, `connecting`, `open`, `reconnecting` or `closed`. */
  get state() { return this.#state; }

  /** `websocket`, `sse` or `poll`: the transport in use or being tried. */
  get transport() { return this.#transport; }

  /** The last ping's round trip in milliseconds, or null before the first pong. */
  get latency() { return this.#latency; }

  /** The seq of the last event delivered (null before any, when the client started live). */
  get seq() { return this.#cursor.seq; }

  /** The session's epoch as last seen. */
  get epoch() { return this.#cursor.epoch; }

  /** Messages waiting for the connection. */
  get queued() { return this.#queue.length; }

  /**
   * Adds a listener: `name` is a published event's name, `'*'` for every published event, or one
   * of the client's own (`@state`, `@open`, `@close`, `@welcome`, `@resumed`, `@reset`, `@join`,
   * `@leave`, `@presence_diff`, `@members`, `@latency`, `@error`). Returns a function that removes it.
   */
  on(name, fn) {
    if (typeof fn !== 'function') {
      throw new TypeError('on(name, fn): fn must be a function');
    }
    let set = this.#listeners.get(name);
    if (!set) {
      set = new Set();
      this.#listeners.set(name, set);
    }
    set.add(fn);
    return () => this.off(name, fn);
  }

  /** Removes a listener added with `on`. */
  off(name, fn) {
    this.#listeners.get(name)?.delete(fn);
  }

  /** Starts (or, after `close`, restarts) watching. Called by the constructor unless `autoConnect: false`. */
  connect() {
    if (this.#state === 'connecting' || this.#state === 'open' || this.#state === 'reconnecting') {
      return;
    }
    this.#starting = false;
    this.#attempt = 0;
    this.#setState('connecting');
    this.#open();
  }

  /** Stops for good: closes the transport, rejects what is pending or queued with code `closed`. */
  close() {
    this.#stop({ code: 1000, reason: 'closed by the client' });
  }

  /** The current members, as the last `presence` answer and the join and leave messages since say. */
  members() {
    return [...this.#members.values()];
  }

  /**
   * Asks the gateway who is connected (a `presence` message, or GET .../presence on a fallback
   * transport), replaces `members()` with the answer and resolves with it.
   */
  async presence() {
    const answer = this.#transport === 'websocket'
      ? await this.#request({ type: 'presence' })
      : await this.#httpGet(`/api/sessions/${encodeURIComponent(this.session)}/presence`);
    this.#replaceMembers(answer);
    return answer;
  }

  /**
   * The session's status as the gateway sends it: `seq`, `epoch`, `clients`, `complete`, `state`
   * and, when the gateway keeps it, `keyed` (with assembled text). Over a fallback transport it is
   * GET /api/sessions/{session}, which has the same fields.
   */
  status() {
    return this.#transport === 'websocket'
      ? this.#request({ type: 'status' })
      : this.#httpGet(`/api/sessions/${encodeURIComponent(this.session)}`);
  }

  /** Calls the backend (spec section 13): resolves with the `rpc_result` data, rejects with a GatewayError. */
  async rpc(method, data = null) {
    if (!EVENT_NAME.test(method ?? '')) {
      throw new TypeError('rpc method must be 1-64 characters from A-Z a-z 0-9 . _ : -');
    }
    const reply = await this.#request({ type: 'rpc', method, data }, true);
    return reply.data;
  }

  /**
   * Publishes an event as this client (when the gateway allows client publishing): resolves with
   * its seq once acknowledged. `extra` may carry `key`, `append` or `conflate`.
   */
  async publish(event, data = null, extra = {}) {
    if (!EVENT_NAME.test(event ?? '')) {
      throw new TypeError('event must be 1-64 characters from A-Z a-z 0-9 . _ : -');
    }
    const reply = await this.#request({ ...extra, type: 'publish', event, data }, true);
    return reply.seq;
  }

  /** Sends a raw message (it gets an `id`); resolves with the gateway's direct reply. */
  send(message) {
    return this.#request({ ...message });
  }

  // ---- delivery ---------------------------------------------------------------------------

  #emit(name, value) {
    const set = this.#listeners.get(name);
    if (!set) {
      return;
    }
    for (const fn of [...set]) {
      try {
        fn(value, this);
      } catch (error) {
        // A listener's bug must not stop delivery to the others, nor the client.
        queueMicrotask(() => { throw error; });
      }
    }
  }

  #setState(state, detail = {}) {
    if (this.#state === state && state !== 'reconnecting') {
      return;
    }
    this.#state = state;
    this.#emit('@state', { state, transport: this.#transport, ...detail });
  }

  #deliverEvent(message) {
    if (!this.#cursor.accept(message.seq)) {
      return;
    }
    const filter = this.#options.events;
    if (filter && !filter.includes(message.event)) {
      // Long polls have no server-side filter: the client applies it.
      return;
    }
    this.#emit(message.event, message);
    this.#emit('*', message);
  }

  /** Every message from every transport comes through here, parsed. */
  #dispatch(message) {
    switch (message?.type) {
      case 'event':
        this.#deliverEvent(message);
        return;
      case 'welcome':
        if (this.#cursor.observeEpoch(message.epoch)) {
          this.#emit('@reset', { epoch: message.epoch });
        }
        this.#cursor.startAt(message.seq);
        this.#emit('@welcome', message);
        return;
      case 'resumed':
        if (this.#cursor.observeEpoch(message.epoch)) {
          this.#emit('@reset', { epoch: message.epoch });
        }
        this.#emit('@resumed', message);
        return;
      case 'join':
        this.#members.set(message.connection, { connection: message.connection, user: message.user ?? null, info: message.info ?? null });
        this.#emit('@join', message);
        this.#emit('@members', this.members());
        return;
      case 'leave':
        this.#members.delete(message.connection);
        this.#emit('@leave', message);
        this.#emit('@members', this.members());
        return;
      case 'presence_diff':
        for (const joined of message.joined ?? []) {
          this.#members.set(joined.connection, { connection: joined.connection, user: joined.user ?? null, info: joined.info ?? null });
        }
        for (const left of message.left ?? []) {
          this.#members.delete(left.connection);
        }
        this.#emit('@presence_diff', message);
        this.#emit('@members', this.members());
        return;
      case 'pong':
        if (this.#pingOutstanding !== null && message.id === this.#pingOutstanding.id) {
          this.#latency = Math.max(0, Date.now() - this.#pingOutstanding.sent);
          this.#pingOutstanding = null;
          this.#emit('@latency', this.#latency);
        }
        return;
      case 'closed':
        // The SSE stream's notice of its end, with the WebSocket close code it stands for.
        this.#onTransportClosed(message.code, message.reason);
        return;
      default:
        break;
    }
    const pending = message?.id !== undefined ? this.#pending.get(message.id) : undefined;
    if (pending) {
      this.#pending.delete(message.id);
      if (message.type === 'error') {
        pending.reject(new GatewayError(message.code, message.message));
      } else {
        pending.resolve(message);
      }
      return;
    }
    if (message?.type === 'error') {
      this.#emit('@error', new GatewayError(message.code, message.message));
    }
  }

  #replaceMembers(answer) {
    this.#members.clear();
    for (const m of answer?.members ?? []) {
      this.#members.set(m.connection, { connection: m.connection, user: m.user ?? null, info: m.info ?? null, since: m.since });
    }
    this.#emit('@members', this.members());
  }

  // ---- requests -----------------------------------------------------------------------------

  #request(message, needsWebSocket = false) {
    return new Promise((resolve, reject) => {
      if (this.#state === 'closed' || (this.#state === 'idle' && !this.#starting)) {
        reject(new GatewayError('closed', 'the client is closed; call connect() first'));
        return;
      }
      if (this.#transport !== 'websocket') {
        reject(new GatewayError('unsupported_transport', `${message.type} needs the WebSocket transport; this client fell back to ${this.#transport}`));
        return;
      }
      message.id = `c${this.#nextId++}`;
      const entry = { message, resolve, reject, needsWebSocket };
      if (this.#state === 'open' && this.#socket) {
        this.#pending.set(message.id, entry);
        this.#socket.send(JSON.stringify(message));
        return;
      }
      if (!this.#queue.push(entry)) {
        reject(new GatewayError('queue_full', `${this.#queue.capacity} messages already wait for the connection (queueSize); this one was not queued`));
      }
    });
  }

  #flush() {
    for (const entry of this.#queue.drain()) {
      if (this.#transport !== 'websocket') {
        entry.reject(new GatewayError('unsupported_transport', `${entry.message.type} needs the WebSocket transport; this client fell back to ${this.#transport}`));
        continue;
      }
      this.#pending.set(entry.message.id, entry);
      this.#socket.send(JSON.stringify(entry.message));
    }
  }

  #failPending(code, text) {
    // A request that was sent may or may not have been applied; it is not sent again (a publish
    // or an rpc twice would be two messages), so its caller decides.
    for (const entry of this.#pending.values()) {
      entry.reject(new GatewayError(code, text));
    }
    this.#pending.clear();
  }

  async #credentials() {
    const o = this.#options;
    if (o.ticket) {
      return { ticket: await o.ticket() };
    }
    if (o.token) {
      const token = typeof o.token === 'function' ? await o.token() : o.token;
      return { token };
    }
    return {};
  }

  /** A ticket for a URL the browser opens itself (spec 14): the token goes in a header, never a URL. */
  async #ticketForUrl() {
    const credentials = await this.#credentials();
    if (credentials.ticket !== undefined) {
      return credentials.ticket;
    }
    if (credentials.token === undefined) {
      return null;
    }
    const response = await this.#fetch(`${this.#target.httpBase}/api/tickets`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${credentials.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ sessions: [this.session], publish: this.#options.ticketPublish === true }),
    });
    if (!response.ok) {
      throw new GatewayError('ticket_refused', `POST /api/tickets answered ${response.status}: ${await response.text()}`);
    }
    return (await response.json()).ticket;
  }

  #fetch(url, init) {
    const f = this.#options.fetch ?? globalThis.fetch;
    return f(url, init);
  }

  async #httpGet(path, query = {}) {
    const credentials = await this.#credentials();
    const headers = {};
    if (credentials.token !== undefined) {
      headers.Authorization = `Bearer ${credentials.token}`;
    }
    const url = withQuery(`${this.#target.httpBase}${path}`, this.#target, { ...query, ticket: credentials.ticket });
    const response = await this.#fetch(url, { headers, signal: query.signal });
    if (response.status === 404) {
      return null;
    }
    if (!response.ok) {
      throw new GatewayError(`http_${response.status}`, `GET ${path} answered ${response.status}: ${await response.text()}`);
    }
    return response.json();
  }

  // ---- transports ---------------------------------------------------------------------------

  #open() {
    const generation = ++this.#generation;
    const run = this.#transport === 'websocket' ? this.#openWebSocket(generation)
      : this.#transport === 'sse' ? this.#openStream(generation)
        : this.#openPoll(generation);
    run.catch((error) => {
      if (generation === this.#generation) {
        this.#emit('@error', error);
        this.#onTransportFailed();
      }
    });
  }

  /** Before a fallback transport starts live, it learns where the session stands, so a later resume misses nothing. */
  async #position() {
    if (this.#cursor.positioned) {
      return;
    }
    const session = await this.#httpGet(`/api/sessions/${encodeURIComponent(this.session)}`);
    this.#cursor.observeEpoch(session?.epoch);
    this.#cursor.startAt(session ? session.seq : 0);
  }

  async #openWebSocket(generation) {
    const ticket = await this.#ticketForUrl();
    if (generation !== this.#generation) {
      return;
    }
    const WebSocketType = this.#options.WebSocket ?? globalThis.WebSocket;
    const socket = new WebSocketType(webSocketUrl(this.#target, {
      cursor: this.#cursor, events: this.#options.events, presence: this.#options.presence, ticket,
    }), 'gateway.v1');
    this.#socket = socket;
    let opened = false;
    socket.onopen = () => {
      if (generation !== this.#generation) {
        return;
      }
      opened = true;
      this.#onOpened();
      if (this.#options.presence) {
        this.presence().catch(() => { /* refused when presence is off; join and leave still apply */ });
      }
      this.#startPings(generation);
    };
    socket.onmessage = (e) => {
      if (generation === this.#generation) {
        this.#dispatch(JSON.parse(e.data));
      }
    };
    socket.onclose = (e) => {
      if (generation !== this.#generation) {
        return;
      }
      this.#socket = null;
      this.#stopPings();
      if (!opened) {
        this.#onTransportFailed();
        return;
      }
      this.#onTransportClosed(e.code, e.reason);
    };
  }

  async #openStream(generation) {
    await this.#position();
    const ticket = await this.#ticketForUrl();
    if (generation !== this.#generation) {
      return;
    }
    const EventSourceType = this.#options.EventSource ?? globalThis.EventSource;
    const source = new EventSourceType(streamUrl(this.#target, {
      cursor: this.#cursor, events: this.#options.events, presence: this.#options.presence, ticket,
    }));
    this.#source = source;
    let opened = false;
    const onMessage = (e) => {
      if (generation !== this.#generation) {
        return;
      }
      const message = JSON.parse(e.data);
      const id = parseEventId(e.lastEventId);
      if (message.type === 'event' && id && this.#cursor.observeEpoch(id.epoch)) {
        this.#emit('@reset', { epoch: id.epoch });
      }
      this.#dispatch(message);
    };
    // Unnamed SSE events (the gateway's default) arrive at onmessage; the client reads what each
    // is from its JSON. A gateway that names its events (`named=true`, or one from before unnamed
    // events) dispatches them by name instead, so the names this client can know are heard too:
    // its own, and the filter's. Each SSE event reaches exactly one of these, never two.
    source.onmessage = onMessage;
    for (const name of ['@resumed', '@closed', 'join', 'leave', 'presence_diff', ...(this.#options.events ?? [])]) {
      source.addEventListener(name, onMessage);
    }
    source.onopen = () => {
      if (generation !== this.#generation) {
        return;
      }
      opened = true;
      this.#onOpened();
      if (this.#options.presence) {
        this.presence().catch(() => { /* refused when presence is off */ });
      }
    };
    source.onerror = () => {
      if (generation !== this.#generation) {
        return;
      }
      // EventSource would reconnect by itself with a Last-Event-ID of its own; the client does it
      // instead, with its backoff and its cursor, which also counts what other transports delivered.
      source.close();
      this.#source = null;
      if (opened) {
        this.#onTransportClosed(1006, 'stream ended');
      } else {
        this.#onTransportFailed();
      }
    };
  }

  async #openPoll(generation) {
    await this.#position();
    const controller = new AbortController();
    this.#poll = controller;
    let opened = false;
    while (generation === this.#generation) {
      const credentials = await this.#credentials();
      const headers = credentials.token !== undefined ? { Authorization: `Bearer ${credentials.token}` } : {};
      // The first poll does not wait: its answer is what opens the transport, and on a quiet
      // session a waiting one would leave the client "reconnecting" for a whole pollWait.
      const response = await this.#fetch(pollUrl(this.#target, {
        cursor: this.#cursor, wait: opened ? this.#options.pollWait : 0, ticket: credentials.ticket,
      }), { headers, signal: controller.signal });
      if (!response.ok) {
        throw new GatewayError(`http_${response.status}`, `the long poll answered ${response.status}: ${await response.text()}`);
      }
      const page = await response.json();
      if (generation !== this.#generation) {
        return;
      }
      if (!opened) {
        opened = true;
        this.#onOpened();
      }
      if (this.#cursor.observeEpoch(page.epoch)) {
        this.#emit('@reset', { epoch: page.epoch });
      }
      if (page.complete === false) {
        this.#emit('@resumed', { type: 'resumed', since: this.#cursor.seq, complete: false, epoch: page.epoch });
      }
      for (const event of page.events) {
        this.#dispatch(event);
      }
      if (page.sessionComplete && !page.more) {
        this.#stop({ code: 1000, reason: 'session complete' });
        return;
      }
    }
  }

  #onOpened() {
    this.#attempt = 0;
    this.#failures = 0;
    this.#opened.add(this.#transport);
    this.#setState('open');
    this.#emit('@open', { transport: this.#transport });
    if (this.#transport === 'websocket') {
      this.#flush();
    }
  }

  #startPings(generation) {
    this.#stopPings();
    const ping = () => {
      if (generation !== this.#generation || !this.#socket) {
        return;
      }
      if (this.#pingOutstanding !== null) {
        // No answer since the last ping: the path is dead even if the socket has not noticed.
        this.#socket.close(4000, 'no pong');
        this.#generation++;
        this.#socket = null;
        this.#stopPings();
        this.#onTransportClosed(4000, 'no pong');
        return;
      }
      const id = `p${this.#nextId++}`;
      const sent = Date.now();
      this.#pingOutstanding = { id, sent };
      this.#socket.send(JSON.stringify({ type: 'ping', id, ts: sent }));
    };
    ping();
    this.#pingTimer = setInterval(ping, this.#options.pingInterval);
  }

  #stopPings() {
    if (this.#pingTimer !== null) {
      clearInterval(this.#pingTimer);
      this.#pingTimer = null;
    }
    this.#pingOutstanding = null;
  }

  /** An opened transport ended. Close 1000 from the gateway means the session is complete. */
  #onTransportClosed(code, reason) {
    this.#failPending('disconnected', `the connection closed (${code}${reason ? ` ${reason}` : ''}) before the answer came`);
    if (code === 1000) {
      this.#stop({ code, reason });
      return;
    }
    this.#closeTransport();
    this.#emit('@close', { code, reason, transport: this.#transport });
    this.#scheduleReconnect();
  }

  /**
   * A transport could not be opened: after `fallbackAfter` such failures in a row on a transport
   * that never opened, try the next. A failure counts only when the gateway answers plain HTTP
   * meanwhile: a gateway that is down fails every transport alike, and a page loaded during an
   * outage must not end up on long polling for it.
   */
  #onTransportFailed() {
    this.#closeTransport();
    const transport = this.#transport;
    const index = this.#transports.indexOf(transport);
    if (this.#opened.has(transport) || index === this.#transports.length - 1) {
      this.#scheduleReconnect();
      return;
    }
    const generation = this.#generation;
    this.#gatewayAnswers().then((answers) => {
      if (generation !== this.#generation || this.#state === 'closed') {
        return;
      }
      if (answers && ++this.#failures >= this.#options.fallbackAfter) {
        this.#transport = this.#transports[index + 1];
        this.#failures = 0;
        this.#attempt = 0;
        for (const entry of this.#queue.drain()) {
          entry.reject(new GatewayError('unsupported_transport', `${entry.message.type} needs the WebSocket transport; this client fell back to ${this.#transport}`));
        }
        this.#emit('@fallback', { transport: this.#transport });
      }
      this.#scheduleReconnect();
    });
  }

  /**
   * True when the gateway answers an HTTP request at all. A no-cors request needs no CORS headers:
   * its answer is opaque, but it arrives, whereas an unreachable gateway makes it fail.
   */
  async #gatewayAnswers() {
    try {
      await this.#fetch(`${this.#target.httpBase}/healthz`, { mode: 'no-cors', cache: 'no-store' });
      return true;
    } catch {
      return false;
    }
  }

  #scheduleReconnect() {
    if (this.#state === 'closed') {
      return;
    }
    this.#attempt++;
    const delay = backoffDelay(this.#attempt, this.#options.backoffBase, this.#options.backoffCap);
    this.#setState('reconnecting', { attempt: this.#attempt, delay });
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#open();
    }, delay);
  }

  #closeTransport() {
    this.#generation++;
    this.#stopPings();
    if (this.#socket) {
      const socket = this.#socket;
      this.#socket = null;
      try { socket.close(1000); } catch { /* already closing */ }
    }
    if (this.#source) {
      this.#source.close();
      this.#source = null;
    }
    if (this.#poll) {
      this.#poll.abort();
      this.#poll = null;
    }
  }

  #stop(info) {
    if (this.#state === 'closed') {
      return;
    }
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    this.#closeTransport();
    this.#failPending('closed', `the client closed (${info.code} ${info.reason})`);
    for (const entry of this.#queue.drain()) {
      entry.reject(new GatewayError('closed', `the client closed (${info.code} ${info.reason}) before this was sent`));
    }
    this.#emit('@close', { ...info, transport: this.#transport });
    this.#setState('closed', info);
  }
}

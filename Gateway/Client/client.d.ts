// Type declarations for the gateway's browser client, /client.js (docs/browser-client.md).

/** The defaults of the tunable options. */
export declare const DEFAULTS: Readonly<{
  backoffBase: number;
  backoffCap: number;
  pingInterval: number;
  queueSize: number;
  fallbackAfter: number;
  pollWait: number;
}>;

/** A JSON value as the gateway carries it. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The client's connection state. */
export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

/** How the client reaches the gateway. */
export type Transport = 'websocket' | 'sse' | 'poll';

/** An event of the session, as the gateway delivers it over every transport. */
export interface GatewayEvent<T = Json> {
  type: 'event';
  session: string;
  event: string;
  seq: number;
  /** When the gateway accepted it: RFC 3339, UTC, milliseconds. */
  ts: string;
  data: T;
  key?: string;
  append?: boolean;
  conflated?: boolean;
  /** Set on events a WebSocket client published. */
  from?: { connection: string; user: string | null };
}

/** A member of the session (presence, spec section 17). */
export interface Member {
  connection: string;
  user: string | null;
  info: Json | null;
  since?: string;
}

export interface StateEntry {
  seq: number;
  ts: string;
  data: Json;
  /** For assembled (appended) text: how many chunks it holds. */
  chunks?: number;
}

/** The `status` reply (or GET /api/sessions/{session} on a fallback transport), passed through as sent. */
export interface SessionStatus {
  session: string;
  seq: number;
  epoch: string;
  clients: number;
  complete: boolean;
  state: Record<string, StateEntry>;
  /** The latest event per name and key (spec section 19), when the gateway sends it. */
  keyed?: Record<string, Record<string, StateEntry>>;
  [field: string]: unknown;
}

export interface PresenceAnswer {
  session: string;
  clients: number;
  users: number;
  members: Member[];
}

export interface StateChange {
  state: ConnectionState;
  transport: Transport;
  /** With `reconnecting`: the attempt number, from 1, and the delay before it in ms. */
  attempt?: number;
  delay?: number;
  /** With `closed`: why. */
  code?: number;
  reason?: string;
}

export interface CloseInfo {
  code: number;
  reason: string;
  transport: Transport;
}

/** The client's own notifications; their names start with `@`, which no event name can. */
export interface ClientEvents {
  '@state': StateChange;
  '@open': { transport: Transport };
  '@close': CloseInfo;
  '@welcome': Record<string, Json>;
  '@resumed': { type: 'resumed'; since: number | null; replayed?: number; complete: boolean; epoch: string };
  '@reset': { epoch: string };
  '@fallback': { transport: Transport };
  '@join': { type: 'join'; session: string; connection: string; user: string | null; info: Json | null };
  '@leave': { type: 'leave'; session: string; connection: string; user: string | null };
  '@presence_diff': { type: 'presence_diff'; session: string; joined: Member[]; left: Member[] };
  '@members': Member[];
  '@latency': number;
  '@error': GatewayError | Error;
}

export interface GatewayClientOptions {
  /** Only these event names (the gateway filters; `['*']` or absent: every event). */
  events?: string[] | null;
  /** A user token: exchanged for a ticket at POST /api/tickets and sent in headers, never put in a URL. */
  token?: string | (() => string | Promise<string>);
  /** Returns a fresh single-use ticket (spec section 14) for each connection; preferred over `token`. */
  ticket?: () => string | Promise<string>;
  /** With `token`: ask for a ticket that may publish. */
  ticketPublish?: boolean;
  /** Receive join, leave and presence_diff, and keep `members()`. */
  presence?: boolean;
  /** Start after this seq (0: everything history holds); absent: from what is live. */
  since?: number;
  /** The epoch `since` belongs to. */
  epoch?: string;
  /** The transports to try, in order (default: websocket, sse, poll). */
  transports?: Transport[];
  /** Failed opens in a row on a transport that never opened before the next one is tried (default 3). */
  fallbackAfter?: number;
  /** The backoff's first ceiling in ms (default 500); doubles per attempt. */
  backoffBase?: number;
  /** The backoff's largest ceiling in ms (default 30000). */
  backoffCap?: number;
  /** Ms between pings (default 10000); a ping unanswered by the next one closes the socket. */
  pingInterval?: number;
  /** Messages kept while disconnected (default 256); past it a request is rejected with `queue_full`. */
  queueSize?: number;
  /** Seconds a long poll waits on the gateway (default 25, at most 30). */
  pollWait?: number;
  /** Connect in a microtask after construction (default true). */
  autoConnect?: boolean;
  /** Replacements for the browser's globals (tests, other runtimes). */
  WebSocket?: typeof WebSocket;
  EventSource?: typeof EventSource;
  fetch?: typeof fetch;
}

/** Why a request failed: the gateway's error code (`rejected`, `unavailable`, `forbidden`, ...) or the client's own (`queue_full`, `disconnected`, `closed`, `unsupported_transport`, `ticket_refused`, `http_<status>`). */
export declare class GatewayError extends Error {
  constructor(code: string, message: string);
  readonly code: string;
}

export declare class GatewayClient {
  /** @param url the session's WebSocket address, `ws://host/ws/{session}`, or a path relative to the page. */
  constructor(url: string, options?: GatewayClientOptions);
  readonly session: string;
  readonly state: ConnectionState;
  readonly transport: Transport;
  /** The last ping's round trip in ms, or null before the first pong. */
  readonly latency: number | null;
  /** The seq of the last event delivered, or null. */
  readonly seq: number | null;
  readonly epoch: string | null;
  /** Messages waiting for the connection. */
  readonly queued: number;

  on<K extends keyof ClientEvents>(name: K, fn: (value: ClientEvents[K], client: GatewayClient) => void): () => void;
  on<T = Json>(name: string, fn: (event: GatewayEvent<T>, client: GatewayClient) => void): () => void;
  off(name: string, fn: (...args: any[]) => void): void;

  connect(): void;
  close(): void;
  members(): Member[];
  presence(): Promise<PresenceAnswer>;
  status(): Promise<SessionStatus>;
  rpc<T = Json>(method: string, data?: Json): Promise<T>;
  publish(event: string, data?: Json, extra?: { key?: string; append?: boolean; conflate?: boolean }): Promise<number>;
  send(message: { type: string; [field: string]: Json }): Promise<Record<string, Json>>;
}

export declare function backoffDelay(attempt: number, base?: number, cap?: number, random?: () => number): number;

export declare class OutboundQueue<T = unknown> {
  constructor(capacity?: number);
  readonly capacity: number;
  readonly length: number;
  push(item: T): boolean;
  drain(): T[];
}

export declare class ResumeCursor {
  constructor(seq?: number | null, epoch?: string | null);
  seq: number | null;
  epoch: string | null;
  readonly positioned: boolean;
  observeEpoch(epoch: string | null | undefined): boolean;
  startAt(seq: number): void;
  accept(seq: number): boolean;
}

export interface GatewayTarget {
  session: string;
  httpBase: string;
  wsBase: string;
  params: URLSearchParams;
}

export interface ConnectionParameters {
  cursor?: ResumeCursor | null;
  events?: string[] | null;
  presence?: boolean;
  ticket?: string | null;
}

export declare function parseGatewayUrl(url: string, base?: string): GatewayTarget;
export declare function webSocketUrl(target: GatewayTarget, parameters?: ConnectionParameters): string;
export declare function streamUrl(target: GatewayTarget, parameters?: ConnectionParameters): string;
export declare function pollUrl(target: GatewayTarget, parameters?: { cursor?: ResumeCursor | null; wait?: number; limit?: number; ticket?: string | null }): string;
export declare function parseEventId(id: string | null | undefined): { epoch: string; seq: number } | null;

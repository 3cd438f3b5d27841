// The chat agent: the backend that the gateway calls for each `rpc` a chat page sends
// (Gateway:Hooks:RpcUrl), and that streams its answer back into the room as published events.
//
//   node agent.mjs [--port 3000] [--delay 60]
//
// GATEWAY_URL   the gateway (default http://127.0.0.1:8080); GATEWAY_API_KEY its X-Api-Key, when
//               the gateway has Auth:ApiKeys. PORT is the same as --port. Node 20, built-ins only.

import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { answerFor, searchDocs, tokens } from './model.mjs';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.PORT ?? '3000' },
    delay: { type: 'string', default: '60' },
  },
});
const port = Number(args.port);
const delay = Number(args.delay);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  fail(`--port must be a TCP port from 0 to 65535 (0: any free one), not '${args.port}'`);
}
if (!Number.isFinite(delay) || delay < 0 || delay > 10_000) {
  fail(`--delay must be the milliseconds between tokens, from 0 to 10000, not '${args.delay}'`);
}

const gateway = (process.env.GATEWAY_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
const apiKey = process.env.GATEWAY_API_KEY;

/** The longest message the agent takes, in characters. */
const maxTextLength = 2000;

// One answer at a time per room: a second message waits for the first answer to finish, as a
// person would, so a room's turns never interleave.
const rooms = new Map();
let turns = 0;

const server = createServer(async (req, res) => {
  if (req.method !== 'POST' || req.url !== '/rpc') {
    return answer(res, 404, { message: `this agent answers POST /rpc (the gateway's Hooks:RpcUrl), not ${req.method} ${req.url}` });
  }
  let call;
  try {
    call = JSON.parse(await readBody(req));
  } catch {
    return answer(res, 400, { message: 'the body must be the gateway\'s rpc call as JSON' });
  }
  // A 4xx reaches the page as an `error` `rejected` carrying this message.
  if (call.method !== 'chat') {
    return answer(res, 400, { message: `unknown method '${call.method}': this agent answers 'chat' with data {text}` });
  }
  const text = typeof call.data?.text === 'string' ? call.data.text.trim() : '';
  if (text.length === 0 || text.length > maxTextLength) {
    return answer(res, 400, { message: `data.text must be a message of 1 to ${maxTextLength} characters` });
  }

  // The turn's id is the key of every event of this exchange (spec section 19): the room's keyed
  // state then holds each message, status, tool call and answer, for anyone who joins later.
  const turn = `t${Date.now().toString(36)}-${++turns}`;
  // The page's own id for its message, echoed so it can tell its message when it comes back.
  const clientId = typeof call.data.clientId === 'string' ? call.data.clientId.slice(0, 64) : null;
  answer(res, 200, { accepted: true, answerId: turn });

  const room = call.session;
  const previous = rooms.get(room) ?? Promise.resolve();
  const next = previous
    .then(() => runTurn(room, turn, { user: call.user, text, clientId }))
    .catch(async (e) => {
      console.error(`turn ${turn} in ${room} failed: ${e.message}`);
      // The pages would otherwise show this turn as answering for ever.
      await publish(room, { event: 'status', key: turn, data: { turn, state: 'failed', error: e.message } }).catch(() => {});
    });
  rooms.set(room, next);
  next.then(() => { if (rooms.get(room) === next) rooms.delete(room); });
});

/** One exchange: the user's message, thinking, a tool call, the answer token by token, done. */
async function runTurn(room, turn, { user, text, clientId }) {
  // The message goes into the room first, so every member sees what is being answered.
  await publish(room, { event: 'user_message', key: turn, data: { turn, user, text, clientId } });
  await publish(room, { event: 'status', key: turn, data: { turn, state: 'thinking' } });

  const call = `${turn}.1`;
  const input = { query: text };
  await publish(room, { event: 'tool_execution', key: call, data: { turn, call, tool: 'search_docs', input, state: 'running' } });
  const started = Date.now();
  const output = await searchDocs(text, delay * 5);
  await publish(room, { event: 'tool_execution', key: call, data: { turn, call, tool: 'search_docs', input, output, state: 'done', ms: Date.now() - started } });

  await publish(room, { event: 'status', key: turn, data: { turn, state: 'answering' } });
  let full = '';
  for await (const token of tokens(answerFor(text).text, delay)) {
    full += token;
    await publish(room, { event: 'message_chunk', key: turn, append: true, data: token });
  }
  // Without `append`, this replaces the assembled text in the room's keyed state: the final message.
  await publish(room, { event: 'message_chunk', key: turn, data: { turn, text: full, done: true } });
  await publish(room, { event: 'status', key: turn, data: { turn, state: 'done' } });
  console.log(`answered ${turn} in ${room}: ${full.length} characters`);
}

/** Publishes one event; the gateway answers 202 once it is in the session's history. */
async function publish(room, event) {
  const headers = { 'Content-Type': 'application/json' };
  if (apiKey) {
    headers['X-Api-Key'] = apiKey;
  }
  const response = await fetch(`${gateway}/api/sessions/${encodeURIComponent(room)}/events`, {
    method: 'POST', headers, body: JSON.stringify(event),
  });
  if (response.status !== 202) {
    throw new Error(`publishing ${event.event} got ${response.status}: ${await response.text()}`);
  }
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const parts = [];
    req.on('data', (part) => parts.push(part));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

function answer(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

function fail(message) {
  console.error(message);
  process.exit(2);
}

server.listen(port, '127.0.0.1', () => {
  const { port: bound } = server.address();
  console.log(`agent listening on http://127.0.0.1:${bound}/rpc, publishing to ${gateway} (token delay ${delay} ms)`);
});

'use strict';

// Node.js with ws, the way its README shows it: one http server, WebSocket upgrades handed to a
// WebSocketServer in noServer mode, a heartbeat interval that pings every client, and a publish
// that loops over the session's clients calling ws.send.

const http = require('node:http');
const { WebSocketServer, WebSocket } = require('ws');

const PING_INTERVAL_MS = 15_000;
const MAX_BODY_BYTES = 1024 * 1024;

const portAt = process.argv.indexOf('--port');
const port = portAt >= 0 ? Number(process.argv[portAt + 1]) : 5000;

/** @type {Map<string, Set<WebSocket>>} session name -> its clients */
const sessions = new Map();

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });

wss.on('connection', (ws, request, session) => {
  let clients = sessions.get(session);
  if (!clients) {
    clients = new Set();
    sessions.set(session, clients);
  }
  clients.add(ws);

  ws.isAlive = true;
  ws.on('pong', () => { ws.isAlive = true; });
  // Clients have nothing to say here; ws answers their pings and close frames by itself.
  ws.on('error', () => {});
  ws.on('close', () => {
    clients.delete(ws);
    if (clients.size === 0 && sessions.get(session) === clients) {
      sessions.delete(session);
    }
  });
});

// A client that has not answered the previous ping is gone.
const heartbeat = setInterval(() => {
  for (const ws of wss.clients) {
    if (!ws.isAlive) {
      ws.terminate();
      continue;
    }
    ws.isAlive = false;
    ws.ping();
  }
}, PING_INTERVAL_MS);

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  const publish = /^\/api\/sessions\/([^/]+)\/events$/.exec(url.pathname);
  if (req.method === 'POST' && publish) {
    readJson(req, (err, body) => {
      if (err || body === null || typeof body !== 'object' || !('data' in body)) {
        reply(res, 400, { error: 'the body must be {"event":"...","data":...}' });
        return;
      }
      const payload = JSON.stringify(body.data);
      const clients = sessions.get(decodeURIComponent(publish[1]));
      let sent = 0;
      if (clients) {
        for (const ws of clients) {
          if (ws.readyState === WebSocket.OPEN) {
            ws.send(payload);
            sent++;
          }
        }
      }
      reply(res, 202, { sent });
    });
    return;
  }

  if (req.method === 'GET' && url.pathname === '/stats') {
    global.gc();
    reply(res, 200, { heapBytes: process.memoryUsage().heapUsed, connections: wss.clients.size });
    return;
  }

  reply(res, 404, { error: 'not found' });
});

server.on('upgrade', (req, socket, head) => {
  const match = /^\/ws\/([^/?]+)(?:\?.*)?$/.exec(req.url);
  if (!match) {
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  const session = decodeURIComponent(match[1]);
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req, session));
});

function readJson(req, callback) {
  const chunks = [];
  let length = 0;
  req.on('data', (chunk) => {
    length += chunk.length;
    if (length > MAX_BODY_BYTES) {
      req.destroy();
      return;
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch (err) {
      callback(err);
      return;
    }
    callback(null, body);
  });
}

function reply(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

process.on('SIGTERM', () => {
  clearInterval(heartbeat);
  for (const ws of wss.clients) {
    ws.terminate();
  }
  server.close(() => process.exit(0));
  // Keep-alive HTTP connections would hold close() open; do not wait for them.
  server.closeAllConnections();
});

server.listen(port, '127.0.0.1');

// The document list, live: each document's status and progress bar follow the pipeline's events
// on the gateway instead of a request to the backend every 2 seconds (see the README).

const params = new URLSearchParams(location.search);
const gateway = params.get('gateway') ?? 'http://127.0.0.1:8080';
// The app's own backend, which served this page; ?backend= when the page comes from elsewhere.
const backend = params.get('backend') ?? location.origin;

const $ = (id) => document.getElementById(id);

/** Document id -> what the page knows of it, with the seq of the newest event of each name applied. */
const documents = new Map();
window.documents = documents;

function showError(text) {
  $('error').textContent = text;
  $('error').hidden = false;
}

async function getJson(path) {
  const response = await fetch(`${backend}${path}`);
  if (!response.ok) {
    throw new Error(`${backend}${path} answered ${response.status}`);
  }
  return response.json();
}

/**
 * Applies a document_status or rag_progress to its document, unless the page already has a newer
 * one: the state read on (re)connecting and the live events may arrive in either order.
 */
function apply(name, seq, data) {
  let doc = documents.get(data.document);
  if (!doc) {
    doc = { id: data.document, name: data.document, status: 'queued', percent: 0, seqs: {} };
    documents.set(data.document, doc);
  }
  if ((doc.seqs[name] ?? 0) >= seq) {
    return;
  }
  doc.seqs[name] = seq;
  if (name === 'document_status') {
    Object.assign(doc, { name: data.name, pages: data.pages, status: data.status, error: data.error });
  } else {
    Object.assign(doc, { stage: data.stage, done: data.done, total: data.total, percent: data.percent });
  }
  render(doc);
}

function detailOf(doc) {
  switch (doc.status) {
    case 'queued': return 'waiting for the pipeline';
    case 'parsing': return 'reading the text';
    case 'chunking':
    case 'embedding':
      return doc.stage === doc.status ? `${doc.status} · ${doc.done} of ${doc.total} chunks` : doc.status;
    case 'indexed': return doc.total ? `ready to search · ${doc.total} chunks` : 'ready to search';
    case 'failed': return doc.error ?? 'failed';
    default: return doc.status;
  }
}

function render(doc) {
  let row = doc.row;
  if (!row) {
    row = doc.row = document.createElement('li');
    row.dataset.document = doc.id;
    row.innerHTML = `<div class="line"><span class="name"></span><span class="pages"></span><span class="status"></span></div>
      <div class="bar"><div class="fill"></div></div>
      <div class="line small"><span class="detail"></span><span class="percent"></span></div>`;
    $('documents').append(row);
    $('empty').hidden = true;
  }
  const percent = doc.status === 'indexed' ? 100 : doc.percent ?? 0;
  row.dataset.status = doc.status;
  row.querySelector('.name').textContent = doc.name;
  row.querySelector('.pages').textContent = doc.pages ? `${doc.pages} pages` : '';
  row.querySelector('.status').textContent = doc.status;
  row.querySelector('.fill').style.width = `${percent}%`;
  row.querySelector('.bar').title = `${doc.status}: ${percent}%`;
  row.querySelector('.detail').textContent = detailOf(doc);
  row.querySelector('.percent').textContent = doc.status === 'failed' ? '' : `${percent}%`;

  const all = [...documents.values()];
  const indexed = all.filter((d) => d.status === 'indexed').length;
  const failed = all.filter((d) => d.status === 'failed').length;
  const working = all.length - indexed - failed;
  $('summary').textContent = `${indexed} of ${all.length} indexed` + (failed ? ` · ${failed} failed` : '') + (working ? ` · ${working} in progress` : '');
}

function showState(s) {
  const text = s.state === 'open' ? 'live'
    : s.state === 'reconnecting' ? `reconnecting (attempt ${s.attempt})`
      : s.state === 'closed' ? `disconnected${s.reason ? `: ${s.reason}` : ''}` : s.state;
  $('state').textContent = text;
  $('connection').dataset.state = s.state;
}

try {
  const { GatewayClient } = await import(`${gateway}/client.js`);
  const me = await getJson('/api/me');
  $('who').textContent = `signed in as user ${me.user}`;

  const client = new GatewayClient(`${gateway.replace(/^http/, 'ws')}/ws/${me.session}`, {
    events: ['document_status', 'rag_progress'],
    // Asked again for every connection: /client.js swaps it for a single-use ticket in a request
    // header (POST /api/tickets), so the token itself is never in a URL.
    token: async () => (await getJson('/api/gateway-token')).token,
  });
  window.client = client;
  client.on('@state', showState);
  client.on('document_status', (e) => apply('document_status', e.seq, e.data));
  client.on('rag_progress', (e) => apply('rag_progress', e.seq, e.data));

  // Where every document stands, from the session's state (the newest event per name and document
  // id): on the first connection, and after one that could not resume everything it missed.
  const readState = async () => {
    const status = await client.status();
    for (const name of ['document_status', 'rag_progress']) {
      for (const entry of Object.values(status.keyed?.[name] ?? {})) {
        apply(name, entry.seq, entry.data);
      }
    }
  };
  client.on('@welcome', () => readState().catch((error) => console.warn('reading the state failed', error)));
  client.on('@reset', () => {
    // The session started over (a restarted in-memory gateway): its seqs count from 1 again.
    for (const doc of documents.values()) {
      doc.seqs = {};
    }
    readState().catch((error) => console.warn('reading the state failed', error));
  });
} catch (error) {
  showState({ state: 'closed' });
  showError(`Could not start: ${error.message}. Is the gateway running at ${gateway}, and the app backend at ${backend}?`);
}

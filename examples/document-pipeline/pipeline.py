#!/usr/bin/env python3
"""A document processor (simulated) that tells each document's owner how far it got, live.

For every uploaded document it publishes to the owner's session, user:<id>:
  document_status  {document, name, pages, status[, error]}
                   status: queued, parsing, chunking, embedding, indexed, or failed
  rag_progress     {document, stage, done, total, percent}
                   stage: chunking or embedding; done of total chunks; percent of the whole document
Both carry the document's id as their `key`, so the gateway keeps the latest of each per document
and a page that opens later reads where every document stands from the session's state.

It signs its own publisher token (HS256, GATEWAY_SIGNING_KEY) allowed to publish to user:* only.
Standard library only: python3 pipeline.py --user 42
"""

import argparse
import http.client
import json
import os
import re
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import gateway_jwt

GATEWAY_URL = os.environ.get("GATEWAY_URL", "http://127.0.0.1:8080").rstrip("/")
DEFAULT_DOCUMENTS = "employee-handbook.pdf:48,q3-board-deck.pptx:22,supplier-contract.docx:9,release-notes.md:3"
EMBEDDING_BATCH = 8  # chunks per call to the embedding model, and per rag_progress event
PUBLISHER_TOKEN_SECONDS = 300
RETRIES = 4  # after 1, 2, 4 and 8 s: a gateway that restarts within 15 s misses no publish


class Publisher:
    """Publishes events over HTTP with a token it signs itself, renewed before it expires."""

    def __init__(self):
        self._key = gateway_jwt.signing_key()
        self._token, self._expires = None, 0.0

    def _bearer(self):
        if time.time() > self._expires - 60:
            # Only what this worker needs: publishing to users' sessions, not watching any.
            self._token = gateway_jwt.mint({"sub": "document-pipeline", "publish": ["user:*"]},
                                           PUBLISHER_TOKEN_SECONDS, self._key)
            self._expires = time.time() + PUBLISHER_TOKEN_SECONDS
        return self._token

    def publish(self, session, events):
        """Publishes one event (a dict) or a batch (a list). Each event has an `id`, so a retry
        after a lost answer is recognised by the gateway instead of published twice."""
        url = f"{GATEWAY_URL}/api/sessions/{urllib.parse.quote(session, safe=':')}/events"
        body = json.dumps(events).encode()
        for attempt in range(RETRIES + 1):
            if attempt:
                time.sleep(2 ** (attempt - 1))
            request = urllib.request.Request(url, data=body, method="POST", headers={
                "Content-Type": "application/json", "Authorization": f"Bearer {self._bearer()}"})
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:
                    return json.load(answer)
            except urllib.error.HTTPError as error:
                detail = error.read().decode(errors="replace")
                if error.code == 401:
                    sys.exit(f"publish to {session} refused: {error.code} {detail}\n"
                             "GATEWAY_SIGNING_KEY (and GATEWAY_JWT_ISSUER, GATEWAY_JWT_AUDIENCE) must match the gateway's Gateway:Auth settings")
                if error.code < 500 and error.code != 429:
                    sys.exit(f"publish to {session} refused: {error.code} {detail}")
                reason = f"{error.code} {detail}"
            except (OSError, http.client.HTTPException) as error:
                # Refused, reset or timed out: the gateway may be restarting.
                reason = str(getattr(error, "reason", error))
            print(f"publish to {session} failed ({reason})" + ("; retrying" if attempt < RETRIES else ""), file=sys.stderr)
        sys.exit(f"publish to {session} failed: is the gateway running at {GATEWAY_URL}?")


def status_event(doc, status, error=None):
    data = {"document": doc["id"], "name": doc["name"], "pages": doc["pages"], "status": status}
    if error:
        data["error"] = error
    return {"event": "document_status", "key": doc["id"], "id": f"{doc['id']}:{status}", "data": data}


def progress_event(doc, stage, done, chunked, embedded):
    total = doc["chunks"]
    # Cutting text is cheap and embedding it is not: a fifth of the bar for one, the rest for the other.
    percent = round(100 * (0.2 * chunked + 0.8 * embedded) / total)
    return {"event": "rag_progress", "key": doc["id"], "id": f"{doc['id']}:{stage}:{done}", "conflate": True,
            "data": {"document": doc["id"], "stage": stage, "done": done, "total": total, "percent": percent}}


def process(publisher, session, doc, delay, fail):
    """One document through the pipeline: parse, cut into chunks, embed them, index them."""
    def step(status, seconds):
        publisher.publish(session, status_event(doc, status))
        print(f"{session} {doc['id']} {doc['name']}: {status}", flush=True)
        time.sleep(seconds)

    step("parsing", delay * 2)
    if fail:
        error = "no text layer: a scanned document needs OCR first"
        publisher.publish(session, status_event(doc, "failed", error))
        print(f"{session} {doc['id']} {doc['name']}: failed ({error})", flush=True)
        return False

    step("chunking", 0)
    total = doc["chunks"]
    for quarter in range(1, 5):
        done = total * quarter // 4
        publisher.publish(session, progress_event(doc, "chunking", done, done, 0))
        time.sleep(delay / 2)

    step("embedding", 0)
    for done in list(range(EMBEDDING_BATCH, total, EMBEDDING_BATCH)) + [total]:
        publisher.publish(session, progress_event(doc, "embedding", done, total, done))
        time.sleep(delay / 2)

    step("indexed", 0)
    return True


def parse_documents(text):
    documents = []
    for item in text.split(","):
        name, _, pages = item.strip().rpartition(":")
        if not name or not pages.isdigit() or int(pages) < 1:
            sys.exit(f"--documents: '{item}' is not name:pages (e.g. report.pdf:12)")
        # Documents get an id of the gateway's key alphabet, whatever their file names contain.
        documents.append({"id": f"doc-{secrets.token_hex(4)}", "name": name, "pages": int(pages),
                          "chunks": int(pages) * 2 + len(name) % 3})
    return documents


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--user", default="42", help="the owner of the documents: events go to user:<id> (default 42)")
    parser.add_argument("--documents", default=DEFAULT_DOCUMENTS, help="name:pages,... the uploads to process")
    parser.add_argument("--delay", type=float, default=0.4, help="seconds per step of the simulated work (0: as fast as it can)")
    parser.add_argument("--fail", action="append", default=[], metavar="NAME", help="a document that fails to parse (repeatable)")
    args = parser.parse_args()
    if not re.fullmatch(r"[A-Za-z0-9._:-]{1,123}", args.user):
        sys.exit(f"--user: '{args.user}' is not 1-123 characters from A-Z a-z 0-9 . _ : - (a session name is user:<id>)")
    if args.delay < 0:
        sys.exit("--delay: seconds, 0 or more")

    session = f"user:{args.user}"
    documents = parse_documents(args.documents)
    unknown = set(args.fail) - {doc["name"] for doc in documents}
    if unknown:
        sys.exit(f"--fail: no document named {', '.join(sorted(unknown))} in --documents")

    publisher = Publisher()
    # The uploads arrive together: one batch, so the owner sees the whole queue at once.
    publisher.publish(session, [status_event(doc, "queued") for doc in documents])
    print(f"{session}: {len(documents)} documents queued", flush=True)
    indexed = sum(process(publisher, session, doc, args.delay, doc["name"] in args.fail) for doc in documents)
    print(f"{session}: done, {indexed} indexed, {len(documents) - indexed} failed", flush=True)


if __name__ == "__main__":
    main()

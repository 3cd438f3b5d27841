"""Publish a task queue's events to one gateway session: what a worker calls as it runs tasks.

Copy this file next to your workers; it needs only Python's standard library. Every task event
carries the task's id as its `key`, so the session's keyed state holds the latest of each event
per task, and a monitor that opens late reads the whole table at once. Progress is published
with `"conflate": true`: a watcher that falls behind gets the newest percent of each task (with
`conflated`, how many it skipped) instead of every step.

    events = QueueEvents("queue:default")          # GATEWAY_URL, or http://127.0.0.1:8080
    events.queued([{"id": "a1-001", "kind": "thumbnail", "input": "photos/a.jpg"}])
    events.started("a1-001", "thumbnail", "worker-1")
    events.progress("a1-001", "worker-1", step=3, steps=10)
    events.completed("a1-001", "thumbnail", "worker-1", duration_ms=840, result="thumbs/a.jpg")
"""

import http.client
import json
import os
import threading
import time
import urllib.parse

DEFAULT_GATEWAY = "http://127.0.0.1:8080"

# A batch publish takes at most 1000 events.
MAX_BATCH = 1000


class PublishError(Exception):
    """The gateway refused a publish (a 4xx other than 429), or kept failing after every retry."""


class QueueEvents:
    """Publishes task events to one session. Safe to share between worker threads."""

    def __init__(self, session="queue:default", gateway=None, api_key=None, attempts=5, timeout=10.0):
        gateway = gateway or os.environ.get("GATEWAY_URL") or DEFAULT_GATEWAY
        address = urllib.parse.urlsplit(gateway)
        if address.scheme not in ("http", "https") or not address.hostname:
            raise ValueError(f"the gateway address (GATEWAY_URL) must be http://host:port or https://host:port, not {gateway!r}")
        self.session = session
        self._address = address
        self._path = f"{address.path.rstrip('/')}/api/sessions/{urllib.parse.quote(session, safe=':')}/events"
        self._api_key = api_key or os.environ.get("GATEWAY_API_KEY")
        self._attempts = attempts
        self._timeout = timeout
        # One keep-alive connection per thread: http.client connections are not thread-safe.
        self._local = threading.local()

    def queued(self, tasks):
        """Publishes `task_queued` for each task ({"id", "kind", "input"}), in batches."""
        events = [self._event("task_queued", task["id"], task, idempotent=True) for task in tasks]
        for start in range(0, len(events), MAX_BATCH):
            self.publish(events[start:start + MAX_BATCH])

    def started(self, task_id, kind, worker):
        self.publish(self._event("task_started", task_id, {"id": task_id, "kind": kind, "worker": worker}, idempotent=True))

    def progress(self, task_id, worker, step, steps):
        data = {"id": task_id, "worker": worker, "step": step, "steps": steps, "percent": round(100 * step / steps)}
        event = self._event("task_progress", task_id, data)
        event["conflate"] = True
        self.publish(event)

    def completed(self, task_id, kind, worker, duration_ms, result):
        data = {"id": task_id, "kind": kind, "worker": worker, "duration_ms": duration_ms, "result": result}
        self.publish(self._event("task_completed", task_id, data, idempotent=True))

    def failed(self, task_id, kind, worker, duration_ms, error):
        data = {"id": task_id, "kind": kind, "worker": worker, "duration_ms": duration_ms, "error": error}
        self.publish(self._event("task_failed", task_id, data, idempotent=True))

    def drained(self, run, completed, failed, elapsed_ms):
        """Publishes `queue_drained`: every task of this run has ended. Not keyed: the state keeps the latest."""
        data = {"run": run, "completed": completed, "failed": failed, "elapsed_ms": elapsed_ms}
        self.publish({"event": "queue_drained", "data": data, "id": f"{run}:drained"})

    @staticmethod
    def _event(name, task_id, data, idempotent=False):
        event = {"event": name, "key": task_id, "data": data}
        if idempotent:
            # A retried publish with the same id is answered as a duplicate, never delivered twice.
            # Progress goes without: a repeated percent is harmless, and ids cost bytes on every step.
            event["id"] = f"{task_id}:{name}"
        return event

    def publish(self, body):
        """POSTs one event or a list of them; retries what may be transient with the same body."""
        payload = json.dumps(body, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["X-Api-Key"] = self._api_key
        delay = 0.2
        for attempt in range(1, self._attempts + 1):
            try:
                connection = self._connection()
                connection.request("POST", self._path, payload, headers)
                response = connection.getresponse()
                answer = response.read()
            except (OSError, http.client.HTTPException) as error:
                # The keep-alive connection broke (a gateway restart, an idle timeout): make a new one.
                self._local.connection = None
                problem = f"{type(error).__name__}: {error}"
            else:
                if response.status == 202:
                    return json.loads(answer)
                problem = f"{response.status} {_detail(answer)}"
                if response.status not in (429, 503):
                    raise PublishError(f"the gateway refused a publish to {self.session}: {problem}")
                delay = max(delay, float(response.getheader("Retry-After") or 0))
            if attempt == self._attempts:
                raise PublishError(f"publishing to {self.session} failed {attempt} times; last: {problem}")
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _connection(self):
        connection = getattr(self._local, "connection", None)
        if connection is None:
            kind = http.client.HTTPSConnection if self._address.scheme == "https" else http.client.HTTPConnection
            connection = kind(self._address.hostname, self._address.port, timeout=self._timeout)
            self._local.connection = connection
        return connection


def _detail(answer):
    """The `detail` of a problem+json answer, or its text."""
    try:
        return json.loads(answer).get("detail") or answer.decode(errors="replace")
    except (ValueError, AttributeError):
        return answer.decode(errors="replace")

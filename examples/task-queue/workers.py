#!/usr/bin/env python3
"""A small task queue: enqueues a run of tasks, and worker threads run them, publishing each
task's life to a gateway session (task_queued, task_started, task_progress, task_completed or
task_failed), then queue_drained once the run is done.

The queue here is Python's queue.Queue so that the example runs alone; in your system it is
Celery, RQ, Sidekiq or a table, and the calls to QueueEvents go where your worker starts,
advances and ends a task.

    GATEWAY_URL=http://127.0.0.1:8080 python3 workers.py --tasks 24 --workers 4
"""

import argparse
import queue
import random
import secrets
import sys
import threading
import time

from queue_events import PublishError, QueueEvents

# What the simulated tasks do: a kind, how many steps it takes, its input and its result.
KINDS = [
    ("thumbnail", 10, "photos/IMG_{n:04d}.jpg", "thumbs/IMG_{n:04d}.jpg"),
    ("transcode", 40, "videos/clip-{n:03d}.mov", "videos/clip-{n:03d}.mp4"),
    ("report", 25, "sales/2026-{n:02d}.csv", "reports/sales-2026-{n:02d}.pdf"),
    ("invoice", 15, "orders/{n:05d}.json", "invoices/{n:05d}.pdf"),
    ("email", 5, "outbox/{n:04d}.eml", "sent/{n:04d}"),
]

ERRORS = ["input file not found", "timed out after 3 attempts", "unsupported format", "storage quota exceeded"]


def main():
    parser = argparse.ArgumentParser(description="Run a batch of tasks on worker threads, publishing their progress to a gateway session.")
    parser.add_argument("--session", default="queue:default", help="the queue's session (default queue:default)")
    parser.add_argument("--tasks", type=positive, default=24, help="how many tasks to enqueue (default 24)")
    parser.add_argument("--workers", type=positive, default=4, help="how many worker threads (default 4)")
    parser.add_argument("--delay", type=non_negative, default=0.08, help="seconds per task step, jittered (default 0.08; 0 runs flat out)")
    parser.add_argument("--fail-rate", type=fraction, default=0.1, help="share of tasks that fail, 0 to 1 (default 0.1)")
    parser.add_argument("--seed", type=int, default=None, help="makes the tasks (kinds, failures) the same on every run")
    parser.add_argument("--run", default=None, help="the run's id, the prefix of its task ids (default: 4 random hex digits)")
    args = parser.parse_args()

    run = args.run or secrets.token_hex(2)
    plan = random.Random(args.seed)
    tasks = []
    for n in range(1, args.tasks + 1):
        kind, steps, source, target = plan.choice(KINDS)
        fails_at = plan.randint(1, steps) if plan.random() < args.fail_rate else None
        tasks.append({
            "id": f"{run}-{n:03d}", "kind": kind, "input": source.format(n=n),
            "steps": steps, "result": target.format(n=n), "fails_at": fails_at,
            "error": plan.choice(ERRORS),
        })

    events = QueueEvents(args.session)
    started = time.monotonic()
    events.queued([{"id": t["id"], "kind": t["kind"], "input": t["input"]} for t in tasks])
    print(f"run {run}: {len(tasks)} tasks queued on {args.session}, {args.workers} workers", flush=True)

    todo = queue.Queue()
    for task in tasks:
        todo.put(task)
    outcomes = {"completed": 0, "failed": 0}
    lock = threading.Lock()
    errors = []

    def work(worker):
        jitter = random.Random(worker)
        while True:
            try:
                task = todo.get_nowait()
            except queue.Empty:
                return
            try:
                outcome = run_task(events, task, worker, args.delay, jitter)
            except PublishError as error:  # a worker that cannot publish stops, saying why
                errors.append(f"{worker}: {error}")
                return
            with lock:
                outcomes[outcome] += 1

    threads = [threading.Thread(target=work, args=(f"worker-{i}",)) for i in range(1, args.workers + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1

    elapsed_ms = round((time.monotonic() - started) * 1000)
    events.drained(run, outcomes["completed"], outcomes["failed"], elapsed_ms)
    print(f"run {run} drained: {outcomes['completed']} completed, {outcomes['failed']} failed in {elapsed_ms / 1000:.1f} s", flush=True)
    return 0


def run_task(events, task, worker, delay, jitter):
    """Runs one simulated task, publishing its start, each step and its end."""
    began = time.monotonic()
    events.started(task["id"], task["kind"], worker)
    for step in range(1, task["steps"] + 1):
        if delay:
            time.sleep(delay * jitter.uniform(0.5, 1.5))
        if step == task["fails_at"]:
            events.failed(task["id"], task["kind"], worker, elapsed_ms(began), task["error"])
            print(f"{worker}: {task['id']} {task['kind']} failed at step {step}: {task['error']}", flush=True)
            return "failed"
        events.progress(task["id"], worker, step, task["steps"])
    events.completed(task["id"], task["kind"], worker, elapsed_ms(began), task["result"])
    print(f"{worker}: {task['id']} {task['kind']} completed in {elapsed_ms(began) / 1000:.1f} s", flush=True)
    return "completed"


def elapsed_ms(began):
    return round((time.monotonic() - began) * 1000)


def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {text}")
    return value


def non_negative(text):
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


def fraction(text):
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {text}")
    return value


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (PublishError, ValueError) as error:
        sys.exit(f"workers.py: {error}")

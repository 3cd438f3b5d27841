#!/usr/bin/env python3
"""A simulated training loop that publishes its progress to a gateway session.

It trains a few "models" one after another (nothing is really trained: the loss decays along a
curve with noise), and publishes over HTTP, with the standard library only:

  training_started   once, before the first step: the models, the step counts, the hyper-parameters
  step_update        after every step: loss, perplexity, step of steps, model of models, learning rate
  phase_completed    once, at the end, marked final: the gateway then closes every watcher with
                     1000 "session complete", and the session refuses further events

Steps are sent in batches (a JSON array, at most 1000 events per POST) when they come fast, and one
by one when they come slower than --flush. A 429 or 503 is retried after its Retry-After; every
event carries an id, so a retried batch that the gateway had in fact published is not published
twice.

    GATEWAY_URL=http://127.0.0.1:8080 python3 train.py --session training-run-1 --delay 0.05
"""

import argparse
import json
import math
import os
import random
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

# The API takes at most 1000 events in one publish.
MAX_BATCH = 1000

MODEL_NAMES = ["tiny-12m", "small-40m", "base-110m", "medium-350m", "large-770m", "xl-1.5b"]


def parse_args():
    parser = argparse.ArgumentParser(description="Simulated training loop publishing its progress to a gateway session.")
    parser.add_argument("--session", default=os.environ.get("SESSION", "training-run-1"),
                        help="the session to publish to (env SESSION; default training-run-1)")
    parser.add_argument("--models", type=int, default=int(os.environ.get("MODELS", "3")),
                        help="how many models to train, one after another, 1 to %d (env MODELS; default 3)" % len(MODEL_NAMES))
    parser.add_argument("--steps", type=int, default=int(os.environ.get("STEPS", "200")),
                        help="steps per model, 1 to 100000 (env STEPS; default 200)")
    parser.add_argument("--delay", type=float, default=float(os.environ.get("DELAY", "0.05")),
                        help="seconds one step takes; 0 runs as fast as it can (env DELAY; default 0.05)")
    parser.add_argument("--flush", type=float, default=float(os.environ.get("FLUSH", "0.25")),
                        help="the longest a step waits before it is sent; steps within it share one POST (env FLUSH; default 0.25)")
    parser.add_argument("--seed", type=int, default=int(os.environ.get("SEED", "7")),
                        help="seed of the noise, so that two runs draw the same curves (env SEED; default 7)")
    args = parser.parse_args()
    if not 1 <= args.models <= len(MODEL_NAMES):
        parser.error("--models must be 1 to %d, got %d" % (len(MODEL_NAMES), args.models))
    if not 1 <= args.steps <= 100000:
        parser.error("--steps must be 1 to 100000, got %d" % args.steps)
    if args.delay < 0 or args.flush < 0:
        parser.error("--delay and --flush are seconds, 0 or more")
    return args


class Publisher:
    """POSTs events to one session, retrying what the gateway asks to have retried."""

    # Retry-After tells when; this bounds how often, so that a gateway that stays away for good
    # ends the run with a clear error instead of a loop that never finishes.
    MAX_ATTEMPTS = 30

    def __init__(self, gateway, session):
        self.url = "%s/api/sessions/%s/events" % (gateway.rstrip("/"), urllib.parse.quote(session, safe=""))
        self.posts = 0
        self.retries = 0

    def publish(self, events):
        """Publishes a list of events as one batch (one POST); returns the gateway's answer."""
        body = json.dumps(events if len(events) > 1 else events[0], separators=(",", ":")).encode("utf-8")
        for attempt in range(1, self.MAX_ATTEMPTS + 1):
            request = urllib.request.Request(self.url, data=body, method="POST",
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    self.posts += 1
                    return json.load(response)
            except urllib.error.HTTPError as error:
                detail = problem_detail(error)
                if error.code in (429, 503):
                    wait = retry_after(error.headers.get("Retry-After"))
                    self.retries += 1
                    log("gateway answered %d (%s); retrying in %g s (attempt %d)" % (error.code, detail, wait, attempt))
                    time.sleep(wait)
                    continue
                if error.code == 409:
                    raise SystemExit("the session is complete: an earlier run ended it (%s).\n"
                                     "Publish to a new session (--session) or delete this one first:\n"
                                     "  curl -X DELETE %s" % (detail, self.url.rsplit("/events", 1)[0]))
                raise SystemExit("the gateway refused the publish with %d: %s" % (error.code, detail))
            except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
                # Not reachable (not started yet, restarting): back off 1, 2, 4 ... 10 s. Every
                # event has an id, so a batch the gateway took before the connection broke is
                # answered as a duplicate when it comes again, not published twice.
                wait = min(10, 2 ** (attempt - 1))
                self.retries += 1
                log("cannot reach the gateway at %s (%s); retrying in %g s (attempt %d)" % (self.url, getattr(error, "reason", error), wait, attempt))
                time.sleep(wait)
        raise SystemExit("gave up after %d attempts to publish to %s" % (self.MAX_ATTEMPTS, self.url))


def retry_after(value):
    """Retry-After in seconds: the gateway sends whole seconds; an HTTP date or nothing means 1 s."""
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return 1.0


def problem_detail(error):
    """The `detail` of an application/problem+json answer, or its raw text."""
    try:
        text = error.read().decode("utf-8", "replace")
    except OSError:
        return error.reason
    try:
        return json.loads(text).get("detail") or text
    except (ValueError, AttributeError):
        return text or error.reason


def log(text):
    print(text, file=sys.stderr, flush=True)


def learning_rate(step, steps, peak, warmup):
    """Linear warm-up to the peak, then cosine decay to a tenth of it."""
    if step <= warmup:
        return peak * step / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def main():
    args = parse_args()
    gateway = os.environ.get("GATEWAY_URL", "http://127.0.0.1:8080")
    publisher = Publisher(gateway, args.session)
    rng = random.Random(args.seed)
    # Ids make retries safe (a repeat is answered as a duplicate); the run's start time keeps them
    # apart from an earlier run's on a session that was deleted and reused.
    run = "%s-%d" % (args.session, int(time.time()))

    hyper = {
        "learningRate": 3e-4,
        "warmupSteps": max(1, args.steps // 10),
        "schedule": "linear warm-up, cosine decay to 10%",
        "batchSize": 32,
        "seed": args.seed,
    }
    models = [{"name": MODEL_NAMES[i], "index": i + 1} for i in range(args.models)]
    total = args.models * args.steps
    started = time.monotonic()
    publisher.publish([{
        "event": "training_started",
        "id": run + ":started",
        "data": {"run": run, "models": models, "modelCount": args.models, "stepsPerModel": args.steps,
                 "totalSteps": total, "hyperparameters": hyper},
    }])
    print("training_started: %d models x %d steps -> %s" % (args.models, args.steps, publisher.url), flush=True)

    pending = []
    oldest = None
    summaries = []
    for m, model in enumerate(models, start=1):
        # Bigger models start a little higher and end lower, as they would.
        start_loss = 6.5 + 0.3 * m + rng.uniform(-0.2, 0.2)
        floor = 2.6 - 0.35 * m + rng.uniform(-0.05, 0.05)
        best = math.inf
        loss = start_loss
        for step in range(1, args.steps + 1):
            if args.delay > 0:
                time.sleep(args.delay)
            curve = floor + (start_loss - floor) * math.exp(-5.0 * step / args.steps)
            loss = round(max(0.05, curve + rng.gauss(0, 0.04 * curve)), 4)
            best = min(best, loss)
            global_step = (m - 1) * args.steps + step
            pending.append({
                "event": "step_update",
                "id": "%s:step:%d" % (run, global_step),
                "data": {
                    "model": m, "models": args.models, "modelName": model["name"],
                    "step": step, "steps": args.steps,
                    "globalStep": global_step, "totalSteps": total,
                    "loss": loss,
                    "perplexity": round(math.exp(loss), 2),
                    "learningRate": float("%.6g" % learning_rate(step, args.steps, hyper["learningRate"], hyper["warmupSteps"])),
                },
            })
            now = time.monotonic()
            oldest = oldest if oldest is not None else now
            # Send now if holding the steps through the next one would keep the oldest longer than
            # --flush: a slow run sends every step at once, a fast one shares a POST among many.
            if len(pending) >= MAX_BATCH or now + args.delay - oldest >= args.flush:
                publisher.publish(pending)
                pending, oldest = [], None
        summaries.append({"model": m, "name": model["name"], "finalLoss": loss,
                          "finalPerplexity": round(math.exp(loss), 2), "bestLoss": best})
        print("model %d of %d (%s): final loss %.4f, best %.4f" % (m, args.models, model["name"], loss, best), flush=True)

    # The final event goes in the same batch as the last steps: only the last event of a batch
    # may be final, and it is.
    pending.append({
        "event": "phase_completed",
        "id": run + ":completed",
        "final": True,
        "data": {"phase": "training", "totalSteps": total, "models": summaries,
                 "seconds": round(time.monotonic() - started, 2)},
    })
    publisher.publish(pending)
    print("phase_completed: %d steps in %d posts (%d retries)" % (total, publisher.posts, publisher.retries), flush=True)


if __name__ == "__main__":
    main()

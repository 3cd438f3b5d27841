#!/usr/bin/env python3
"""The app's own backend, in miniature: it serves the page and gives the signed-in user a gateway token.

  GET /api/me             {"user", "session"}: who is signed in, and the session of their documents
  GET /api/gateway-token  {"token", "expiresIn"}: a JWT that may watch user:<id> and nothing else
  GET /...                the files of web/

A real backend knows the user from its login session (a cookie); this one is told with --user.
The page hands the token to /client.js, which exchanges it for a single-use ticket in a request
header: the token never appears in a URL. Standard library only: python3 app_backend.py --user 42
"""

import argparse
import functools
import http.server
import json
import os
import re
import sys

import gateway_jwt

USER_TOKEN_SECONDS = 600  # the gateway closes a connection when its token expires; the page then reconnects with a fresh one


class Handler(http.server.SimpleHTTPRequestHandler):
    user = "42"
    allowed_origins = ()

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/api/me":
            self._json({"user": self.user, "session": f"user:{self.user}"})
        elif path == "/api/gateway-token":
            # Watch this user's session only: not user:*, and no publish (the pipeline publishes).
            token = gateway_jwt.mint({"sub": self.user, "sessions": [f"user:{self.user}"]}, USER_TOKEN_SECONDS)
            self._json({"token": token, "expiresIn": USER_TOKEN_SECONDS})
        elif path.startswith("/api/"):
            self._json({"error": f"no {path}: try /api/me or /api/gateway-token"}, 404)
        else:
            super().do_GET()

    def _json(self, value, status=200):
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-store")
        origin = self.headers.get("Origin")
        if origin in self.allowed_origins:
            self.send_header("Access-Control-Allow-Origin", origin)
            self.send_header("Vary", "Origin")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        # The default logs every request; keep the terminal for what matters (and no token is in a URL anyway).
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--user", default="42", help="the signed-in user (default 42)")
    parser.add_argument("--port", type=int, default=8000, help="the port on 127.0.0.1 (default 8000; 0: any free one)")
    parser.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                        help="an origin whose pages may call /api/ (when the page is served elsewhere, e.g. http://localhost:5173)")
    args = parser.parse_args()
    if not re.fullmatch(r"[A-Za-z0-9._:-]{1,123}", args.user):
        sys.exit(f"--user: '{args.user}' is not 1-123 characters from A-Z a-z 0-9 . _ : -")
    gateway_jwt.signing_key()  # fail now, not at the first request, when the secret is missing

    Handler.user = args.user
    Handler.allowed_origins = tuple(args.allow_origin)
    web = os.path.join(os.path.dirname(os.path.abspath(__file__)), "web")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), functools.partial(Handler, directory=web))
    print(f"app backend for user {args.user} on http://127.0.0.1:{server.server_address[1]}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

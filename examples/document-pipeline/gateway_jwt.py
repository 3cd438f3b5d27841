"""HS256 JWTs for the gateway, with the standard library only.

The gateway (Gateway:Auth:Mode jwt, Gateway:Auth:SigningKey) and the programs that mint its tokens
share one secret: GATEWAY_SIGNING_KEY here. A JWT is three base64url parts, header.payload.signature,
where the signature is HMAC-SHA256 over the first two with that secret.
"""

import base64
import hashlib
import hmac
import json
import os
import sys
import time


def signing_key():
    """The shared secret, from GATEWAY_SIGNING_KEY; the gateway wants at least 32 bytes."""
    key = os.environ.get("GATEWAY_SIGNING_KEY", "")
    if len(key.encode()) < 32:
        sys.exit("GATEWAY_SIGNING_KEY must be set to the gateway's Gateway:Auth:SigningKey "
                 f"(at least 32 bytes; it has {len(key.encode())})")
    return key.encode()


def _b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def mint(claims, lifetime_seconds, key=None):
    """A token carrying `claims`, valid from now for `lifetime_seconds`.

    The gateway requires `sub` and `exp`; `iss` and `aud` are added from GATEWAY_JWT_ISSUER and
    GATEWAY_JWT_AUDIENCE when the gateway checks them (Gateway:Auth:Issuer, Gateway:Auth:Audience).
    """
    now = int(time.time())
    payload = {"iat": now, "exp": now + lifetime_seconds, **claims}
    for env, claim in (("GATEWAY_JWT_ISSUER", "iss"), ("GATEWAY_JWT_AUDIENCE", "aud")):
        if os.environ.get(env):
            payload[claim] = os.environ[env]
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64url(json.dumps(payload, separators=(",", ":")).encode())
    signed = f"{header}.{body}".encode()
    signature = _b64url(hmac.new(key or signing_key(), signed, hashlib.sha256).digest())
    return f"{header}.{body}.{signature}"

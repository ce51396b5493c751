"""A fake Web Push service on 127.0.0.1, checking what a real one checks (RFC 8030, 8291, 8292).

:meth:`FakePushService.subscribe` plays a browser subscribing: it makes the browser's key pair
and auth secret and returns the subscription (``endpoint`` and ``keys``, as
``PushSubscription.toJSON()`` gives it). A push message posted to the endpoint is accepted (201)
only with a valid VAPID ``Authorization: vapid t=JWT, k=KEY`` (an ES256 JWT signed by ``k``
whose ``aud`` is the service's origin, ``exp`` within 24 hours, ``sub`` a mailto: or https:
URL), ``Content-Encoding: aes128gcm``, a ``TTL`` and a body that decrypts with the browser's
keys; the decrypted text is kept in :attr:`FakePushService.received`. Anything else is refused
with 400 (401/403 for the JWT) and the reason in :attr:`FakePushService.refusals`. An endpoint
in :attr:`FakePushService.gone` answers 410, as when the person turned notifications off.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import http_ece
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Browser:
    """One subscribed browser: its keys (RFC 8291) and the messages it got."""

    token: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes

    def subscription(self, origin: str) -> dict[str, Any]:
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": f"{origin}/push/{self.token}",
            "keys": {"p256dh": b64url(public), "auth": b64url(self.auth)},
        }


@dataclass
class Received:
    """A push message the service accepted: for which browser, its text, its TTL, the VAPID key."""

    token: str
    text: str
    ttl: int
    vapid_key: str
    claims: dict[str, Any]


@dataclass
class FakePushService:
    origin: str = ""
    browsers: dict[str, Browser] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)

    def subscribe(self) -> dict[str, Any]:
        """A new browser's subscription (what the page posts to ``/api/push/subscribe``)."""
        browser = Browser(secrets.token_urlsafe(16), ec.generate_private_key(ec.SECP256R1()), os.urandom(16))
        self.browsers[browser.token] = browser
        return browser.subscription(self.origin)

    def texts(self, subscription: dict[str, Any]) -> list[str]:
        token = subscription["endpoint"].rsplit("/", 1)[1]
        return [message.text for message in self.received if message.token == token]

    def _refuse(self, status: int, reason: str) -> web.Response:
        self.refusals.append(reason)
        return web.Response(status=status, text=reason)

    async def handle(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        browser = self.browsers.get(token)
        if browser is None or token in self.gone:
            return self._refuse(410, "no such subscription")
        claims, key, problem = self._check_vapid(request.headers.get("Authorization", ""))
        if problem is not None:
            return self._refuse(401 if "missing" in problem else 403, problem)
        if request.headers.get("Content-Encoding") != "aes128gcm":
            return self._refuse(400, f"Content-Encoding {request.headers.get('Content-Encoding')!r}, not aes128gcm")
        ttl = request.headers.get("TTL")
        if ttl is None or not ttl.isdigit():
            return self._refuse(400, "no TTL")
        body = await request.read()
        try:
            text = http_ece.decrypt(
                body, private_key=browser.private_key, auth_secret=browser.auth, version="aes128gcm"
            )
        except Exception as error:  # what a browser does with a message it cannot decrypt: drop it
            return self._refuse(400, f"cannot decrypt: {type(error).__name__}")
        self.received.append(Received(token, text.decode("utf-8"), int(ttl), key, claims))
        return web.Response(status=201)

    def _check_vapid(self, header: str) -> tuple[dict[str, Any], str, str | None]:
        scheme, _, rest = header.partition(" ")
        if scheme.lower() != "vapid":
            return {}, "", "missing VAPID authorization"
        fields = dict(part.strip().split("=", 1) for part in rest.split(",") if "=" in part)
        token, key = fields.get("t", ""), fields.get("k", "")
        try:
            head, payload, signature = token.split(".")
            header_json = json.loads(b64url_decode(head))
            claims = json.loads(b64url_decode(payload))
            public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(key))
            raw = b64url_decode(signature)
            if header_json.get("alg") != "ES256" or len(raw) != 64:
                return {}, key, "the JWT is not ES256"
            der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
            public.verify(der, f"{head}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return {}, key, "the JWT signature does not match k"
        except (ValueError, TypeError, json.JSONDecodeError):
            return {}, key, "malformed VAPID authorization"
        now = time.time()
        if claims.get("aud") != self.origin:
            return claims, key, f"aud {claims.get('aud')!r} is not {self.origin}"
        if not isinstance(claims.get("exp"), int) or not now < claims["exp"] <= now + 24 * 3600:
            return claims, key, "exp is not within the next 24 hours"
        if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
            return claims, key, "sub is not a mailto: or https: URL"
        return claims, key, None


@asynccontextmanager
async def fake_push_service() -> AsyncIterator[FakePushService]:
    service = FakePushService()
    app = web.Application()
    app.router.add_post("/push/{token}", service.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = next(address[1] for address in runner.addresses if isinstance(address, tuple))
    service.origin = f"http://127.0.0.1:{port}"
    try:
        yield service
    finally:
        await runner.cleanup()

"""Who is asking, and over what: the client address and scheme behind a TLS proxy.

A request's forwarded headers (``X-Forwarded-For``, ``X-Forwarded-Proto``, or the standard
``Forwarded``) count only when the connection comes from one of ``web.trusted_proxies``
(addresses or networks); anyone else could write them. From a trusted proxy:

* the client address is the nearest address of the chain that is not itself a trusted proxy
  (read right to left, so a client cannot plant an address in front of the proxy's);
* the scheme is the one the nearest proxy names (``https`` or ``http``).

:func:`forwarded_middleware` puts both on the request (``request.remote``, ``request.secure``)
before any handler runs, so the web-chat and dashboard cookies are ``Secure`` exactly when the
browser's connection is HTTPS, and the rate limits count the client, not the proxy. Every
response to an HTTPS request carries ``Strict-Transport-Security``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from common.errors import BarazaError

if TYPE_CHECKING:
    from aiohttp import web
    from aiohttp.typedefs import Handler, Middleware

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: One year; not ``includeSubDomains``: other sites of the office may live on subdomains.
HSTS = "max-age=31536000"
_SCHEMES = ("http", "https")


class ProxyConfigError(BarazaError, ValueError):
    """A ``trusted_proxies`` entry that is not an address or a network."""


def parse_networks(entries: Iterable[str]) -> tuple[IPNetwork, ...]:
    """``["127.0.0.1", "10.0.0.0/8", "::1"]`` as networks; raises :class:`ProxyConfigError`."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(str(entry).strip(), strict=False))
        except ValueError:
            raise ProxyConfigError(f"{entry!r} is not an IP address or network (such as 10.0.0.0/8)") from None
    return tuple(networks)


def _address(text: str | None) -> IPAddress | None:
    """An address of a forwarded header: ``1.2.3.4``, ``1.2.3.4:80``, ``[::1]:80``, ``::1``."""
    if not text:
        return None
    value = text.strip().strip('"')
    if value.startswith("["):
        value = value[1:].partition("]")[0]
    elif value.count(":") == 1:
        value = value.partition(":")[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _trusted(address: IPAddress | None, trusted: Sequence[IPNetwork]) -> bool:
    return address is not None and any(address in network for network in trusted)


def _client(peer: IPAddress, hops: list[str], trusted: Sequence[IPNetwork]) -> IPAddress:
    """The nearest untrusted address of ``hops`` (client first, as the headers list them)."""
    client = peer
    for hop in reversed(hops):
        if not _trusted(client, trusted):
            break
        address = _address(hop)
        if address is None:  # "unknown", an obfuscated name, garbage: the last sure hop it is
            break
        client = address
    return client


def _forwarded(request: web.BaseRequest) -> tuple[list[str], str | None]:
    """The client chain and the scheme the nearest proxy names, from ``Forwarded`` if sent,
    else from ``X-Forwarded-For`` and ``X-Forwarded-Proto``."""
    if "Forwarded" in request.headers:
        elements = request.forwarded
        hops = [element["for"] for element in elements if "for" in element]
        protos = [element["proto"] for element in elements if "proto" in element]
        return hops, protos[-1].lower() if protos else None
    hops = [hop for header in request.headers.getall("X-Forwarded-For", []) for hop in header.split(",")]
    protos = [p.strip().lower() for h in request.headers.getall("X-Forwarded-Proto", []) for p in h.split(",")]
    return hops, protos[-1] if protos else None


def client_view(request: web.Request, trusted: Sequence[IPNetwork]) -> web.Request:
    """``request`` with the client's address and scheme when it comes from a trusted proxy."""
    peer = _address(request.remote)
    if not trusted or peer is None or not _trusted(peer, trusted):
        return request
    hops, scheme = _forwarded(request)
    changes: dict[str, str] = {}
    client = _client(peer, hops, trusted)
    if client != peer:
        changes["remote"] = str(client)
    if scheme in _SCHEMES and scheme != request.scheme:
        changes["scheme"] = scheme
    return request.clone(**changes) if changes else request  # type: ignore[arg-type]


def forwarded_middleware(trusted: Sequence[IPNetwork]) -> Middleware:
    """The application's first middleware: handlers see the client (see the module's text)."""
    # aiohttp only here: bot.config reads trusted proxies with this module, and commands that
    # serve no web page should not import aiohttp for it.
    from aiohttp import web

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        seen = client_view(request, trusted)
        try:
            response = await handler(seen)
        except web.HTTPException as answer:
            if seen.secure:
                answer.headers.setdefault("Strict-Transport-Security", HSTS)
            raise
        if seen.secure:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response

    return middleware


def client_address(request: web.BaseRequest) -> str:
    """The client's address for rate limits (after :func:`forwarded_middleware`)."""
    return request.remote or "unknown"

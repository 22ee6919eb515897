"""The daemon's one HTTP server (aiohttp): the wallboard, the JSON API, its live stream, and
Prometheus ``/metrics``.

    GET /                      the wallboard page (static files under /static/)
    GET /api/v1/statistics     everything the wallboard shows, as one JSON document
    GET /api/v1/queues         its parts: queues (now and today), agents, today's intervals
    GET /api/v1/agents
    GET /api/v1/intervals
    GET /api/v1/stream         the same document as server-sent events, one per sample
    GET /metrics               Prometheus text format

Everything is read-only. A client on this machine (loopback) needs nothing; any other needs the
bearer token of ``[http] token`` (or ``CTI_HTTP_TOKEN``), as ``Authorization: Bearer T`` or, for
a browser on a wall screen and its event stream, which cannot set headers, ``?token=T``. A
proxy in front on this machine makes every client look local: it must check them itself.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from cti.config import HttpModel
from cti.metrics import metrics_registry, render
from cti.wallboard import STATIC
from cti.web.live import LiveFeed

if TYPE_CHECKING:
    from cti.runtime import Runtime

__all__ = ["FEED", "build_app", "is_local", "serve_http"]

log = logging.getLogger("cti.web")

FEED = web.AppKey("feed", LiveFeed)
_TOKEN = web.AppKey("token", str)
#: An open stream with nothing new says so this often, so proxies and browsers keep it.
KEEPALIVE_S = 15.0
#: How long a browser waits before reconnecting to a stream that closed (a daemon restart).
RETRY_MS = 2000

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_local(remote: str | None) -> bool:
    """Whether a peer address is this machine (IPv4-mapped IPv6 included)."""
    if not remote:
        return False
    try:
        address = ipaddress.ip_address(remote.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _offered_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.query.get("token")


@web.middleware
async def _authorize(request: web.Request, handler: Handler) -> web.StreamResponse:
    if is_local(request.remote):
        return await handler(request)
    expected = request.app.get(_TOKEN)
    offered = _offered_token(request)
    if expected and offered is not None and hmac.compare_digest(offered.encode(),
                                                                 expected.encode()):
        return await handler(request)
    # The reason goes to the client; nothing about the token goes to the log.
    log.info("http: %s %s from %s refused: %s", request.method, request.path, request.remote,
             "no token configured" if not expected else "bad or missing token")
    raise web.HTTPUnauthorized(text="a bearer token is required beyond this machine\n",
                               headers={"WWW-Authenticate": 'Bearer realm="cti"'})


async def _index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


async def _statistics(request: web.Request) -> web.StreamResponse:
    return web.json_response(request.app[FEED].document())


def _part(name: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        doc = request.app[FEED].document()
        return web.json_response({"at": doc["at"], "site": doc["site"], name: doc[name]})

    return handler


async def _stream(request: web.Request) -> web.StreamResponse:
    feed = request.app[FEED]
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no",  # a proxy in front must not hold events back
    })
    await response.prepare(request)
    box = feed.subscribe()
    try:
        await response.write(f"retry: {RETRY_MS}\n\n".encode())
        while True:
            try:
                item = await asyncio.wait_for(box.get(), KEEPALIVE_S)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            if item is None:  # the daemon stops: the browser reconnects to the next one
                break
            await response.write(b"event: statistics\ndata: " + item + b"\n\n")
    except ConnectionError:  # the browser went away
        pass
    finally:
        feed.unsubscribe(box)
    return response


def build_app(runtime: Runtime, http: HttpModel, feed: LiveFeed) -> web.Application:
    app = web.Application(middlewares=[_authorize])
    app[FEED] = feed
    if http.token:
        app[_TOKEN] = http.token
    registry = metrics_registry(runtime)

    async def metrics(request: web.Request) -> web.StreamResponse:
        return web.Response(body=render(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/", _index)
    app.router.add_get("/api/v1/statistics", _statistics)
    for name in ("queues", "agents", "intervals"):
        app.router.add_get(f"/api/v1/{name}", _part(name))
    app.router.add_get("/api/v1/stream", _stream)
    app.router.add_get("/metrics", metrics)
    app.router.add_static("/static/", STATIC)
    return app


async def serve_http(runtime: Runtime, http: HttpModel, *,
                     started: Callable[[int], None] | None = None) -> None:
    """Serve until cancelled; ``started`` gets the bound port."""
    feed = LiveFeed(runtime, http.sample_s)
    runner = web.AppRunner(build_app(runtime, http, feed), access_log=None,
                           shutdown_timeout=2.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, http.host, http.port)
        await site.start()
        port = int(runner.addresses[0][1])
        if started is not None:
            started(port)
        await feed.prefill()
        await feed.run()
    finally:
        feed.close()  # open streams end, and their browsers reconnect to the next daemon
        await runner.cleanup()

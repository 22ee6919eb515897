"""The daemon's HTTP server: wallboard, JSON API, live stream, Prometheus metrics."""

from cti.web.server import build_app, is_local, serve_http

__all__ = ["build_app", "is_local", "serve_http"]

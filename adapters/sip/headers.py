"""SIP header names and the ordered, case-insensitive header collection of a message.

Names are folded at the edge: a compact form (``v``, ``i``, ``f``...) becomes its full name and a
well-known name gets its usual spelling (``call-id`` → ``Call-ID``), so lookups and the bytes
written back agree whatever a peer sent; an unknown name keeps its spelling. Header lines keep
their order, and a comma-joined line stays one line: ``values`` splits the headers whose grammar
is a list (RFC 3261 §7.3.1), ``get_all`` gives the lines as they came.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from adapters.sip.header_values import is_token, split_list

__all__ = ["COMPACT_FORMS", "LIST_HEADERS", "SINGLE_HEADERS", "Headers", "canonical_name"]

# RFC 3261 §7.3.3 and the IANA SIP parameters registry.
COMPACT_FORMS = {
    "a": "Accept-Contact",
    "b": "Referred-By",
    "c": "Content-Type",
    "d": "Request-Disposition",
    "e": "Content-Encoding",
    "f": "From",
    "i": "Call-ID",
    "j": "Reject-Contact",
    "k": "Supported",
    "l": "Content-Length",
    "m": "Contact",
    "n": "Identity-Info",
    "o": "Event",
    "r": "Refer-To",
    "s": "Subject",
    "t": "To",
    "u": "Allow-Events",
    "v": "Via",
    "x": "Session-Expires",
    "y": "Identity",
}

_WELL_KNOWN = [
    "Accept", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow", "Authorization",
    "Call-ID", "Call-Info", "Contact", "Content-Disposition", "Content-Encoding",
    "Content-Language", "Content-Length", "Content-Type", "CSeq", "Date", "Error-Info",
    "Expires", "From", "In-Reply-To", "Max-Forwards", "Min-Expires", "MIME-Version",
    "Organization", "Path", "Priority", "Proxy-Authenticate", "Proxy-Authorization",
    "Proxy-Require", "Reason", "Record-Route", "Reply-To", "Require", "Retry-After", "Route",
    "RSeq", "RAck", "Server", "Service-Route", "Subject", "Supported", "Timestamp", "To",
    "Unsupported", "User-Agent", "Via", "Warning", "WWW-Authenticate", "P-Asserted-Identity",
    "Privacy", "Diversion", "History-Info", *COMPACT_FORMS.values(),
]
_CANONICAL = {name.lower(): name for name in _WELL_KNOWN} | COMPACT_FORMS

#: Headers whose grammar is a comma-separated list, so that one line may carry several values.
LIST_HEADERS = frozenset(name.lower() for name in [
    "Accept", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow", "Allow-Events",
    "Call-Info", "Contact", "Content-Encoding", "Content-Language", "Error-Info",
    "In-Reply-To", "Path", "Proxy-Require", "Record-Route", "Require", "Route",
    "Service-Route", "Supported", "Unsupported", "Via", "P-Asserted-Identity", "History-Info",
    "Diversion",
])
#: Headers a message may carry at most once (RFC 4475 §3.3.9 sends two of them).
SINGLE_HEADERS = frozenset(name.lower() for name in [
    "Call-ID", "CSeq", "From", "To", "Max-Forwards", "Content-Length", "Content-Type",
])


def canonical_name(name: str) -> str:
    return _CANONICAL.get(name.lower(), name)


def _check(name: str, value: str) -> None:
    if not is_token(name):
        raise ValueError(f"not a header name: {name!r}")
    if any(c in "\r\n\0" for c in value):
        raise ValueError(f"header {name} holds a line break or NUL")


class Headers:
    """Header lines in order, looked up by any spelling of their name (compact forms too)."""

    __slots__ = ("_index", "_items")

    def __init__(self, items: Iterable[tuple[str, str]] = (), *, checked: bool = False) -> None:
        """``items`` are ``(name, value)`` pairs; names are folded to their canonical spelling.
        A value must not hold a line break (``ValueError``); the parser, which has already
        checked, passes ``checked=True``."""
        pairs: list[tuple[str, str]] = []
        index: dict[str, list[str]] = {}
        for name, value in items:
            if not checked:
                _check(name, value)
            full = _CANONICAL.get(name.lower(), name)
            pairs.append((full, value))
            index.setdefault(full.lower(), []).append(value)
        self._items = tuple(pairs)
        self._index = index

    @property
    def items(self) -> tuple[tuple[str, str], ...]:
        return self._items

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first line's value."""
        found = self._index.get(_CANONICAL.get(name.lower(), name).lower())
        return found[0] if found else default

    def get_all(self, name: str) -> list[str]:
        """Every line's value, as written."""
        return list(self._index.get(_CANONICAL.get(name.lower(), name).lower(), ()))

    def values(self, name: str) -> list[str]:
        """Every value: the lines of a list header split at their commas."""
        key = _CANONICAL.get(name.lower(), name).lower()
        lines = self._index.get(key, ())
        if key not in LIST_HEADERS:
            return list(lines)
        out: list[str] = []
        for line in lines:
            out += split_list(line)
        return out

    def count(self, name: str) -> int:
        return len(self._index.get(_CANONICAL.get(name.lower(), name).lower(), ()))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and \
            _CANONICAL.get(name.lower(), name).lower() in self._index

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Headers) and self._items == other._items

    def __hash__(self) -> int:
        return hash(self._items)

    def __repr__(self) -> str:
        return f"Headers({list(self._items)!r})"

    def replace(self, name: str, values: Iterable[str]) -> Headers:
        """A copy with every line of ``name`` replaced by one line per value, where the first
        line was (or at the end)."""
        full = canonical_name(name)
        key = full.lower()
        new = [(full, v) for v in values]
        out: list[tuple[str, str]] = []
        for item in self._items:
            if item[0].lower() == key:
                out += new
                new = []
            else:
                out.append(item)
        return Headers(out + new)

    def remove(self, name: str) -> Headers:
        return self.replace(name, ())

    def append(self, name: str, value: str) -> Headers:
        return Headers((*self._items, (name, value)))

"""The SIP adapter's remote-protocol error.

A malformed request may still be answerable: RFC 3261 §8.2 wants a 400 wherever a response can
reach the sender, and a client matches that response by its top Via's branch and its CSeq
(§17.1.3), so those two are what "answerable" needs. The error therefore carries what parsed
before things went wrong; ``responses.error_response`` turns it into the answer, and a caller
that gets ``None`` there drops the message and counts it.
"""

from __future__ import annotations

from cti.core import RemoteProtocolError

__all__ = ["SipProtocolError"]


class SipProtocolError(RemoteProtocolError):
    """A peer sent something RFC 3261 does not allow.

    - ``detail``: what was wrong, for logs and for the ``Warning`` of the answer;
    - ``status``: the answer it deserves (400; 505 for another SIP version; 513 over a limit);
    - ``is_request``: ``True``/``False`` once the start line was recognised, else ``None``;
    - ``method``: the request's method when the start line parsed;
    - ``headers``: the header lines that parsed, as ``(canonical name, value)`` pairs;
    - ``can_respond``: a request (not an ACK) whose top Via parsed and whose CSeq is present.
    """

    def __init__(self, detail: str, *, status: int = 400, is_request: bool | None = None,
                 method: str | None = None, headers: tuple[tuple[str, str], ...] = (),
                 can_respond: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.is_request = is_request
        self.method = method
        self.headers = headers
        self.can_respond = can_respond

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (canonical spelling, any case) that parsed."""
        low = name.lower()
        for key, value in self.headers:
            if key.lower() == low:
                return value
        return None

    def header_values(self, name: str) -> list[str]:
        low = name.lower()
        return [value for key, value in self.headers if key.lower() == low]

"""Where the Prefect API is, and why a request to it failed (without importing Prefect).

Failure reasons are written here from the status code and the server's own explanation, never
from an exception's text: Prefect's errors quote the whole request body, job variables and all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

TRANSIENT_STATUS = frozenset({408, 429})
SERVER_ERROR = 500
SHOWN_VALIDATION_ERRORS = 3


@dataclass(frozen=True)
class Connection:
    """Where the Prefect API is and the key that opens it (never printed)."""

    url: str
    key: str | None = field(default=None, repr=False)

    @property
    def headers(self) -> dict[str, str]:
        """Headers of a plain HTTP request to this API."""
        return {"Authorization": f"Bearer {self.key}"} if self.key else {}


@dataclass(frozen=True)
class Failure:
    """Why one request failed and whether trying again may help."""

    reason: str
    transient: bool
    unreachable: bool = False


def describe(error: BaseException, url: str, timeout: float, connected: bool = True) -> Failure:
    """A one-line reason for a failed request, and whether it is worth retrying.

    A connection refused before the API ever answered is not retried: it is a wrong address or
    a server that is not running, and waiting would only delay the message (as in Prefect's
    own client). Once it has answered, a refusal is a restart, and worth waiting for.
    """
    if isinstance(error, httpx.HTTPStatusError):
        status = error.response.status_code
        transient = status >= SERVER_ERROR or status in TRANSIENT_STATUS
        return Failure(f"HTTP {status} from {url}: {server_reason(error.response)}", transient)
    if isinstance(error, httpx.TimeoutException):
        return Failure(f"no answer from {url} within {timeout:g} s", True, unreachable=True)
    if isinstance(error, httpx.ConnectError | ConnectionError):
        reason = f"cannot connect to {url} ({error or 'refused'})"
        if not connected:
            reason += "; check PREFECT_API_URL and that the server is running"
        return Failure(reason, connected, unreachable=True)
    if isinstance(error, httpx.TransportError | OSError):
        return Failure(f"connection to {url} dropped ({type(error).__name__})", True)
    return Failure(f"request to {url} failed ({type(error).__name__})", False)


def server_reason(response: httpx.Response) -> str:
    """The server's own explanation of an error answer, without the values it echoes back."""
    try:
        document = response.json()
    except ValueError:
        return response.reason_phrase or "no reason given"
    if not isinstance(document, dict):
        return response.reason_phrase or "no reason given"
    if isinstance(document.get("detail"), str):
        return str(document["detail"])
    details = document.get("exception_detail") or document.get("detail")
    if isinstance(details, list):
        shown = details[:SHOWN_VALIDATION_ERRORS]
        return "; ".join(_validation_message(item) for item in shown)
    return str(document.get("exception_message") or response.reason_phrase or "no reason given")


def _validation_message(item: object) -> str:
    """`location: message` of one validation error, leaving out the rejected input."""
    if not isinstance(item, dict):
        return "invalid request"
    location = ".".join(str(part) for part in item.get("loc", []) if part != "body")
    return f"{location}: {item.get('msg', 'invalid')}" if location else str(item.get("msg"))

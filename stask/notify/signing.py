"""The one HMAC scheme for webhooks, both ways.

``X-Stask-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">`` with
``X-Stask-Timestamp: <Unix seconds>``. Signing the timestamp with the body lets a receiver
refuse replays: a signature is only good for :data:`TOLERANCE_SECONDS` around its timestamp.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

SIGNATURE_HEADER = "X-Stask-Signature"
TIMESTAMP_HEADER = "X-Stask-Timestamp"
EVENT_HEADER = "X-Stask-Event"
#: How far a signed timestamp may be from the receiver's clock, either way (seconds).
TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The header value for ``body`` sent at ``timestamp`` (Unix seconds)."""
    message = str(int(timestamp)).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """The timestamp and signature headers for a request carrying ``body``."""
    timestamp = int(time.time() if now is None else now)
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature(secret, timestamp, body)}


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> bool:
    """Whether ``headers`` carry a valid, fresh signature of ``body`` (constant-time compare)."""
    raw_timestamp = headers.get(TIMESTAMP_HEADER) or ""
    given = headers.get(SIGNATURE_HEADER) or ""
    if not raw_timestamp.isascii() or not raw_timestamp.isdigit() or len(raw_timestamp) > 12:
        return False
    timestamp = int(raw_timestamp)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), given)

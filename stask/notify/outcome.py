"""What one delivery attempt reports, for both transports (webhook and e-mail).

The delivery log shows a :class:`Response` whatever happened; a failed attempt raises
:class:`DeliveryFailed` carrying it, and says whether another attempt could ever succeed.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..exceptions import StaskError

#: The longest excerpt a delivery log keeps of an answer or an error.
EXCERPT_CHARS = 500


@dataclass(frozen=True)
class Response:
    """The answer of the other side, as the delivery log shows it."""

    #: The HTTP status or SMTP reply code; ``None`` when no answer came (refused, timed out).
    code: int | None
    #: The first characters of the answer body (or the server's message, or the error text).
    excerpt: str


class DeliveryFailed(StaskError):
    """A notification could not be delivered; ``permanent`` says a retry would fail the same way."""

    code = "delivery_failed"
    http_status = 502

    def __init__(self, response: Response, *, permanent: bool = False) -> None:
        self.response = response
        self.permanent = permanent
        shown = f"{response.code}: {response.excerpt}" if response.code is not None else response.excerpt
        super().__init__(shown)


def excerpt(text: str | bytes) -> str:
    """At most :data:`EXCERPT_CHARS` characters; undecodable bytes become replacement characters."""
    if isinstance(text, bytes):
        # Decoding a prefix is enough: 4 bytes per character at most in UTF-8.
        text = text[: EXCERPT_CHARS * 4].decode("utf-8", "replace")
    return text[:EXCERPT_CHARS]


def refused(reason: str) -> DeliveryFailed:
    """A delivery stask will not attempt (bad address, bad configuration): never worth a retry."""
    return DeliveryFailed(Response(None, excerpt(reason)), permanent=True)

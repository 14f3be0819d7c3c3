"""Mail a notification through the SMTP server the alerts use, or write it to a file.

``STASK_EMAIL_BACKEND=smtp`` (the default) talks to ``STASK_ALERT_SMTP_HOST`` (STARTTLS and
login when configured); ``files`` writes each message as an ``.eml`` file under
``<storage>/outbox/`` instead, so a development run shows its mails without a mail server.

A failed attempt raises :class:`~.outcome.DeliveryFailed` with the server's reply code and
message; SMTP's own rule decides whether it is permanent (a 5xx reply) or worth a retry (a 4xx
reply, a network error).
"""

from __future__ import annotations

import os
import re
import secrets
import smtplib
import ssl
from collections.abc import Sequence
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path

from ..settings import Settings
from .outcome import DeliveryFailed, Response, excerpt, refused

__all__ = ["check_addresses", "send_email"]

MAX_RECIPIENTS = 50
#: RFC 5321's limit of a forward path, less the angle brackets.
MAX_ADDRESS_CHARS = 254
MAX_SUBJECT_CHARS = 200
#: Seconds allowed to connect and for each SMTP reply.
DEFAULT_TIMEOUT = 10.0

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
#: An addr-spec with a dot-atom local part (no quoted strings, no comments, ASCII only).
_ADDRESS = re.compile(rf"(?P<local>{_ATOM}(?:\.{_ATOM})*)@(?P<domain>{_LABEL}(?:\.{_LABEL})*)")


def check_addresses(addresses: Sequence[str]) -> list[str]:
    """The recipients, stripped; :class:`ValueError` with a one-line reason when one is not plausible."""
    if isinstance(addresses, str) or not isinstance(addresses, Sequence):
        raise ValueError("recipients must be a list of e-mail addresses")
    if not 1 <= len(addresses) <= MAX_RECIPIENTS:
        raise ValueError(f"give from 1 to {MAX_RECIPIENTS} e-mail addresses")
    out = []
    for raw in addresses:
        if not isinstance(raw, str):
            raise ValueError("each recipient must be an e-mail address (text)")
        if "\r" in raw or "\n" in raw:
            raise ValueError("an e-mail address may not contain line breaks")
        address = raw.strip()
        if len(address) > MAX_ADDRESS_CHARS:
            raise ValueError(f"an e-mail address is too long: at most {MAX_ADDRESS_CHARS} characters")
        match = _ADDRESS.fullmatch(address)
        if match is None or len(match["local"]) > 64:
            raise ValueError(f"{address[:80]!r} is not an e-mail address like name@example.com")
        out.append(address)
    return out


def send_email(
    settings: Settings,
    to: Sequence[str],
    subject: str,
    body: str,
    *,
    outbox: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    tls_context: ssl.SSLContext | None = None,
) -> str:
    """Send one plain-text message; its Message-ID (``smtp``) or the file written (``files``).

    ``outbox`` replaces ``<storage>/outbox`` for the files backend; ``tls_context`` replaces the
    system's trust store for STARTTLS (tests, private CAs).
    """
    try:
        recipients = check_addresses(to)
    except ValueError as exc:
        raise refused(str(exc)) from None
    message = compose(settings, recipients, subject, body)
    if settings.email_backend == "files":
        folder = outbox or (Path(settings.storage) / "outbox" if settings.storage else None)
        if folder is None:
            raise refused("the files e-mail backend needs STASK_STORAGE (or an outbox folder)")
        return str(_write(folder, message))
    _submit(settings, message, recipients, timeout=timeout, tls_context=tls_context)
    return str(message["Message-ID"])


def compose(settings: Settings, to: Sequence[str], subject: str, body: str) -> EmailMessage:
    """The message: one line of subject, a UTF-8 text body, marked as sent by a machine."""
    sender = parseaddr(settings.alert_email_from)[1] or settings.alert_email_from
    message = EmailMessage()
    message["Subject"] = " ".join(subject.split())[:MAX_SUBJECT_CHARS]
    message["From"] = settings.alert_email_from
    message["To"] = ", ".join(to)
    message["Date"] = format_datetime(datetime.now(timezone.utc))
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "stask.localhost")
    # RFC 3834: auto-responders (out of office) must not answer a notification.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    return message


def _write(folder: Path, message: EmailMessage) -> Path:
    """Write ``message`` as ``<UTC time>-<random>.eml``; a reader never sees a half-written file."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    path = folder / f"{stamp}-{secrets.token_hex(4)}.eml"
    partial = folder / f".{path.name}.part"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(bytes(message))
        os.replace(partial, path)
    except OSError as exc:
        raise DeliveryFailed(Response(None, excerpt(f"could not write {path}: {exc}"))) from None
    return path


def _submit(
    settings: Settings,
    message: EmailMessage,
    recipients: list[str],
    *,
    timeout: float,
    tls_context: ssl.SSLContext | None,
) -> None:
    sender = parseaddr(settings.alert_email_from)[1] or settings.alert_email_from
    try:
        with smtplib.SMTP(settings.alert_smtp_host, settings.alert_smtp_port, timeout=timeout) as smtp:
            if settings.alert_smtp_starttls:
                smtp.starttls(context=tls_context or ssl.create_default_context())
            if settings.alert_smtp_user:
                smtp.login(settings.alert_smtp_user, settings.alert_smtp_password)
            partly_refused = smtp.send_message(message, from_addr=sender, to_addrs=recipients)
    except smtplib.SMTPRecipientsRefused as exc:
        code, text = next(iter(exc.recipients.values()))
        raise _replied(code, text, permanent=all(c >= 500 for c, _ in exc.recipients.values())) from None
    except smtplib.SMTPResponseException as exc:
        raise _replied(exc.smtp_code, exc.smtp_error, permanent=exc.smtp_code >= 500) from None
    except smtplib.SMTPNotSupportedError as exc:
        raise refused(f"the SMTP server does not support this: {exc}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(Response(None, excerpt(f"{type(exc).__name__}: {exc}"))) from None
    if partly_refused:
        # Some recipients have the message: another attempt would send it to them twice.
        shown = "; ".join(f"{address}: {code} {_text(text)}" for address, (code, text) in partly_refused.items())
        raise DeliveryFailed(Response(None, excerpt(f"some recipients were refused: {shown}")), permanent=True)


def _replied(code: int, text: bytes | str, *, permanent: bool) -> DeliveryFailed:
    return DeliveryFailed(Response(code, excerpt(_text(text))), permanent=permanent)


def _text(text: bytes | str) -> str:
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)

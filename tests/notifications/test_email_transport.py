"""The e-mail transport against a real local SMTP server (aiosmtpd), and its files backend.

SMTP replies decide the outcome: a 5xx is permanent, a 4xx or a network error is worth a retry,
and the delivery log gets the reply code and the server's words.
"""

from __future__ import annotations

import email.policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from stask.exceptions import InvalidSetting
from stask.notify.email import MAX_RECIPIENTS, check_addresses, send_email
from stask.notify.outcome import DeliveryFailed
from stask.settings import Settings
from tests.support.environment import require
from tests.support.receivers import SmtpReceiver, client_context, make_certificate, server_context

BODY = "Task #42 csv_export.export failed.\n\nError: naïve ünïcode\n"


def test_a_message_reaches_the_smtp_server(smtp_receiver: SmtpReceiver) -> None:
    """STARTTLS off, no login: the default settings of a local relay."""
    settings = smtp_receiver.settings(STASK_ALERT_EMAIL_FROM="stask <stask@example.com>")

    message_id = send_email(settings, ["ops@example.com", " dev@example.org "], "[stask] Task #42 failed ✗", BODY)

    [received] = smtp_receiver.messages
    assert received.mail_from == "stask@example.com"
    assert received.rcpt_tos == ["ops@example.com", "dev@example.org"]
    assert received.login is None
    message = received.message
    assert message["Subject"] == "[stask] Task #42 failed ✗"
    assert message["From"] == "stask <stask@example.com>"
    assert message["To"] == "ops@example.com, dev@example.org"
    assert message["Message-ID"] == message_id and message_id.endswith("@example.com>")
    assert message["Auto-Submitted"] == "auto-generated" and message["Date"]
    assert message.get_content_type() == "text/plain"
    assert message.get_content().replace("\r\n", "\n") == BODY  # CRLF on the wire


def test_a_subject_is_one_line_and_cannot_add_headers(smtp_receiver: SmtpReceiver) -> None:
    send_email(smtp_receiver.settings(), ["ops@example.com"], "Hello\r\nBcc: evil@example.net\n" + "x" * 300, "b")

    [received] = smtp_receiver.messages
    assert received.rcpt_tos == ["ops@example.com"]
    assert received.message["Bcc"] is None
    subject = received.message["Subject"]
    assert subject.startswith("Hello Bcc: evil@example.net x") and len(subject) == 200


def test_login_when_a_user_is_set() -> None:
    with SmtpReceiver(users={"mailer": "pa55"}) as receiver:
        settings = receiver.settings(STASK_ALERT_SMTP_USER="mailer", STASK_ALERT_SMTP_PASSWORD="pa55")
        send_email(settings, ["ops@example.com"], "s", "b")
        assert [m.login for m in receiver.messages] == ["mailer"]

        wrong = receiver.settings(STASK_ALERT_SMTP_USER="mailer", STASK_ALERT_SMTP_PASSWORD="guess")
        with pytest.raises(DeliveryFailed) as failed:
            send_email(wrong, ["ops@example.com"], "s", "b")
        assert failed.value.response.code == 535 and failed.value.permanent
        assert len(receiver.messages) == 1


def test_starttls_when_asked(tmp_path: Path) -> None:
    require("openssl", lambda: make_certificate(tmp_path, "probe.localhost"))
    cert, key = make_certificate(tmp_path, "localhost")
    with SmtpReceiver(tls=server_context(cert, key), users={"mailer": "pa55"}) as receiver:
        settings = receiver.settings(
            STASK_ALERT_SMTP_HOST="localhost",
            STASK_ALERT_SMTP_STARTTLS=True,
            STASK_ALERT_SMTP_USER="mailer",
            STASK_ALERT_SMTP_PASSWORD="pa55",
        )
        send_email(settings, ["ops@example.com"], "over TLS", "b", tls_context=client_context(cert))
        assert [m.login for m in receiver.messages] == ["mailer"]


def test_starttls_asked_of_a_server_without_it_is_permanent(smtp_receiver: SmtpReceiver) -> None:
    with pytest.raises(DeliveryFailed) as failed:
        send_email(smtp_receiver.settings(STASK_ALERT_SMTP_STARTTLS=True), ["ops@example.com"], "s", "b")
    assert failed.value.permanent and "STARTTLS" in failed.value.response.excerpt
    assert smtp_receiver.messages == []


def test_a_refused_recipient_is_permanent_with_the_reply() -> None:
    with SmtpReceiver(refuse={"gone@example.com": "550 5.1.1 no such user"}) as receiver:
        with pytest.raises(DeliveryFailed) as failed:
            send_email(receiver.settings(), ["gone@example.com"], "s", "b")
        assert failed.value.response.code == 550 and "no such user" in failed.value.response.excerpt
        assert failed.value.permanent
        assert receiver.messages == []


def test_a_partly_refused_message_is_permanent_not_sent_twice() -> None:
    with SmtpReceiver(refuse={"gone@example.com": "550 5.1.1 no such user"}) as receiver:
        with pytest.raises(DeliveryFailed) as failed:
            send_email(receiver.settings(), ["ops@example.com", "gone@example.com"], "s", "b")
        assert failed.value.permanent and "gone@example.com: 550" in failed.value.response.excerpt
        assert [m.rcpt_tos for m in receiver.messages] == [["ops@example.com"]]


def test_a_temporary_refusal_is_worth_a_retry() -> None:
    with SmtpReceiver(data_reply="451 4.3.0 try again later") as receiver:
        with pytest.raises(DeliveryFailed) as failed:
            send_email(receiver.settings(), ["ops@example.com"], "s", "b")
        assert failed.value.response.code == 451 and "try again later" in failed.value.response.excerpt
        assert not failed.value.permanent


def test_no_server_is_worth_a_retry(smtp_receiver: SmtpReceiver) -> None:
    settings = smtp_receiver.settings()
    smtp_receiver.stop()
    with pytest.raises(DeliveryFailed) as failed:
        send_email(settings, ["ops@example.com"], "s", "b", timeout=2)
    assert failed.value.response.code is None and failed.value.response.excerpt
    assert not failed.value.permanent


def test_bad_recipients_are_refused_before_connecting(smtp_receiver: SmtpReceiver) -> None:
    with pytest.raises(DeliveryFailed) as failed:
        send_email(smtp_receiver.settings(), ["not an address"], "s", "b")
    assert failed.value.permanent and "not an e-mail address" in failed.value.response.excerpt
    assert smtp_receiver.messages == []


# -- the files backend -------------------------------------------------------------------------------
def read_eml(path: Path) -> Any:
    with path.open("rb") as handle:
        return BytesParser(policy=email.policy.default).parse(handle)


def test_the_files_backend_writes_a_parseable_eml_under_the_storage(make_app: Any) -> None:
    app: Flask = make_app(STASK_EMAIL_BACKEND="files", STASK_ALERT_SMTP_PORT=1)  # nothing listens on 1
    settings = app.extensions["stask.runtime"].settings

    written = Path(send_email(settings, ["ops@example.com"], "Task failed", BODY))

    assert written.parent == Path(settings.storage) / "outbox" and written.suffix == ".eml"
    assert [p.name for p in written.parent.iterdir()] == [written.name]  # no partial file left behind
    message = read_eml(written)
    assert (message["Subject"], message["To"], message.get_content()) == ("Task failed", "ops@example.com", BODY)


def test_the_outbox_argument_overrides_the_folder(tmp_path: Path) -> None:
    settings = Settings.from_config({"STASK_EMAIL_BACKEND": "files", "STASK_STORAGE": str(tmp_path / "s")}, environ={})

    first = Path(send_email(settings, ["a@example.com"], "one", "1", outbox=tmp_path / "mails"))
    second = Path(send_email(settings, ["a@example.com"], "two", "2", outbox=tmp_path / "mails"))

    assert first.parent == second.parent == tmp_path / "mails" and first != second
    assert sorted(read_eml(p)["Subject"] for p in (first, second)) == ["one", "two"]
    assert not (tmp_path / "s").exists()


# -- settings ----------------------------------------------------------------------------------------
def test_the_notification_settings_default_and_parse() -> None:
    defaults = Settings.from_config({}, environ={})
    assert (defaults.email_backend, defaults.webhook_allow_private) == ("smtp", False)
    given = Settings.from_config({}, environ={"STASK_EMAIL_BACKEND": "files", "STASK_WEBHOOK_ALLOW_PRIVATE": "yes"})
    assert (given.email_backend, given.webhook_allow_private) == ("files", True)


@pytest.mark.parametrize(
    ("environ", "key"),
    [({"STASK_EMAIL_BACKEND": "pigeon"}, "STASK_EMAIL_BACKEND"), ({"STASK_WEBHOOK_ALLOW_PRIVATE": "maybe"}, "")],
)
def test_bad_notification_settings_are_refused_at_start_up(environ: dict[str, str], key: str) -> None:
    with pytest.raises(InvalidSetting, match=key or "STASK_WEBHOOK_ALLOW_PRIVATE"):
        Settings.from_config({}, environ=environ)


# -- addresses ---------------------------------------------------------------------------------------
def test_check_addresses_accepts_plausible_addresses() -> None:
    given = ["ops@example.com", " first.last+tag@sub.example.co.uk ", "o'brien@localhost"]
    assert check_addresses(given) == ["ops@example.com", "first.last+tag@sub.example.co.uk", "o'brien@localhost"]


@pytest.mark.parametrize(
    ("addresses", "reason"),
    [
        ([], "from 1 to 50"),
        (["a@example.com"] * (MAX_RECIPIENTS + 1), "from 1 to 50"),
        ("ops@example.com", "a list"),
        ([5], "text"),
        (["no-at-sign"], "not an e-mail address"),
        (["Ops <ops@example.com>"], "not an e-mail address"),
        (["ops@example.com\r\nBcc: x@example.net"], "line breaks"),
        (["ops@example.com\n"], "line breaks"),
        (["a..b@example.com"], "not an e-mail address"),
        ([".a@example.com"], "not an e-mail address"),
        (["a@-example.com"], "not an e-mail address"),
        (["a@example..com"], "not an e-mail address"),
        (["a@"], "not an e-mail address"),
        (["@example.com"], "not an e-mail address"),
        (["a" * 65 + "@example.com"], "not an e-mail address"),
        (["a@" + "b" * 250 + ".com"], "too long"),
    ],
)
def test_check_addresses_refusals(addresses: Any, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_addresses(addresses)

"""The Notifications pages: the list, the form (the channel's fields, errors next to their inputs,
values kept, the secret never shown back), a rule's page with its delivery log, "send test" and
"redeliver", escaping, CSRF and the read-only role."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from stask.models import Notification
from tests.notifications.rules_support import (
    add_delivery,
    audit_actions,
    count,
    rule_row,
)
from tests.support.api import AUTH_CONFIG, READONLY_PASSWORD, login
from tests.support.receivers import Answer, WebhookReceiver

XSS = "<script>alert('x')</script>"
SECRET = "top-secret-value-42"


@pytest.fixture
def panel_app(make_app: Callable[..., Flask]) -> Flask:
    return make_app("sqlite", discover=True, STASK_WEBHOOK_ALLOW_PRIVATE=True, **AUTH_CONFIG)


def signed_in(app: Flask, password: str | None = None) -> tuple[FlaskClient, str]:
    client = app.test_client()
    token = login(client) if password is None else login(client, password)
    return client, token


def stored(app: Flask, **fields: Any) -> int:
    rule = {"name": "hook", "events": ["failed"], "channel": "webhook", "url": "https://example.com/h", **fields}
    with app.app_context():
        rule_id = app.extensions["stask"].service.notifications.create(rule, created_by="test").id
        app.extensions["stask"].db.session.remove()
    return int(rule_id)


def form(token: str, **fields: Any) -> dict[str, Any]:
    """What the browser posts: both channels' inputs (the hidden ones too), the chosen channel."""
    values: dict[str, Any] = {
        "csrf_token": token,
        "name": "mail ops",
        "identifier": "",
        "action": "",
        "events": ["failed", "stuck"],
        "channel": "email",
        "to": "ops@example.com\nlead@example.com",
        "subject": "",
        "body": "",
        "url": "",
        "secret": "",
        "headers": "",
        "format": "json",
        "language": "",
        "enabled": "1",
    }
    values.update(fields)
    return {key: value for key, value in values.items() if value is not None}


def test_pages_render_escape_and_never_show_a_secret(panel_app: Flask) -> None:
    rule_id = stored(panel_app, name=XSS, secret=SECRET, headers={"X-Note": XSS})
    add_delivery(panel_app, rule_id, status="failed", response_code=500, response_excerpt=XSS, error=XSS)
    client, _ = signed_in(panel_app)
    for url in (
        "/stask/notifications",
        f"/stask/notifications/{rule_id}",
        f"/stask/notifications/{rule_id}/edit",
        "/stask/notifications/new",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert XSS not in response.text and SECRET not in response.text, url
    listing = client.get("/stask/notifications").text
    assert "&lt;script&gt;" in listing and 'href="/stask/notifications"' in listing  # the nav link
    assert "example.com" in listing and "/h" not in listing.split("example.com", 1)[1][:3]  # the host only
    page = client.get(f"/stask/notifications/{rule_id}").text
    assert "X-Note" in page and "yes, with a secret" in page and "Redeliver" in page
    assert "A secret is set" in client.get(f"/stask/notifications/{rule_id}/edit").text


def test_create_an_email_rule_from_the_form(panel_app: Flask) -> None:
    client, token = signed_in(panel_app)
    assert 'id="nf-channel-email"' in client.get("/stask/notifications/new").text
    response = client.post(
        "/stask/notifications/new",
        data=form(token, identifier="echo", action="say", subject="{{ event }}", url="https://ignored.example"),
    )
    assert response.status_code == 303, response.text
    [rule] = [rule_row(panel_app, 1)]
    assert (rule.name, rule.identifier, rule.action, rule.events, rule.channel) == (
        "mail ops",
        "echo",
        "say",
        ["failed", "stuck"],
        "email",
    )
    assert (rule.recipients, rule.subject_template, rule.url, rule.enabled) == (
        ["ops@example.com", "lead@example.com"],
        "{{ event }}",
        None,  # the webhook's inputs were hidden: not sent to the service
        True,
    )
    assert rule.created_by and rule.created_by.startswith("session:")
    assert response.headers["Location"].endswith(f"/stask/notifications/{rule.id}")
    assert audit_actions(panel_app) == [("auth.login", None), ("notification.create", f"notification:{rule.id}")]


def test_form_errors_stand_next_to_their_inputs_and_values_are_kept(panel_app: Flask) -> None:
    client, token = signed_in(panel_app)
    response = client.post(
        "/stask/notifications/new",
        data=form(token, name="kept name", to="nobody", identifier="ghost", events=None, secret=SECRET),
    )
    assert response.status_code == 400
    page = response.text
    for field in ("to", "identifier", "events"):
        assert f'id="nf-{field}-error"' in page, field
    assert 'value="kept name"' in page and ">nobody</textarea>" in page
    assert SECRET not in page
    assert count(panel_app, Notification) == 0
    hook = client.post(
        "/stask/notifications/new", data=form(token, channel="webhook", headers="no colon here", secret=SECRET)
    )
    assert hook.status_code == 400 and 'id="nf-headers-error"' in hook.text and SECRET not in hook.text
    assert 'id="nf-url-error"' not in hook.text  # the panel's own parse error comes first
    missing = client.post("/stask/notifications/new", data=form(token, channel="webhook"))
    assert 'id="nf-url-error"' in missing.text and 'id="nf-channel-webhook" name="channel" value="webhook" checked' in (
        missing.text
    )
    stored(panel_app, name="taken")
    taken = client.post("/stask/notifications/new", data=form(token, name="taken"))
    assert taken.status_code == 400 and "Another rule has this name." in taken.text
    assert count(panel_app, Notification) == 1


def test_the_secret_input_keeps_replaces_or_clears(panel_app: Flask) -> None:
    rule_id = stored(panel_app, secret=SECRET, headers={"X-A": "b"})
    client, token = signed_in(panel_app)
    edit = f"/stask/notifications/{rule_id}/edit"
    webhook = {"channel": "webhook", "url": "https://example.com/h", "to": "", "headers": "X-A: b\nX-C: d"}
    assert client.post(edit, data=form(token, name="hook", **webhook)).status_code == 303
    row = rule_row(panel_app, rule_id)
    assert row.secret == SECRET and row.headers == {"X-A": "b", "X-C": "d"}  # empty input: kept
    assert client.post(edit, data=form(token, name="hook", secret="newer", **webhook)).status_code == 303
    assert rule_row(panel_app, rule_id).secret == "newer"
    assert client.post(edit, data=form(token, name="hook", secret_clear="1", **webhook)).status_code == 303
    assert rule_row(panel_app, rule_id).secret is None
    assert "A secret is set" not in client.get(edit).text


def test_switching_a_rule_to_email_in_the_form(panel_app: Flask) -> None:
    rule_id = stored(panel_app, secret=SECRET)
    client, token = signed_in(panel_app)
    response = client.post(f"/stask/notifications/{rule_id}/edit", data=form(token, name="hook", to="a@example.com"))
    assert response.status_code == 303, response.text
    row = rule_row(panel_app, rule_id)
    assert (row.channel, row.recipients, row.url, row.secret) == ("email", ["a@example.com"], None, None)


def test_delete_from_the_list(panel_app: Flask) -> None:
    rule_id = stored(panel_app)
    add_delivery(panel_app, rule_id)
    client, token = signed_in(panel_app)
    response = client.post(f"/stask/notifications/{rule_id}/delete", data={"csrf_token": token})
    assert response.status_code == 303 and count(panel_app, Notification) == 0
    assert ("notification.delete", f"notification:{rule_id}") in audit_actions(panel_app)


def test_the_delivery_log_filters_and_swaps_in_place(panel_app: Flask) -> None:
    rule_id = stored(panel_app, events=["failed", "finished"])
    add_delivery(panel_app, rule_id, minutes_ago=5, status="failed", response_code=503, response_excerpt="x" * 300)
    add_delivery(panel_app, rule_id, minutes_ago=1, event="finished", task_id=9)
    client, _ = signed_in(panel_app)
    page = client.get(f"/stask/notifications/{rule_id}").text
    assert page.index('href="/stask/tasks/9"') < page.index("503")  # newest first
    assert page.count("x" * 300) == 1 and "x" * 79 + "…</code>" in page  # a short excerpt; the whole one is its title
    failed = client.get(f"/stask/notifications/{rule_id}?status=failed", headers={"HX-Request": "true"})
    assert failed.text.lstrip().startswith('<div id="delivery-log">') and "<html" not in failed.text
    assert "503" in failed.text and "/stask/tasks/9" not in failed.text
    assert client.get(f"/stask/notifications/{rule_id}?status=nonsense").status_code == 200  # ignored
    assert client.get("/stask/notifications/999").status_code == 404


def test_read_only_sees_no_controls_and_its_posts_are_refused(panel_app: Flask) -> None:
    rule_id = stored(panel_app)
    delivery_id = add_delivery(panel_app, rule_id)
    client, token = signed_in(panel_app, READONLY_PASSWORD)
    listing = client.get("/stask/notifications").text
    assert "New rule" not in listing and "Send test" not in listing
    assert "Redeliver" not in client.get(f"/stask/notifications/{rule_id}").text
    for url in (
        "/stask/notifications/new",
        f"/stask/notifications/{rule_id}/edit",
        f"/stask/notifications/{rule_id}/delete",
        f"/stask/notifications/{rule_id}/test",
        f"/stask/deliveries/{delivery_id}/redeliver",
    ):
        assert client.post(url, data=form(token)).status_code == 403, url
    assert count(panel_app, Notification) == 1
    assert [action for action, _ in audit_actions(panel_app)] == ["auth.login"]


def test_posts_need_the_csrf_token_and_anonymous_visitors_sign_in(panel_app: Flask) -> None:
    rule_id = stored(panel_app)
    client, _ = signed_in(panel_app)
    assert client.post(f"/stask/notifications/{rule_id}/delete", data={}).status_code == 403
    assert client.post("/stask/notifications/new", data=form("wrong")).status_code == 403
    assert count(panel_app, Notification) == 1
    anonymous = panel_app.test_client().get("/stask/notifications", headers={"Accept": "text/html"})
    assert anonymous.status_code in (302, 303) and "/stask/login" in anonymous.headers["Location"]


def test_send_test_shows_the_receivers_answer_escaped(panel_app: Flask) -> None:
    client, token = signed_in(panel_app)
    with WebhookReceiver(Answer(202, XSS.encode())) as receiver:
        rule_id = stored(panel_app, url=receiver.url())
        htmx = client.post(
            f"/stask/notifications/{rule_id}/test", data={"csrf_token": token}, headers={"HX-Request": "true"}
        )
        assert htmx.status_code == 200 and "202" in htmx.text and "<html" not in htmx.text
        assert XSS not in htmx.text and "&lt;script&gt;" in htmx.text
        plain = client.post(f"/stask/notifications/{rule_id}/test", data={"csrf_token": token, "back": "rule"})
        assert plain.status_code == 303 and plain.headers["Location"].endswith(f"/stask/notifications/{rule_id}")
        assert "202" in client.get(plain.headers["Location"]).text
        assert len(receiver.requests) == 2
    assert [a for a, _ in audit_actions(panel_app)].count("notification.test") == 2


def test_redeliver_swaps_the_row(panel_app: Flask) -> None:
    rule_id = stored(panel_app)
    delivery_id = add_delivery(panel_app, rule_id, status="failed", response_code=500)
    client, token = signed_in(panel_app)
    row = client.post(
        f"/stask/deliveries/{delivery_id}/redeliver", data={"csrf_token": token}, headers={"HX-Request": "true"}
    )
    assert row.status_code == 200 and row.text.lstrip().startswith(f'<tr id="delivery-{delivery_id}">')
    assert "pending" in row.text
    assert ("delivery.redeliver", f"delivery:{delivery_id}") in audit_actions(panel_app)

"""The Triggers pages: list, create (the URL and token shown once), a trigger's page with its last
calls, the enabled switch, rotate and revoke behind CSRF, escaping, and the read-only role."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from stask.models import Trigger
from tests.support.api import READONLY_PASSWORD, login
from tests.triggers.helpers import TRIGGER_CONFIG, call, count, create_trigger, rows

XSS = "<script>alert('x')</script>"


@pytest.fixture
def panel_app(make_app: Callable[..., Flask]) -> Flask:
    return make_app("sqlite", discover=True, **TRIGGER_CONFIG)


def signed_in(app: Flask, password: str | None = None) -> tuple[FlaskClient, str]:
    client = app.test_client()
    token = login(client) if password is None else login(client, password)
    return client, token


def shown_token(page: str) -> str:
    """The token on the page that answers a create or a rotation."""
    found = re.search(r'id="issued-token" class="secret-value" readonly value="([A-Za-z0-9_-]{43})"', page)
    assert found, page
    return found.group(1)


def test_pages_render_and_escape_names(panel_app: Flask) -> None:
    client, _ = signed_in(panel_app)
    created = create_trigger(panel_app.test_client(), name=XSS)
    assert call(client, created["token"], {"title": 5}).status_code == 400
    assert client.get("/stask/triggers/new").status_code == 200
    for url in ("/stask/triggers", f"/stask/triggers/{created['id']}"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert XSS not in response.text and "&lt;script&gt;" in response.text, url
        assert created["token"] not in response.text, url
    listing = client.get("/stask/triggers").text
    assert 'href="/stask/triggers"' in listing and 'aria-current="page"' in listing  # the nav link, active
    page = client.get(f"/stask/triggers/{created['id']}").text
    assert "data.title" in page and ">400<" in page  # the refused call and its reason
    assert f"…/hooks/{created['token'][:6]}…" in page


def test_create_shows_the_url_and_token_once(panel_app: Flask) -> None:
    client, csrf = signed_in(panel_app)
    form = client.get("/stask/triggers/new").text
    assert 'value="action:report:build"' in form and 'name="rate_limit" value="60"' in form
    response = client.post(
        "/stask/triggers/new",
        data={"csrf_token": csrf, "name": "deploy", "target": "action:report:build", "rate_limit": "5", "signed": "1"},
    )
    assert response.status_code == 201, response.text
    token = shown_token(response.text)
    assert f'value="http://localhost/stask/hooks/{token}"' in response.text
    assert 'id="issued-secret"' in response.text and "only time it is shown" in response.text
    (row,) = rows(panel_app, Trigger)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() and row.signed and row.rate_limit == 5
    assert row.created_by == "panel"
    for url in ("/stask/triggers", f"/stask/triggers/{row.id}"):
        assert token not in client.get(url).text
    assert call(client, token, {}).status_code == 401  # signed: the secret is needed


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": ""}, "tf-name-error"),
        ({"target": "action:ghost:build"}, "tf-target-error"),
        ({"target": "preset:99"}, "tf-target-error"),
        ({"target": "elsewhere"}, "tf-target-error"),
        ({"rate_limit": "0"}, "tf-rate_limit-error"),
        ({"rate_limit": "many"}, "tf-rate_limit-error"),
    ],
)
def test_a_bad_form_is_shown_again_with_its_error_and_stores_nothing(
    panel_app: Flask, fields: dict[str, str], field: str
) -> None:
    client, csrf = signed_in(panel_app)
    data = {"csrf_token": csrf, "name": "deploy", "target": "action:report:build", "rate_limit": "60", **fields}
    response = client.post("/stask/triggers/new", data=data)
    assert response.status_code == 400 and f'id="{field}"' in response.text
    assert count(panel_app, Trigger) == 0


def test_a_taken_name_is_said_under_the_name(panel_app: Flask) -> None:
    client, csrf = signed_in(panel_app)
    create_trigger(panel_app.test_client())
    data = {"csrf_token": csrf, "name": "deploy", "target": "action:echo:say", "rate_limit": "60"}
    response = client.post("/stask/triggers/new", data=data)
    assert response.status_code == 400 and "Another trigger has this name." in response.text


def test_rotate_and_revoke_need_the_csrf_token(panel_app: Flask) -> None:
    client, csrf = signed_in(panel_app)
    created = create_trigger(panel_app.test_client())
    one = f"/stask/triggers/{created['id']}"
    assert client.post(f"{one}/rotate").status_code == 403
    assert client.post(f"{one}/delete").status_code == 403
    assert call(client, created["token"], {}).status_code == 201
    rotated = client.post(f"{one}/rotate", data={"csrf_token": csrf})
    assert rotated.status_code == 200
    token = shown_token(rotated.text)
    assert call(client, created["token"], {}).status_code == 404 and call(client, token, {}).status_code == 201
    revoked = client.post(f"{one}/delete", data={"csrf_token": csrf})
    assert revoked.status_code == 303 and revoked.headers["Location"] == "/stask/triggers"
    assert call(client, token, {}).status_code == 404 and count(panel_app, Trigger) == 0
    assert "revoked" in client.get("/stask/triggers").text


def test_the_switch_swaps_its_row_over_htmx(panel_app: Flask) -> None:
    client, csrf = signed_in(panel_app)
    created = create_trigger(panel_app.test_client())
    url = f"/stask/triggers/{created['id']}/enabled"
    fragment = client.post(url, data={"enabled": "0"}, headers={"HX-Request": "true", "X-CSRF-Token": csrf})
    assert fragment.status_code == 200 and fragment.text.lstrip().startswith(f'<tr id="trigger-{created["id"]}"')
    assert 'aria-checked="false"' in fragment.text
    assert call(client, created["token"], {}).status_code == 404
    plain = client.post(url, data={"enabled": "1", "csrf_token": csrf})
    assert plain.status_code == 303 and call(client, created["token"], {}).status_code == 201


def test_the_settings_form_saves_and_turning_signed_on_shows_the_secret_once(panel_app: Flask) -> None:
    client, csrf = signed_in(panel_app)
    created = create_trigger(panel_app.test_client())
    url = f"/stask/triggers/{created['id']}"
    data = {"csrf_token": csrf, "name": "renamed", "target": "action:echo:say", "rate_limit": "7"}
    saved = client.post(url, data=data)
    assert saved.status_code == 303
    (row,) = rows(panel_app, Trigger)
    assert (row.name, row.identifier, row.action, row.rate_limit, row.signed) == ("renamed", "echo", "say", 7, False)
    signed = client.post(url, data={**data, "signed": "1"})
    assert signed.status_code == 200 and 'id="issued-secret"' in signed.text
    assert 'id="issued-token"' not in signed.text  # the token is unchanged, and unknown to the server
    assert rows(panel_app, Trigger)[0].secret in signed.text
    refused = client.post(url, data={**data, "rate_limit": "0"})
    assert refused.status_code == 400 and 'id="tf-rate_limit-error"' in refused.text


def test_read_only_sees_no_controls_and_its_posts_are_refused(panel_app: Flask) -> None:
    created = create_trigger(panel_app.test_client())
    client, csrf = signed_in(panel_app, READONLY_PASSWORD)
    listing = client.get("/stask/triggers").text
    assert "New trigger" not in listing and 'role="switch"' not in listing
    page = client.get(f"/stask/triggers/{created['id']}").text
    assert "Rotate token" not in page and "Revoke" not in page and 'name="rate_limit"' not in page
    one = f"/stask/triggers/{created['id']}"
    for path in ("/stask/triggers/new", f"{one}/rotate", f"{one}/delete", f"{one}/enabled", one):
        assert client.post(path, data={"csrf_token": csrf, "name": "x"}).status_code == 403, path
    assert count(panel_app, Trigger) == 1 and call(client, created["token"], {}).status_code == 201

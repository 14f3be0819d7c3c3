"""The notification rules' API and service: the contract, a secret never answered, every bad field
named with nothing stored, the channels' cross-field rules, roles, the lists and their filters,
the delivery log, "send test" and "redeliver", and the rules' version moving on each change.
On every database."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from stask.models import Delivery, Notification
from tests.notifications.rules_support import (
    CONTRACT,
    DELIVERY_FIELDS,
    EMAIL,
    WEBHOOK,
    add_delivery,
    audit_actions,
    audit_details,
    count,
    create,
    rule_row,
    rules_version,
    task_rules,
)
from tests.support.api import ADMIN, AUTH_CONFIG, READONLY, error_code
from tests.support.receivers import Answer, WebhookReceiver

URL = "/stask/api/notifications"


@pytest.fixture
def rules_app(backend: str, make_app: Callable[..., Flask]) -> Flask:
    return make_app(backend, discover=True, **AUTH_CONFIG)


@pytest.fixture
def api(rules_app: Flask) -> FlaskClient:
    return rules_app.test_client()


def test_create_read_change_delete_and_the_secret_is_never_answered(api: FlaskClient, rules_app: Flask) -> None:
    created = create(api, WEBHOOK)
    rule = created["notification"]
    assert created["id"] == rule["id"] and set(rule) == CONTRACT
    assert (rule["secret"], rule["secret_set"], rule["format"], rule["enabled"]) == (None, True, "json", True)
    assert (rule["identifier"], rule["action"], rule["headers"], rule["to"]) == ("echo", "say", {"X-Team": "ops"}, None)
    assert rule["created_by"] == "api" and rule["task_id"] is None
    url = f"{URL}/{rule['id']}"
    for answer in (api.get(url, headers=READONLY), api.get(URL, headers=READONLY)):
        assert "s3cret-value" not in answer.get_data(as_text=True)
    assert api.get(url, headers=READONLY).get_json()["notification"] == rule

    kept = api.put(url, json={"enabled": False, "format": "slack"}, headers=ADMIN).get_json()["notification"]
    assert (kept["enabled"], kept["format"], kept["secret_set"], kept["secret"]) == (False, "slack", True, None)
    assert rule_row(rules_app, rule["id"]).secret == "s3cret-value"  # absent: kept
    replaced = api.put(url, json={"secret": "another"}, headers=ADMIN).get_json()["notification"]
    assert replaced["secret"] is None and "another" not in str(replaced)
    assert rule_row(rules_app, rule["id"]).secret == "another"
    cleared = api.put(url, json={"secret": None}, headers=ADMIN).get_json()["notification"]
    assert cleared["secret_set"] is False and rule_row(rules_app, rule["id"]).secret is None

    mail = create(api)["notification"]
    assert (mail["to"], mail["url"], mail["format"], mail["headers"], mail["secret_set"]) == (
        ["ops@example.com"],
        None,
        None,
        None,
        False,
    )
    assert api.delete(url, headers=ADMIN).get_json() == {"success": True, "id": rule["id"]}
    assert error_code(api.get(url, headers=READONLY), 404) == "notification_not_found"
    assert count(rules_app, Notification) == 1
    assert [action for action, _ in audit_actions(rules_app)] == [
        "notification.create",
        "notification.update",
        "notification.update",
        "notification.update",
        "notification.create",
        "notification.delete",
    ]
    assert "s3cret-value" not in str(audit_details(rules_app)) and "another" not in str(audit_details(rules_app))


def test_an_email_rule_with_templates_and_a_language(api: FlaskClient) -> None:
    body = {
        **EMAIL,
        "to": ["a@example.com", "b@example.org"],
        "subject": "{{ task.identifier }} {{ event }}",
        "body": "Task {{ task.id }}\nended.\n",
        "language": "uk",
        "identifier": "echo",
    }
    rule = create(api, body)["notification"]
    assert (rule["to"], rule["subject"], rule["body"], rule["language"]) == (
        ["a@example.com", "b@example.org"],
        body["subject"],
        body["body"],
        "uk",
    )
    assert rule["action"] is None  # any action of echo


def test_an_action_alone_must_be_one_some_worker_has(api: FlaskClient) -> None:
    assert create(api, action="write_file")["notification"]["action"] == "write_file"
    response = api.post(URL, json={**EMAIL, "name": "x", "action": "dance"}, headers=ADMIN)
    assert error_code(response, 400) == "invalid_input" and "action" in response.get_json()["error"]["message"]


BAD_FIELDS = [
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "x" * 121}, "name"),
    ({"name": "tab\there"}, "name"),
    ({"name": "task 3 #1"}, "name"),
    ({"name": None}, "name"),
    ({"identifier": "ghost"}, "identifier"),
    ({"identifier": "Not An Id"}, "identifier"),
    ({"identifier": "echo", "action": "dance"}, "action"),
    ({"action": "a b"}, "action"),
    ({"events": []}, "events"),
    ({"events": ["exploded"]}, "events"),
    ({"events": ["failed", "failed"]}, "events"),
    ({"events": "failed"}, "events"),
    ({"events": None}, "events"),
    ({"events": ["failed", "group_finished"], "identifier": "echo"}, "events"),
    ({"events": ["group_finished"], "action": "say"}, "events"),
    ({"channel": "sms"}, "channel"),
    ({"to": []}, "to"),
    ({"to": ["not-an-address"]}, "to"),
    ({"to": "ops@example.com"}, "to"),
    ({"to": [1]}, "to"),
    ({"to": ["a@example.com", "A@example.com"]}, "to"),
    ({"to": [f"u{n}@example.com" for n in range(51)]}, "to"),
    ({"enabled": "yes"}, "enabled"),
    ({"enabled": None}, "enabled"),
    ({"language": "es"}, "language"),
    ({"subject": "{% if %}"}, "subject"),
    ({"subject": "two\nlines"}, "subject"),
    ({"subject": ""}, "subject"),
    ({"subject": "x" * 201}, "subject"),
    ({"body": "{{ task.id "}, "body"),
    ({"body": "x" * 10_001}, "body"),
    ({"id": 5}, "id"),
    ({"recipients": ["a@example.com"]}, "recipients"),
    ({"task_id": 3}, "task_id"),
    ({"secret_set": True}, "secret_set"),
]
BAD_WEBHOOK_FIELDS = [
    ({"url": "ftp://example.com/x"}, "url"),
    ({"url": "https://exa mple.com/"}, "url"),
    ({"url": "http://127.0.0.1:8000/hook"}, "url"),  # private, without STASK_WEBHOOK_ALLOW_PRIVATE
    ({"url": "http://10.1.2.3/hook"}, "url"),
    ({"url": "https://user:pw@example.com/"}, "url"),
    ({"url": "https://example.com/" + "x" * 2000}, "url"),
    ({"url": None}, "url"),
    ({"secret": ""}, "secret"),
    ({"secret": 5}, "secret"),
    ({"secret": "x" * 256}, "secret"),
    ({"secret": "new\nline"}, "secret"),
    ({"headers": {"Content-Type": "text/plain"}}, "headers"),
    ({"headers": {"X-Stask-Signature": "forged"}}, "headers"),
    ({"headers": {"X-A": "line\nbreak"}}, "headers"),
    ({"headers": {"Bad Name": "x"}}, "headers"),
    ({"headers": ["X-A"]}, "headers"),
    ({"headers": {f"X-{n}": "v" for n in range(21)}}, "headers"),
    ({"format": "xml"}, "format"),
]


@pytest.mark.parametrize(("fields", "field"), BAD_FIELDS)
def test_each_bad_field_is_a_400_naming_it_and_nothing_is_stored(
    api: FlaskClient, rules_app: Flask, fields: dict[str, Any], field: str
) -> None:
    response = api.post(URL, json={**EMAIL, **fields}, headers=ADMIN)
    assert error_code(response, 400) == "invalid_input"
    assert field in response.get_json()["error"]["message"]
    assert count(rules_app, Notification) == 0
    rule_id = create(api)["id"]
    before = api.get(f"{URL}/{rule_id}", headers=ADMIN).get_json()["notification"]
    changed = api.put(f"{URL}/{rule_id}", json=fields, headers=ADMIN)
    assert error_code(changed, 400) == "invalid_input" and field in changed.get_json()["error"]["message"]
    assert api.get(f"{URL}/{rule_id}", headers=ADMIN).get_json()["notification"] == before
    assert [action for action, _ in audit_actions(rules_app)] == ["notification.create"]


@pytest.mark.parametrize(("fields", "field"), BAD_WEBHOOK_FIELDS)
def test_each_bad_webhook_field_is_a_400_naming_it(
    api: FlaskClient, rules_app: Flask, fields: dict[str, Any], field: str
) -> None:
    response = api.post(URL, json={**WEBHOOK, **fields}, headers=ADMIN)
    assert error_code(response, 400) == "invalid_input"
    assert response.get_json()["error"]["message"].startswith(f"{field}: ") or f"; {field}: " in str(
        response.get_json()
    )
    assert count(rules_app, Notification) == 0


def test_a_missing_name_events_or_channel_is_named(api: FlaskClient, rules_app: Flask) -> None:
    for field in ("name", "events", "channel"):
        body = {key: value for key, value in EMAIL.items() if key != field}
        response = api.post(URL, json=body, headers=ADMIN)
        assert error_code(response, 400) == "invalid_input" and field in response.get_json()["error"]["message"]
    assert error_code(api.post(URL, headers=ADMIN), 400) == "invalid_input"
    assert error_code(api.post(URL, json=[EMAIL], headers=ADMIN), 400) == "invalid_input"
    assert count(rules_app, Notification) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**EMAIL, "url": "https://example.com/"}, "url"),
        ({**EMAIL, "secret": "x"}, "secret"),
        ({**EMAIL, "headers": {"X-A": "b"}}, "headers"),
        ({**EMAIL, "format": "json"}, "format"),
        ({**WEBHOOK, "to": ["ops@example.com"]}, "to"),
        ({**WEBHOOK, "subject": "hi"}, "subject"),
        ({**WEBHOOK, "body": "hi"}, "body"),
        ({key: value for key, value in EMAIL.items() if key != "to"}, "to"),
        ({key: value for key, value in WEBHOOK.items() if key != "url"}, "url"),
    ],
)
def test_a_channel_needs_its_own_fields_and_refuses_the_others(
    api: FlaskClient, rules_app: Flask, body: dict[str, Any], field: str
) -> None:
    response = api.post(URL, json=body, headers=ADMIN)
    assert error_code(response, 400) == "invalid_input"
    assert response.get_json()["error"]["message"].startswith(f"{field}: "), response.get_json()
    assert count(rules_app, Notification) == 0


def test_null_fields_of_the_other_channel_mean_not_set(api: FlaskClient) -> None:
    body = {**EMAIL, "url": None, "secret": None, "headers": None, "format": None}
    assert create(api, body)["notification"]["url"] is None
    hook = create(api, WEBHOOK, to=None, subject=None, body=None)["notification"]
    assert hook["to"] is None and hook["format"] == "json"


def test_every_bad_field_is_named_at_once(rules_app: Flask, api: FlaskClient) -> None:
    body = {**EMAIL, "url": "https://example.com/", "events": [], "language": "xx", "name": ""}
    message = api.post(URL, json=body, headers=ADMIN).get_json()["error"]["message"]
    for field in ("name", "events", "url", "language"):
        assert f"{field}: " in message, message
    with rules_app.app_context():
        from stask.service.notification_rules import InvalidRule

        with pytest.raises(InvalidRule) as refused:
            rules_app.extensions["stask"].service.notifications.check(body)
        assert list(refused.value.errors) == ["name", "events", "url", "language"]
        assert refused.value.field == "name"
        rules_app.extensions["stask"].db.session.remove()


def test_changing_the_channel_drops_the_old_one_and_needs_the_new_ones(api: FlaskClient, rules_app: Flask) -> None:
    rule = create(api, EMAIL, subject="Hi")["notification"]
    url = f"{URL}/{rule['id']}"
    refused = api.put(url, json={"channel": "webhook"}, headers=ADMIN)
    assert refused.get_json()["error"]["message"].startswith("url: ")
    moved = api.put(url, json={"channel": "webhook", "url": "https://example.com/h"}, headers=ADMIN)
    assert moved.status_code == 200, moved.get_json()
    hook = moved.get_json()["notification"]
    assert (hook["to"], hook["subject"], hook["url"], hook["format"]) == (None, None, "https://example.com/h", "json")
    assert api.put(url, json={"to": ["x@example.com"]}, headers=ADMIN).get_json()["error"]["message"].startswith("to: ")
    back = api.put(url, json={"channel": "email", "to": ["x@example.com"]}, headers=ADMIN).get_json()
    assert back["notification"]["url"] is None and back["notification"]["to"] == ["x@example.com"]


def test_a_change_checks_only_what_it_gives(api: FlaskClient, rules_app: Flask) -> None:
    """A rule stored under other settings (a private address allowed then) can still be switched off."""
    rule_id = create(api, WEBHOOK)["id"]
    with rules_app.app_context():
        db = rules_app.extensions["stask"].db
        db.session.get(Notification, rule_id).url = "http://127.0.0.1:9/hook"  # type: ignore[union-attr]
        db.session.commit()
        db.session.remove()
    assert api.put(f"{URL}/{rule_id}", json={"enabled": False}, headers=ADMIN).status_code == 200
    refused = api.put(f"{URL}/{rule_id}", json={"url": "http://127.0.0.1:9/other"}, headers=ADMIN)
    assert error_code(refused, 400) == "invalid_input"


def test_names_are_unique(api: FlaskClient, rules_app: Flask) -> None:
    create(api)
    assert error_code(api.post(URL, json=EMAIL, headers=ADMIN), 409) == "notification_name_taken"
    other = create(api, name="other")["id"]
    assert error_code(api.put(f"{URL}/{other}", json={"name": "ops mail"}, headers=ADMIN), 409)
    assert api.put(f"{URL}/{other}", json={"name": "  other  "}, headers=ADMIN).get_json()["notification"]["name"] == (
        "other"
    )
    assert count(rules_app, Notification) == 2


def test_roles_read_only_reads_and_anonymous_gets_nothing(api: FlaskClient, rules_app: Flask) -> None:
    assert error_code(api.post(URL, json=EMAIL, headers=READONLY), 403) == "forbidden"
    rule_id = create(api)["id"]
    delivery_id = add_delivery(rules_app, rule_id)
    for method, path in (
        ("put", f"{URL}/{rule_id}"),
        ("delete", f"{URL}/{rule_id}"),
        ("post", f"{URL}/{rule_id}/test"),
        ("post", f"/stask/api/deliveries/{delivery_id}/redeliver"),
    ):
        assert error_code(getattr(api, method)(path, json={}, headers=READONLY), 403) == "forbidden", path
    for path in (URL, f"{URL}/{rule_id}", f"{URL}/{rule_id}/deliveries", "/stask/api/deliveries"):
        assert api.get(path, headers=READONLY).status_code == 200, path
        assert error_code(api.get(path), 401) == "unauthorized", path
    assert error_code(api.post(URL, json=EMAIL), 401) == "unauthorized"
    assert count(rules_app, Notification) == 1 and count(rules_app, Delivery) == 1
    assert [action for action, _ in audit_actions(rules_app)] == ["notification.create"]


def test_lists_filter_and_keep_a_tasks_rules_apart(api: FlaskClient, rules_app: Flask) -> None:
    mail = create(api, name="b mail")["id"]
    hook = create(api, WEBHOOK, name="a hook")["id"]
    off = create(api, WEBHOOK, name="c off", identifier="flaky", action=None, enabled=False)["id"]
    task_rules(rules_app, 42, ["someone@example.com", {"url": "https://example.com/t", "events": ["stuck"]}])

    def ids(query: str = "") -> list[int]:
        answer = api.get(f"{URL}?{query}", headers=READONLY)
        assert answer.status_code == 200, answer.get_json()
        return [item["id"] for item in answer.get_json()["items"]]

    assert ids() == [hook, mail, off]  # by name; a task's rules are not listed
    assert ids("channel=webhook") == [hook, off] and ids("channel=email") == [mail]
    assert ids("enabled=false") == [off] and ids("enabled=true") == [hook, mail]
    assert ids("identifier=echo") == [hook] and ids("identifier=csv_export") == []
    own = api.get(f"{URL}?task_id=42", headers=READONLY).get_json()["items"]
    assert [(item["name"], item["task_id"], item["channel"]) for item in own] == [
        ("task 42 #1", 42, "email"),
        ("task 42 #2", 42, "webhook"),
    ]
    assert own[0]["events"] == ["finished", "failed"] and own[1]["events"] == ["stuck"]
    page = api.get(f"{URL}?per_page=2&page=2", headers=READONLY).get_json()
    assert (page["total"], page["page"], page["per_page"], page["pages"], len(page["items"])) == (3, 2, 2, 2, 1)
    assert ids("channel=&enabled=&identifier=&task_id=&page=") == [hook, mail, off]  # empty: not given
    for query in ("channel=sms", "enabled=yes", "enabled=True", "identifier=Echo", "task_id=0", "task_id=x", "page=0"):
        assert error_code(api.get(f"{URL}?{query}", headers=READONLY), 400) == "invalid_input", query


def test_a_tasks_rule_can_be_read_changed_and_deleted_but_not_renamed(api: FlaskClient, rules_app: Flask) -> None:
    task_rules(rules_app, 5, ["someone@example.com"])
    [rule] = api.get(f"{URL}?task_id=5", headers=READONLY).get_json()["items"]
    url = f"{URL}/{rule['id']}"
    assert api.put(url, json={"events": ["cancelled"]}, headers=ADMIN).status_code == 200
    for fields in ({"name": "mine"}, {"identifier": "echo"}, {"events": ["group_finished"]}):
        assert error_code(api.put(url, json=fields, headers=ADMIN), 400) == "invalid_input", fields
    assert api.delete(url, headers=ADMIN).status_code == 200


def test_the_delivery_log_lists_newest_first_with_filters_and_no_payload(api: FlaskClient, rules_app: Flask) -> None:
    first = create(api)["id"]
    second = create(api, WEBHOOK)["id"]
    old = add_delivery(rules_app, first, minutes_ago=30, status="failed", response_code=500, error="boom")
    new = add_delivery(rules_app, first, minutes_ago=1, event="finished", task_id=8)
    pending = add_delivery(rules_app, second, minutes_ago=10, status="pending", attempts=0, response_code=None)

    def ids(path: str) -> list[int]:
        answer = api.get(path, headers=READONLY)
        assert answer.status_code == 200, answer.get_json()
        return [item["id"] for item in answer.get_json()["items"]]

    listed = api.get("/stask/api/deliveries", headers=READONLY).get_json()
    assert [item["id"] for item in listed["items"]] == [new, pending, old]
    assert (listed["total"], listed["total_capped"], listed["pages"]) == (3, False, 1)
    assert set(listed["items"][0]) == DELIVERY_FIELDS and "not listed" not in str(listed)
    assert listed["items"][2]["error"] == "boom" and listed["items"][2]["response_code"] == 500
    assert ids(f"/stask/api/deliveries?notification_id={first}") == [new, old]
    assert ids("/stask/api/deliveries?status=pending") == [pending]
    assert ids("/stask/api/deliveries?status=failed&event=failed") == [old]
    assert ids("/stask/api/deliveries?task_id=8") == [new]
    assert ids("/stask/api/deliveries?per_page=1&page=2") == [pending]
    assert ids(f"{URL}/{first}/deliveries") == [new, old]
    assert ids(f"{URL}/{first}/deliveries?event=finished") == [new]
    assert ids(f"{URL}/{second}/deliveries?notification_id={first}") == [pending]  # the path names the rule
    assert error_code(api.get(f"{URL}/999/deliveries", headers=READONLY), 404) == "notification_not_found"
    for query in ("status=sent", "event=done", "task_id=0", "notification_id=-1", "per_page=201"):
        assert error_code(api.get(f"/stask/api/deliveries?{query}", headers=READONLY), 400) == "invalid_input"


def test_deleting_a_rule_deletes_its_delivery_log(api: FlaskClient, rules_app: Flask) -> None:
    gone, kept = create(api)["id"], create(api, WEBHOOK)["id"]
    add_delivery(rules_app, gone, minutes_ago=2)
    add_delivery(rules_app, gone, minutes_ago=1)
    survivor = add_delivery(rules_app, kept)
    assert api.delete(f"{URL}/{gone}", headers=ADMIN).status_code == 200
    items = api.get("/stask/api/deliveries", headers=READONLY).get_json()["items"]
    assert [item["id"] for item in items] == [survivor]


def test_every_committed_change_moves_the_rules_version(api: FlaskClient, rules_app: Flask) -> None:
    """Worker processes reload their cached rules when this key moves: a change they missed would
    keep telling (or not telling) events until they restart."""
    seen = [rules_version(rules_app)]
    rule_id = create(api)["id"]
    seen.append(rules_version(rules_app))
    api.put(f"{URL}/{rule_id}", json={"enabled": False}, headers=ADMIN)
    seen.append(rules_version(rules_app))
    api.delete(f"{URL}/{rule_id}", headers=ADMIN)
    seen.append(rules_version(rules_app))
    assert None not in seen[1:] and len(set(seen)) == 4, seen
    api.post(URL, json={**EMAIL, "events": []}, headers=ADMIN)  # refused: nothing changed
    assert rules_version(rules_app) == seen[-1]


def test_unknown_ids(api: FlaskClient) -> None:
    assert error_code(api.get(f"{URL}/999", headers=ADMIN), 404) == "notification_not_found"
    assert error_code(api.put(f"{URL}/999", json={"enabled": False}, headers=ADMIN), 404) == "notification_not_found"
    assert error_code(api.delete(f"{URL}/999", headers=ADMIN), 404) == "notification_not_found"
    assert error_code(api.post(f"{URL}/999/test", headers=ADMIN), 404) == "notification_not_found"
    assert error_code(api.post("/stask/api/deliveries/999/redeliver", headers=ADMIN), 404) == "delivery_not_found"
    assert api.get(f"{URL}/x", headers=ADMIN).status_code == 404


def test_send_test_answers_what_the_receiver_said(make_app: Callable[..., Flask], backend: str) -> None:
    app = make_app(backend, discover=True, STASK_WEBHOOK_ALLOW_PRIVATE=True, **AUTH_CONFIG)
    api = app.test_client()
    with WebhookReceiver(Answer(200, b"thanks"), Answer(500, b"broken inside")) as receiver:
        rule_id = create(api, WEBHOOK, url=receiver.url())["id"]
        good = api.post(f"{URL}/{rule_id}/test", headers=ADMIN)
        assert good.status_code == 200, good.get_json()
        assert good.get_json() == {"success": True, "ok": True, "response_code": 200, "excerpt": "thanks"}
        bad = api.post(f"{URL}/{rule_id}/test", headers=ADMIN).get_json()
        assert (bad["ok"], bad["response_code"], bad["excerpt"]) == (False, 500, "broken inside") and bad["error"]
        assert len(receiver.requests) == 2
    assert count(app, Delivery) == 0  # a test is no delivery
    assert [a for a, _ in audit_actions(app)] == ["notification.create", "notification.test", "notification.test"]


def test_redeliver_queues_a_delivery_again(api: FlaskClient, rules_app: Flask) -> None:
    rule_id = create(api, WEBHOOK)["id"]
    delivery_id = add_delivery(rules_app, rule_id, status="failed", response_code=500)
    response = api.post(f"/stask/api/deliveries/{delivery_id}/redeliver", headers=ADMIN)
    assert response.status_code == 202, response.get_json()
    delivery = response.get_json()["delivery"]
    assert set(delivery) == DELIVERY_FIELDS and delivery["id"] == delivery_id
    assert delivery["status"] == "pending" and delivery["job_task_id"] is not None
    assert ("delivery.redeliver", f"delivery:{delivery_id}") in audit_actions(rules_app)


def test_the_document_states_the_rules(client: FlaskClient) -> None:
    """What the server enforces that a schema can say is in the OpenAPI document (the fuzzing
    checks the rest); the answers never promise a secret."""
    document = client.get("/stask/api/openapi.json", headers=READONLY).get_json()
    schemas = document["components"]["schemas"]
    writable = schemas["NotificationCreateRequest"]["properties"]
    assert schemas["NotificationCreateRequest"]["required"] == ["name", "events", "channel"]
    assert schemas["NotificationCreateRequest"]["additionalProperties"] is False
    events = writable["events"]
    assert (events["minItems"], events["uniqueItems"]) == (1, True) and "group_finished" in events["items"]["enum"]
    assert writable["channel"]["enum"] == ["email", "webhook"] and writable["format"]["enum"] == ["json", "slack"]
    assert writable["language"]["enum"] == ["en", "de", "fr", "pl", "ru", "uk"] and writable["language"]["nullable"]
    assert writable["secret"]["writeOnly"] is True and writable["to"]["maxItems"] == 50
    name = writable["name"]["pattern"]
    assert re.fullmatch(name, "Failures") and not re.fullmatch(name, "task 3 #1") and not re.fullmatch(name, "  ")
    assert not re.fullmatch(writable["url"]["pattern"], "ftp://x") and re.fullmatch(
        writable["url"]["pattern"], "https://x"
    )
    assert schemas["Notification"]["properties"]["secret"]["enum"] == [None]
    assert "pattern" not in schemas["Notification"]["properties"]["name"]  # a task's rule is named "task 3 #1"
    listed = {parameter["name"] for parameter in document["paths"]["/stask/api/deliveries"]["get"]["parameters"]}
    assert listed == {"notification_id", "status", "task_id", "event", "page", "per_page"}
    redeliver = document["paths"]["/stask/api/deliveries/{delivery_id}/redeliver"]["post"]["responses"]
    assert "202" in redeliver and {"401", "403", "404", "409", "413", "429"} <= set(redeliver)


def test_fields_not_set_are_sql_null(api: FlaskClient, rules_app: Flask) -> None:
    """Whoever stores a rule (the API, a task's notify), an unset list or object is SQL NULL, not
    JSON ``null``: queries on the table can rely on IS NULL."""
    mail = create(api)["id"]
    hook = create(api, WEBHOOK, headers=None)["id"]
    api.put(f"{URL}/{mail}", json={"channel": "webhook", "url": "https://example.com/m"}, headers=ADMIN)
    task_rules(rules_app, 3, ["https://example.com/t"])
    with rules_app.app_context():
        db = rules_app.extensions["stask"].db
        rows = db.session.execute(
            sa.select(Notification.id).where(Notification.recipients.is_(None), Notification.headers.is_(None))
        ).all()
        db.session.remove()
    assert len(rows) == 3 and {mail, hook} <= {row.id for row in rows}

"""HTTP as ``curl`` does it, against a server a test started on 127.0.0.1, and the README's example."""

from __future__ import annotations

import http.client
import re
from dataclasses import dataclass

from tests.support.environment import ROOT


@dataclass
class Answer:
    status: int
    text: str
    headers: dict[str, str]


def request(
    port: int, method: str, path: str, body: str | None = None, headers: dict[str, str] | None = None
) -> Answer:
    """One HTTP request to 127.0.0.1 (no redirects followed), read to the end."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return Answer(response.status, response.read().decode(), {k.lower(): v for k, v in response.getheaders()})
    finally:
        connection.close()


def web_answers(port: int) -> bool:
    try:
        return request(port, "GET", "/stask/health").status in (200, 503)
    except OSError:
        return False


def readme_curl() -> tuple[str, str, dict[str, str], str]:
    """The README's (first) ``curl`` example: method, URL, headers (as written) and body."""
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"^ *curl (.*?)(?=^ *```)", readme, re.S | re.M)
    assert match, "the README has no curl example"
    command = match.group(1).replace("\\\n", " ")
    method = re.search(r"-X (\w+)", command)
    headers = dict(h.split(": ", 1) for h in re.findall(r'-H "([^"]+)"', command))
    body = re.search(r"-d '([^']*)'", command)
    url = re.search(r"(http://\S+)", command)
    assert method and body and url, command
    return method.group(1), url.group(1), headers, body.group(1)

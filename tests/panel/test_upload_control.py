"""The run form's upload control (no browser): where it sends, in which pieces, and what it takes."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask

from tests.support.api import login


def test_a_file_field_of_an_upload_worker_gets_the_chunked_control(make_api_app: Any) -> None:
    app: Flask = make_api_app(MAX_CONTENT_LENGTH=200_000)
    client = app.test_client()
    login(client)
    page = client.get("/stask/workers").get_data(as_text=True)
    card = page[page.index('id="worker-csv_import"') :]
    card = card[: card.index("</article>")]
    control = re.search(r'<input type="file" class="chunked-upload"[^>]*>', card, re.S)
    assert control is not None, card
    tag = control.group(0)
    assert 'data-url="/stask/worker/csv_import/upload"' in tag
    assert 'data-chunk="134464"' in tag  # the request limit less the room for multipart headers
    assert 'accept=".csv,.txt"' in tag and 'data-select="run-csv_import-import-file"' in tag
    assert " name=" not in tag  # the file never goes with the run form itself
    assert "upload-form" not in card  # no second upload control on the card
    importer = page[page.index('id="worker-importer"') :]
    assert 'class="upload-form"' in importer[: importer.index("</article>")]  # no file field: the card's form

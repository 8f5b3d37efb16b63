"""The search page and the conversation view with uploaded files (issue 18): a hit in a file's
text shows the file under its entry with a highlighted excerpt and a link to /files/<event_id>;
the conversation links each file and says how far its text got."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.web.attachment_site import CONTRACT, MESSAGE_ID, MISSING, SCAN, build_attachment_site
from tests.web.conftest import WebSite, sign_in


@pytest.fixture(scope="module")
def attachment_site(tmp_path_factory: pytest.TempPathFactory) -> WebSite:
    return build_attachment_site(tmp_path_factory.mktemp("attachments"))


@pytest.fixture
def client(attachment_site: WebSite) -> Iterator[TestClient]:
    with TestClient(attachment_site.app, follow_redirects=False) as test_client:
        sign_in(test_client, attachment_site.tokens["legal"])
        yield test_client


def test_a_hit_in_a_files_text_shows_the_file_and_the_excerpt(client: TestClient) -> None:
    page = client.get("/search", params={"q": "acme"})
    assert page.status_code == 200, page.text
    [attachment] = re.findall(r'<div class="attachment">(.*?)</div>', page.text, re.S)
    assert f'<a href="/files/{CONTRACT.event_id}">Contract Q3.pdf</a>' in attachment
    assert "text extracted (pdf 1.0)" in attachment
    excerpt = re.search(r'<blockquote class="excerpt">(.*?)</blockquote>', attachment, re.S)
    assert excerpt is not None
    assert "<b>ACME</b>" in excerpt.group(1)
    assert "&lt;b&gt;bold&lt;/b&gt;" in excerpt.group(1)  # the file's own markup is text
    assert f"hit={CONTRACT.event_id}" in page.text  # the time line, opened at the upload


def test_a_file_without_text_says_why(client: TestClient) -> None:
    page = client.get("/search", params={"q": "has:file"})
    assert page.status_code == 200
    assert "no text: OCR timed out" in page.text
    assert "text pending" in page.text  # the file whose bytes never arrived
    assert page.text.count('<div class="attachment">') == 3


def test_the_conversation_links_every_file_and_shows_its_extraction_state(client: TestClient) -> None:
    page = client.get("/conversation", params={"message": MESSAGE_ID})
    assert page.status_code == 200, page.text
    for uploaded in (CONTRACT, SCAN, MISSING):
        assert f'<a href="/files/{uploaded.event_id}"><strong>{uploaded.file.name}</strong></a>' in page.text
    assert "text extracted (pdf 1.0)" in page.text
    assert "no text: OCR timed out" in page.text
    assert "bytes pending" in page.text


def test_the_time_line_links_each_upload_and_describes_extraction(client: TestClient, tmp_path: Path) -> None:
    page = client.get("/timeline", params={"room": "room:desk", "day": "2026-11-22"})
    assert page.status_code == 200, page.text
    assert f'href="/files/{CONTRACT.event_id}"' in page.text
    assert "Text extracted" in page.text
    assert f"text of file {CONTRACT.event_id} read by pdf" in page.text

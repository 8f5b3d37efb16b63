"""Issue 17, finding 2: every script is searchable word by word.

Chinese, Japanese and Korean are found by any word (any run of their characters) inside a
sentence, emoji are words, Arabic and Hebrew are found with or without their marks and letter
variants; Latin keeps its case and accent folding. Checked through the search backend, the
API, and the Elasticsearch translation (tests/search_api/test_multilingual_conformance.py
checks a whole generated corpus against a brute-force oracle).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
import tantivy
from fastapi.testclient import TestClient

from adapters.index_adapter import TantivyIndexAdapter
from ingest.events import Event, parse_event
from ingest.staging import StagingStore
from search import tantivy_schema as fields
from search.backends import TantivySearchBackend, every_hit
from search.query_parser import parse_query
from search.request import SearchRequest
from tests.api_client import api_client, archived_api_client, auth
from tests.api_client import tokens as tokens  # a token per role
from tests.factories import post_payload

TEXTS = [
    "東京の取引について確認してください",
    "京都の会議は明日です",
    "契約書を送ってください",
    "契約書類の確認をお願いします",
    "Great work 👍",
    "launch 🚀🚀 tomorrow",
    "مُحَمَّد أحمد في المدرسة",
    "שָׁלוֹם עֲלֵיכֶם",
    "회의를 시작합니다",
    "东京的交易需要确认",
    "Thumbs 👍🏽 and family 👨\u200d👩\u200d👧",
    "Café résumé",
    "ﾃｽﾄの結果",
]

CASES = [
    ("東京", {0}),
    ("取引", {0}),
    ('"東京の取引"', {0}),
    ("契約書*", {2, 3}),
    ("京都", {1}),
    ("東京 NEAR/2 取引", {0}),
    ("👍", {4, 10}),
    ("👍🏽", {10}),
    ("🚀", {5}),
    ("👨\u200d👩\u200d👧", {10}),
    ("👩", {10}),
    ("محمد", {6}),
    ("مُحَمَّد", {6}),
    ("احمد", {6}),
    ("المدرسه", {6}),
    ("שלום", {7}),
    ("שָׁלוֹם", {7}),
    ("회의", {8}),
    ("交易", {9}),
    ("东京", {9}),
    ("cafe", {11}),
    ("CAFÉ", {11}),
    ("テスト", {12}),
    ("ﾃｽﾄ", {12}),
]


def events() -> list[Event]:
    return [parse_event(post_payload(i, run="scripts", text=text)) for i, text in enumerate(TEXTS)]


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("scripts") / "index"
    adapter = TantivyIndexAdapter(folder)
    assert all(result is None for result in adapter.write(events()))
    adapter.close()
    return folder


def message_ids(numbers: set[int]) -> set[str]:
    return {f"msg:scripts:{n}" for n in numbers}


@pytest.mark.parametrize(("query", "wanted"), CASES)
def test_every_script_is_found_by_its_words(index_dir: Path, query: str, wanted: set[int]) -> None:
    hits = every_hit(TantivySearchBackend(index_dir), parse_query(query))
    assert {hit.message_id for hit in hits} == message_ids(wanted)


@pytest.mark.parametrize(("query", "number"), [("محمد", 6), ("שלום", 7), ("テスト", 12)])
def test_hits_keep_the_text_exactly_as_said(index_dir: Path, query: str, number: int) -> None:
    (hit,) = every_hit(TantivySearchBackend(index_dir), parse_query(query))
    assert hit.text == TEXTS[number]


@pytest.fixture
def client(store: StagingStore, tmp_path: Path) -> Iterator[TestClient]:
    with archived_api_client(store, tmp_path / "index", events()) as test_client:
        yield test_client


def test_the_api_finds_japanese_words_inside_a_sentence(client: TestClient, tokens: dict[str, str]) -> None:
    for query in ("東京", "取引", '"東京の取引"', "契約書*", "👍"):
        response = client.post("/api/v1/search", json={"query": query}, headers=auth(tokens["legal"]))
        assert response.status_code == 200, response.text
        hits = response.json()["hits"]
        assert hits, query
        assert all(hit["text"] in TEXTS for hit in hits)
    response = client.post("/api/v1/search", json={"query": "東京"}, headers=auth(tokens["legal"]))
    (hit,) = response.json()["hits"]
    assert hit["text"] == TEXTS[0]
    assert hit["highlight"].startswith("<b>東京</b>の取引"), "a CJK word is highlighted whole"


@pytest.mark.parametrize(
    ("query", "number", "marked"),
    [("احمد", 6, "<b>أحمد</b>"), ("محمد", 6, "<b>مُحَمَّد</b>"), ("שלום", 7, "<b>שָׁלוֹם</b>"), ("テスト", 12, "<b>ﾃ</b>")],
)
def test_highlights_show_the_text_as_said(index_dir: Path, query: str, number: int, marked: str) -> None:
    page = TantivySearchBackend(index_dir).search(SearchRequest(node=parse_query(query)))
    (hit,) = page.hits
    assert hit.highlight is not None
    assert marked in hit.highlight
    assert hit.highlight.replace("<b>", "").replace("</b>", "") == unicodedata.normalize("NFC", TEXTS[number])


def test_names_hashtags_and_an_edit_keep_matching_as_given(tmp_path: Path) -> None:
    """The script folding is for words: ``from:``, ``#hashtag`` and ``@mention`` still match
    the value as given, also after an edit rewrote the message's document."""
    payload = post_payload(0, run="names", text="συνάντηση #Αθήνα @Ἀλέξης")
    payload["actor"] = {"id": "user:athina", "name": "Αθηνά Παπαδοπούλου"}
    edit = post_payload(1, run="names")
    edit |= {"type": "edit", "message": {"id": payload["message"]["id"], "text": "συνάντηση αύριο #Αθήνα @Ἀλέξης"}}
    edit["actor"] = payload["actor"]
    adapter = TantivyIndexAdapter(tmp_path / "index")
    assert all(result is None for result in adapter.write([parse_event(payload)]))
    assert all(result is None for result in adapter.write([parse_event(edit)]))
    adapter.close()
    backend = TantivySearchBackend(tmp_path / "index")
    for query in ('from:"Αθηνά Παπαδοπούλου"', "#Αθήνα", "@Ἀλέξης", "ΑΥΡΙΟ", "αυριο"):
        assert [h.message_id for h in every_hit(backend, parse_query(query))] == ["msg:names:0"], query


def test_a_search_of_an_index_of_the_old_analyzer_says_to_reindex(
    store: StagingStore, tmp_path: Path, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as old:
        old.setattr(fields, "TEXT_ANALYZER", "archivist_text")
        (tmp_path / "index").mkdir()
        tantivy.Index(fields.build_schema(), path=str(tmp_path / "index"))
    with api_client(store, tmp_path / "index") as client:
        response = client.post("/api/v1/search", json={"query": "東京"}, headers=auth(tokens["legal"]))
    assert response.status_code == 503
    assert "archivist reindex" in response.json()["detail"]["message"]


def test_an_edited_away_japanese_word_is_found_in_the_earlier_version(tmp_path: Path) -> None:
    """Every script in every version: the history field goes through the same analysis."""
    post = post_payload(0, run="edited", text="東京の取引について確認してください")
    edit = post_payload(1, run="edited")
    edit |= {"type": "edit", "message": {"id": post["message"]["id"], "text": "大阪の会議は明日です"}}
    adapter = TantivyIndexAdapter(tmp_path / "index")
    assert all(result is None for result in adapter.write([parse_event(post), parse_event(edit)]))
    adapter.close()
    backend = TantivySearchBackend(tmp_path / "index")
    for query, wanted in (("取引", ["msg:edited:0"]), ("current:取引", []), ("current:会議", ["msg:edited:0"])):
        assert [h.message_id for h in every_hit(backend, parse_query(query))] == wanted, query

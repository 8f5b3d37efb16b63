"""The Elasticsearch query translation, checked as data (no server needed)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from search.es_query import MATCH_NOTHING, UnsupportedEsQuery, search_body, translate
from search.es_query import Json as EsJson
from search.memberships import Interval
from search.query_parser import SEARCH_TIME_BUDGET_SECONDS, parse_query
from tests.search_api import es_simulator


def q(text: str) -> EsJson:
    return translate(parse_query(text))


def test_words_and_phrases_are_folded_phrase_matches() -> None:
    # current: searches the current text only, the shape every word had before issue 17.
    assert q("current:Café") == {"match_phrase": {"text": "Café"}}
    assert q('current:"media player"') == {"match_phrase": {"text": "media player"}}
    assert q("current:(a b)") == {"bool": {"must": [{"match_phrase": {"text": "a"}}, {"match_phrase": {"text": "b"}}]}}


def test_words_search_every_version_and_attachment_text_unless_current() -> None:
    # Issue 18: words also search the text of attachments ("attachment"), as message text.
    assert q("Café") == {
        "bool": {
            "should": [
                {"match_phrase": {"text": "Café"}},
                {"match_phrase": {"history": "Café"}},
                {"match_phrase": {"attachment": "Café"}},
            ],
            "minimum_should_match": 1,
        }
    }
    near = q("wine NEAR/5 windows")["bool"]["should"]
    assert [clause["bool"]["should"][0]["span_near"]["clauses"][0] for clause in near] == [
        {"span_term": {"text": "wine"}},
        {"span_term": {"history": "wine"}},
        {"span_term": {"attachment": "wine"}},
    ]
    assert q("xorg*")["bool"]["should"] == [
        {"prefix": {"text": "xorg"}},
        {"prefix": {"history": "xorg"}},
        {"prefix": {"attachment": "xorg"}},
    ]
    assert q("current:a current:b OR c")["bool"]["should"][0] == q("current:(a b)")


def test_is_edited_and_is_deleted() -> None:
    assert q("is:edited") == {"exists": {"field": "edit_event_ids"}}
    assert q("is:deleted") == {"term": {"deleted": True}}


def test_or_not_and_grouping() -> None:
    assert q("a OR b")["bool"]["minimum_should_match"] == 1
    negated = q("-current:windows")
    assert negated["bool"]["must_not"] == [{"match_phrase": {"text": "windows"}}]


def test_prefix_and_near() -> None:
    assert q("current:xorg*") == {"prefix": {"text": "xorg"}}
    assert q("current:don't*") == {
        "span_near": {
            "clauses": [
                {"span_term": {"text": "don"}},
                {"span_multi": {"match": {"prefix": {"text": {"value": "t"}}}}},
            ],
            "slop": 0,
            "in_order": True,
        }
    }
    wine, windows = {"span_term": {"text": "wine"}}, {"span_term": {"text": "windows"}}
    either_way = q("current:wine NEAR/5 windows")["bool"]["should"]
    assert [near["span_near"] for near in either_way] == [
        {"clauses": [wine, windows], "slop": 4, "in_order": True},
        {"clauses": [windows, wine], "slop": 4, "in_order": True},
    ]
    assert q("current:wine NEAR/5 wine") == {"span_near": {"clauses": [wine, wine], "slop": 4, "in_order": True}}


@pytest.mark.parametrize(
    ("query", "text", "found"),
    [
        ("i NEAR/1 i", "i am here", False),
        ("i NEAR/2 i", "i think i am", True),
        ("i NEAR/1 i", "i think i am", False),
        ('"sudo apt" NEAR/1 "apt get"', "sudo apt get install", False),
        ('"sudo apt" NEAR/2 "apt get"', "sudo apt or apt get", True),
        ("get NEAR/1 apt", "sudo apt get install", True),
    ],
)
def test_near_needs_two_occurrences_that_do_not_overlap(query: str, text: str, found: bool) -> None:
    """As Tantivy and the reference: Elasticsearch's unordered span_near lets its sides overlap
    (one "i" would be both sides of "i NEAR/1 i"), so NEAR is two ordered ones, either way round."""
    translated = q(f"current:({query})")
    assert es_simulator.matches(translated, es_simulator.document("m1", text)) is found


def test_filters() -> None:
    assert q("@Kleedrac") == {"term": {"mentions": "kleedrac"}}
    assert q("#Média") == {"term": {"hashtags": "media"}}
    assert q("has:file") == {"term": {"has_file": True}}
    assert q("type:post") == {"term": {"type": "post"}}
    assert q("from:CrimSun") == {"terms": {"sender_keys": ["crimsun"]}}
    assert q("from:@bob") == {"terms": {"sender_keys": ["@bob", "bob"]}}
    assert q("in:#Ubuntu") == {"terms": {"room_keys": ["#ubuntu", "ubuntu"]}}
    assert q('in:"Release Planning"') == {"terms": {"room_keys": ["#release planning", "release planning"]}}


def test_date_ranges_are_half_open_utc_days() -> None:
    assert q("sent:2024-01-01..2024-01-31") == {
        "range": {"sent": {"gte": "2024-01-01T00:00:00+00:00", "lt": "2024-02-01T00:00:00+00:00"}}
    }
    assert q("sent<=2024-01-31") == {"range": {"sent": {"lt": "2024-02-01T00:00:00+00:00"}}}


def test_participant_uses_the_membership_intervals() -> None:
    joined = datetime(2024, 1, 1, 9, tzinfo=UTC)

    def memberships(actor: str) -> list[Interval]:
        assert actor == "user:bob"
        return [Interval("room:desk", actor, joined, None), Interval("room:ops", actor, None, joined)]

    spans = translate(parse_query("participant:bob"), memberships)["bool"]["should"]
    assert spans[0] == {
        "bool": {"filter": [{"term": {"room_id": "room:desk"}}, {"range": {"sent": {"gte": joined.isoformat()}}}]}
    }
    assert spans[1]["bool"]["filter"][1] == {"range": {"sent": {"lt": joined.isoformat()}}}
    assert translate(parse_query("participant:nobody"), lambda _a: []) == MATCH_NOTHING


@pytest.mark.parametrize("query", ["participant:bob", "type:join"])
def test_what_the_index_cannot_answer_is_refused(query: str) -> None:
    with pytest.raises(UnsupportedEsQuery):
        q(query)


def test_the_search_body_keeps_posts_and_files_unless_a_type_is_named() -> None:
    body: dict[str, Any] = search_body(parse_query("ubuntu"), size=10, offset=20)
    # Issue 18: uploaded files too (their names and attachment text are searched).
    assert body["query"]["bool"]["filter"] == [{"terms": {"type": ["post", "file_upload"]}}]
    assert (body["size"], body["from"], body["track_total_hits"]) == (10, 20, True)
    assert body["sort"][0] == {"sent": "asc"}
    typed = search_body(parse_query("has:file report"))
    assert "filter" not in typed["query"].get("bool", {})


def test_highlights_are_asked_html_encoded_so_stored_markup_stays_text() -> None:
    """Bug 5 (issue 15): without ``encoder: html`` Elasticsearch returns the stored text raw
    between our tags, and a message holding a meta refresh navigated the search page."""
    hostile = '"refresh" <meta http-equiv="refresh" content="0;url=https://evil.example/"> <script>alert(1)</script>'
    body = search_body(parse_query(hostile.replace('"', "")))
    assert body["highlight"]["encoder"] == "html"
    assert (body["highlight"]["pre_tags"], body["highlight"]["post_tags"]) == (["<b>"], ["</b>"])
    assert body["highlight"]["fields"]["text"] == {"number_of_fragments": 0}
    assert body["highlight"]["fields"]["attachment"]["number_of_fragments"] == 1  # an excerpt (issue 18)


def test_a_search_has_a_time_budget() -> None:
    assert search_body(parse_query("ubuntu"))["timeout"] == f"{SEARCH_TIME_BUDGET_SECONDS}s"


def test_attachment_file_and_filetype() -> None:
    """Issue 18: attachment: searches attachment text only, file: file names, filetype: the type."""
    assert q("attachment:ACME") == {"match_phrase": {"attachment": "ACME"}}
    assert q('attachment:"buy now"') == {"match_phrase": {"attachment": "buy now"}}
    assert q("attachment:(buy OR sell)") == {
        "bool": {
            "should": [{"match_phrase": {"attachment": "buy"}}, {"match_phrase": {"attachment": "sell"}}],
            "minimum_should_match": 1,
        }
    }
    assert q("file:rep*") == {"prefix": {"file_name": "rep"}}
    assert q('file:"Q3 report"') == {"match_phrase": {"file_name": "Q3 report"}}
    assert q("filetype:.PDF") == {"term": {"file_type": "pdf"}}
    assert search_body(parse_query("attachment:x"))["_source"] == {"excludes": ["attachment"]}

"""The pure redaction of a text and of a production's events (exports.redaction)."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exports.redaction import (
    BadRedaction,
    Redactions,
    Redactor,
    Span,
    check_reason,
    merge_spans,
    redact_text,
    text_sha256,
)
from ingest.events import EditEvent, PostEvent, parse_event
from tests.exports.conftest import event_payload

TEXT = "call Bob at 555-0100 about the merger"


def test_a_span_becomes_a_marker_and_the_text_around_it_stays() -> None:
    start = TEXT.index("555")
    assert redact_text(TEXT, [Span(start, start + 8, "PII")]) == "call Bob at [REDACTED: PII] about the merger"


def test_overlapping_spans_merge_into_one_marker_with_both_reasons() -> None:
    spans = [Span(5, 12, "PII"), Span(9, 20, "Confidential"), Span(10, 11, "PII")]
    assert merge_spans(spans) == [Span(5, 20, "PII; Confidential")]
    assert redact_text(TEXT, spans) == "call [REDACTED: PII; Confidential] about the merger"


def test_touching_spans_stay_apart() -> None:
    assert redact_text("abcdef", [Span(0, 2, "PII"), Span(2, 4, "PHI")]) == "[REDACTED: PII][REDACTED: PHI]ef"


def test_a_span_drawn_on_another_text_fails_closed() -> None:
    other = text_sha256("another text")
    assert redact_text(TEXT, [Span(0, 4, "PII", other)]) == "[REDACTED: PII]"
    assert redact_text(TEXT, [Span(0, 400, "PII")]) == "[REDACTED: PII]"
    assert redact_text(TEXT, [Span(0, 4, "PII", text_sha256(TEXT))]).startswith("[REDACTED: PII] Bob")


def test_offsets_are_code_points() -> None:
    text = "שלום 🚀 secret done"
    start = text.index("secret")
    assert redact_text(text, [Span(start, start + 6, "PII")]) == "שלום 🚀 [REDACTED: PII] done"


@pytest.mark.parametrize("reason", ["", "x" * 65, "[oops]", "<b>", " leading space", "a\nb"])
def test_bad_reasons_are_refused(reason: str) -> None:
    with pytest.raises(BadRedaction, match="reason"):
        check_reason(reason)


def test_free_text_reasons_within_the_vocabulary_pass() -> None:
    assert check_reason("Privileged - Attorney-Client") == "Privileged - Attorney-Client"
    assert check_reason("Settlement talks (Rule 408)") == "Settlement talks (Rule 408)"


def test_the_redactor_redacts_versions_and_drops_mentions_naming_redacted_words() -> None:
    post = parse_event(event_payload(1, "post", message={"id": "m1", "text": "ask @carol about #projectx now"}))
    edit = parse_event(event_payload(2, "edit", message={"id": "m1", "text": "ask @carol about #projectx later"}))
    assert isinstance(post, PostEvent)
    assert isinstance(edit, EditEvent)
    text = post.message.text
    spans = (Span(text.index("@carol"), text.index("@carol") + 6, "PII"),)
    edit_text = edit.message.text
    edit_spans = (Span(edit_text.index("#projectx"), edit_text.index("#projectx") + 9, "Confidential"),)
    redactor = Redactor(Redactions(messages={("m1", 1): spans, ("m1", 2): edit_spans}))
    out_post, out_edit = list(redactor.apply([post, edit]))
    assert isinstance(out_post, PostEvent)
    assert isinstance(out_edit, EditEvent)
    assert out_post.message.text == "ask [REDACTED: PII] about #projectx now"
    assert out_post.message.mentions == ()
    assert out_post.message.hashtags == ("projectx",)
    assert out_edit.message.text == "ask @carol about [REDACTED: Confidential] later"
    assert redactor.redacted_events == {str(post.event_id): 1, str(edit.event_id): 1}
    assert post.message.text == text  # the original event is never changed


def test_a_withheld_message_says_why_and_nothing_else() -> None:
    post = parse_event(event_payload(1, "post", message={"id": "m1", "text": "hi @dave #deal"}))
    (out,) = Redactor(Redactions(), {str(post.event_id): "Attorney-Client"}).apply([post])
    assert isinstance(out, PostEvent)
    assert (out.message.text, out.message.mentions, out.message.hashtags) == ("Withheld: Attorney-Client", (), ())


@given(
    text=st.text(max_size=60),
    raw=st.lists(st.tuples(st.integers(0, 60), st.integers(1, 20), st.sampled_from(["PII", "PHI"])), max_size=6),
)
def test_outside_the_markers_only_the_unredacted_characters_remain(text: str, raw: list[tuple[int, int, str]]) -> None:
    spans = [Span(start, start + length, reason) for start, length, reason in raw if start + length <= len(text)]
    redacted = redact_text(text, spans)
    covered = {i for span in spans for i in range(span.start, span.end)}
    kept = "".join(ch for i, ch in enumerate(text) if i not in covered)
    # Markers removed (the reasons' characters are not the text's), what is left is exactly
    # the characters no span covers, in order.
    if "[REDACTED" not in text:
        assert re.sub(r"\[REDACTED: (PII|PHI)(; (PII|PHI))*\]", "", redacted) == kept
    merged = merge_spans(spans)
    assert redacted.count("[REDACTED: ") >= len(merged)
    for a, b in itertools.pairwise(merged):
        assert a.end <= b.start

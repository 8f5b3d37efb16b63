"""Lexicon terms match messages as the index would find them, and say where."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search.query_ast import Near
from search.query_parser import parse_query
from search.tantivy_schema import MAX_TOKEN_BYTES, person_keys, room_keys, text_terms
from supervision.lexicon import LexiconError, LexiconSet, Message, PolicyLexicon, Verdict, check_lexicon
from supervision.model import LexiconTerm, TermMatch
from tests.factories import BASE_TIME
from tests.search_api.reference import Message as ReferenceMessage
from tests.search_api.reference import matches as reference_matches


def reference_message(text: str) -> ReferenceMessage:
    return ReferenceMessage("m", tuple(text_terms(text)), frozenset(), frozenset(), "u", "", "r", "", BASE_TIME)


def lexicon(*expressions: str, exclusions: tuple[str, ...] = (), regex: bool = False) -> PolicyLexicon:
    kind = "regex" if regex else "query"
    terms = tuple(LexiconTerm(id=f"t{n}", kind=kind, expression=e) for n, e in enumerate(expressions))
    return PolicyLexicon(terms=terms, exclusions=exclusions)


def spans(expression: str, text: str, **fields: object) -> list[str]:
    """What one query term matches in ``text`` (the matched characters), [] when it does not."""
    verdicts = LexiconSet.compile({"p": lexicon(expression)}).verdicts(Message(text=text, **fields))  # type: ignore[arg-type]
    return [m.matched for m in verdicts["p"].matches] if "p" in verdicts else []


def test_a_word_matches_case_and_accents_folded_and_reports_what_was_said() -> None:
    assert spans("garantie", "Je vous GARANTIE un rendement, garantie!") == ["GARANTIE", "garantie"]
    assert spans("café", "un CAFE?") == ["CAFE"]
    assert spans("strasse", "Hauptstraße Straße") == ["Straße"]
    assert spans("guarantee", "guaranteed returns") == []


def test_a_phrase_matches_words_in_a_row() -> None:
    assert spans('"guaranteed returns"', "We offer Guaranteed, returns of 10%") == ["Guaranteed, returns"]
    assert spans('"guaranteed returns"', "guaranteed high returns") == []
    assert spans("apt-get", "sudo apt get install") == ["apt get"]


def test_a_token_too_long_to_index_still_takes_its_position() -> None:
    long_word = "x" * (MAX_TOKEN_BYTES + 1)
    assert spans('"call me"', f"call {long_word} me") == []
    assert spans("call NEAR/2 me", f"call {long_word} me") == [f"call {long_word} me"]


def test_prefix() -> None:
    assert spans("guarant*", "I guarantee it, guaranteed. Guarantor") == ["guarantee", "guaranteed", "Guarantor"]
    assert spans("don't*", "I dont know, don't worry, don'tcha") == ["don't", "don'tcha"]
    assert spans("guarant*", "no guard") == []


def test_near_either_order_within_the_distance() -> None:
    assert spans("call NEAR/3 cell", "call me on my cell") == []
    assert spans("call NEAR/4 cell", "call me on my cell") == ["call me on my cell"]
    assert spans("call NEAR/2 cell", "my cell, call it") == ["cell, call"]
    assert spans('"my cell" NEAR/2 call', "call me on my cell") == []
    assert spans('"my cell" NEAR/3 call', "call me on my cell") == ["call me on my cell"]
    assert spans("call NEAR/5 call", "call") == []
    assert spans("call NEAR/5 call", "call now call") == ["call now call"]


def test_boolean_operators() -> None:
    assert spans("whatsapp OR signal", "ping me on Signal") == ["Signal"]
    assert spans("whatsapp signal", "ping me on Signal") == []
    assert spans("whatsapp signal", "whatsapp or signal") == ["whatsapp", "signal"]
    assert spans("whatsapp -business", "whatsapp business") == []
    assert spans("whatsapp NOT business", "whatsapp me") == ["whatsapp"]


def test_a_match_without_a_position_is_an_empty_span_at_the_start() -> None:
    verdicts = LexiconSet.compile({"p": lexicon("NOT hello")}).verdicts(Message(text="good bye"))
    assert verdicts == {"p": Verdict(matches=(TermMatch(term_id="t0", start=0, end=0, matched=""),), excluded=False)}


def test_cjk_arabic_and_emoji() -> None:
    # As in the index, CJK words are their characters in a row: a space between them is no word.
    assert spans("保証", "元本を保証します。保 証") == ["保証", "保 証"]
    assert spans("ضمان", "نقدّم ضَمان العائد") == ["ضَمان"]
    assert spans("👍", "deal 👍🏽") == ["👍"]
    assert spans('"👍 🏽"', "deal 👍🏽") == ["👍🏽"]
    assert spans("🇫🇷", "vive la 🇫🇷") == ["🇫🇷"]


def test_attachment_current_and_file_fields() -> None:
    message = {"attachment": "Rendite garantiert, sicher.", "file_name": "garantie.pdf"}
    assert spans("garantiert", "siehe Anhang", **message) == ["garantiert"]
    assert spans("current:garantiert", "siehe Anhang", **message) == []
    assert spans("attachment:anhang", "siehe Anhang", **message) == []
    assert spans("attachment:sicher", "siehe Anhang", **message) == ["sicher"]
    assert spans("file:garantie", "siehe Anhang", **message) == [""]  # a file name has no position
    verdict = LexiconSet.compile({"p": lexicon("sicher")}).verdicts(Message(text="x", attachment="ganz sicher"))["p"]
    assert [(m.field, m.start, m.end) for m in verdict.matches] == [("attachment", 5, 11)]


def test_filters_judge_the_message() -> None:
    message = Message(
        text="call me",
        sender_keys=frozenset(person_keys("user:bob", "Bob Smith")),
        room_keys=frozenset(room_keys("room:ops", "#Ops")),
        mentions=frozenset({"Alice"}),
        hashtags=frozenset({"deal"}),
        file_types=frozenset({"pdf"}),
        event_type="post",
    )
    judged = LexiconSet.compile(
        {
            "from": lexicon('call from:"bob smith"'),
            "from_id": lexicon("call from:@bob"),
            "in": lexicon("call in:ops"),
            "mention": lexicon("call @alice"),
            "hashtag": lexicon("call #DEAL"),
            "has": lexicon("call has:file"),
            "filetype": lexicon("call filetype:.PDF"),
            "type": lexicon("call type:post"),
            "other_sender": lexicon("call from:carol"),
            "other_room": lexicon("call in:#sales"),
            "other_type": lexicon("call type:file_upload"),
        }
    ).verdicts(message)
    assert sorted(judged) == ["filetype", "from", "from_id", "has", "hashtag", "in", "mention", "type"]
    assert [m.matched for m in judged["from"].matches] == ["call"]


def test_exclusions_mark_the_verdict_even_without_a_match() -> None:
    policies = LexiconSet.compile({"p": lexicon("guarantee*", exclusions=('"not a guarantee"', "disclaimer"))})
    assert policies.verdicts(Message(text="This is not a guarantee of returns"))["p"].excluded
    assert policies.verdicts(Message(text="Disclaimer: past results"))["p"] == Verdict(matches=(), excluded=True)
    assert not policies.verdicts(Message(text="guaranteed!"))["p"].excluded
    assert policies.verdicts(Message(text="nothing here")) == {}


def test_only_policies_with_a_match_or_an_exclusion_are_returned() -> None:
    policies = LexiconSet.compile({"a": lexicon("whatsapp"), "b": lexicon("gift*"), "c": lexicon("signal")})
    verdicts = policies.verdicts(Message(text="a gift on whatsapp"))
    assert sorted(verdicts) == ["a", "b"]
    assert [m.term_id for m in verdicts["b"].matches] == ["t0"]


def test_languages_choose_the_terms_used() -> None:
    terms = (
        LexiconTerm(id="en", expression="guarantee", language="en"),
        LexiconTerm(id="de", expression="garantie", language="de"),
        LexiconTerm(id="any", expression="100%"),
    )
    policies = LexiconSet.compile({"p": PolicyLexicon(terms=terms, languages=("de",))})
    verdict = policies.verdicts(Message(text="guarantee garantie 100%"))["p"]
    assert [m.term_id for m in verdict.matches] == ["de", "any"]


def test_many_policies_share_words() -> None:
    lexicons = {f"p{n}": lexicon("guarantee", f"word{n}", "guar*") for n in range(30)}
    verdicts = LexiconSet.compile(lexicons).verdicts(Message(text="I guarantee word7"))
    assert sorted(verdicts) == sorted(lexicons)
    assert [m.term_id for m in verdicts["p7"].matches] == ["t0", "t1", "t2"]
    assert [m.term_id for m in verdicts["p8"].matches] == ["t0", "t2"]


def test_regex_terms_run_over_the_text_as_said_case_insensitive() -> None:
    policies = LexiconSet.compile({"p": lexicon(r"\+?\d{2,3}[ -]?\d{3}[ -]?\d{4}", r"what'?s ?app", regex=True)})
    verdict = policies.verdicts(Message(text="Écris-moi sur WhatsApp: +33 612 3456", attachment="whats app"))["p"]
    assert [(m.term_id, m.field, m.matched) for m in verdict.matches] == [
        ("t0", "text", "+33 612 3456"),
        ("t1", "text", "WhatsApp"),
        ("t1", "attachment", "whats app"),
    ]
    message = "Écris-moi sur WhatsApp"
    assert verdict.matches[1].start == message.index("WhatsApp")
    assert LexiconSet.compile({"p": lexicon("(?-i)WhatsApp", regex=True)}).verdicts(Message(text="whatsapp")) == {}


@pytest.mark.parametrize(
    ("term", "reason"),
    [
        (LexiconTerm(id="bad", expression="(guarantee"), "parenthesis is not closed"),
        (LexiconTerm(id="bad", expression="sent>=2024-01-01 guarantee"), "effective dates"),
        (LexiconTerm(id="bad", expression="participant:bob"), "scope"),
        (LexiconTerm(id="bad", expression="is:edited"), "after it is sent"),
        (LexiconTerm(id="bad", expression="tag:hot"), "review set"),
        (LexiconTerm(id="bad", expression='"!!"'), "holds no word"),
        (LexiconTerm(id="bad", kind="regex", expression="(a"), "RE2 refuses"),
        (LexiconTerm(id="bad", kind="regex", expression="a*"), "matches empty text"),
        (LexiconTerm(id="bad", kind="regex", expression="(((a{100}){100}){100})"), "RE2 refuses"),
        (LexiconTerm(id="bad", expression=" ".join(f"w{n}" for n in range(70))), "too many conditions"),
    ],
)
def test_refusals_name_the_policy_and_the_term(term: LexiconTerm, reason: str) -> None:
    with pytest.raises(LexiconError, match=reason) as refused:
        LexiconSet.compile({"gifts": PolicyLexicon(terms=(LexiconTerm(id="ok", expression="fine"), term))})
    assert "policy 'gifts'" in str(refused.value)
    assert "term 'bad'" in str(refused.value)
    with pytest.raises(LexiconError, match=reason):
        check_lexicon(PolicyLexicon(terms=(term,)))


def test_refusals_of_exclusions_and_repeated_ids() -> None:
    with pytest.raises(LexiconError, match=r"policy 'p', exclusion 2 \('from:'\)"):
        LexiconSet.compile({"p": lexicon("x", exclusions=("fine", "from:"))})
    twice = PolicyLexicon(terms=(LexiconTerm(id="a", expression="x"), LexiconTerm(id="a", expression="y")))
    with pytest.raises(LexiconError, match="term 'a': the id is used by another term"):
        check_lexicon(twice)


def test_check_lexicon_checks_terms_of_every_language() -> None:
    terms = (LexiconTerm(id="fr", expression="(oops", language="fr"),)
    with pytest.raises(LexiconError, match="term 'fr'"):
        check_lexicon(PolicyLexicon(terms=terms, languages=("en",)))


def test_a_regex_longer_than_the_limit_is_refused() -> None:
    term = LexiconTerm.model_construct(id="long", kind="regex", expression="a" * 1_001, label=None, language=None)
    with pytest.raises(LexiconError, match="term 'long': the regular expression is too long"):
        check_lexicon(PolicyLexicon(terms=(term,)))


def test_a_regex_over_the_memory_bound_is_refused() -> None:
    term = LexiconTerm(id="big", kind="regex", expression=r"[\p{L}\p{N}]{1000}")
    with pytest.raises(LexiconError, match="term 'big': RE2 refuses"):
        check_lexicon(PolicyLexicon(terms=(term,)))


WORDS = [
    "Garantie",
    "garantiert",
    "rendement",
    "sûr",
    "Straße",
    "東京",
    "取引",
    "ضَمان",
    "👍🏽",
    "call",
    "me",
    "x" * 256,
]
SEPARATORS = [" ", ", ", "\n", "-", "! ", "\u3000", ""]


@settings(max_examples=300, deadline=None)
@given(
    words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=12),
    separators=st.lists(st.sampled_from(SEPARATORS), min_size=12, max_size=12),
    picked=st.lists(st.sampled_from(WORDS[:-1]), min_size=1, max_size=2),
)
def test_every_match_is_the_words_of_the_term(words: list[str], separators: list[str], picked: list[str]) -> None:
    text = "".join(word + separator for word, separator in zip(words, separators, strict=False))
    expression = '"' + " ".join(picked) + '"' if len(picked) > 1 else picked[0]
    verdicts = LexiconSet.compile({"p": lexicon(expression)}).verdicts(Message(text=text))
    wanted = text_terms(" ".join(picked))
    for match in verdicts["p"].matches if "p" in verdicts else ():
        assert match.matched == text[match.start : match.end]
        assert [t for t in text_terms(text[match.start : match.end])] == wanted
    found = len(verdicts["p"].matches) if "p" in verdicts else 0
    terms = text_terms(text)
    occurrences = sum(1 for i in range(len(terms)) if terms[i : i + len(wanted)] == wanted)
    assert found == occurrences or "x" * 256 in text


@pytest.mark.timeout(60)
def test_near_over_a_long_attachment_lists_the_first_matches_without_pairing_every_word() -> None:
    attachment = "the deal " * 60_000
    verdict = LexiconSet.compile({"p": lexicon("the NEAR/5 the", "deal NEAR/3 the")}).verdicts(
        Message(text="", attachment=attachment)
    )["p"]
    per_term = {term: [m for m in verdict.matches if m.term_id == term] for term in ("t0", "t1")}
    assert len(per_term["t0"]) == len(per_term["t1"]) == 100
    assert per_term["t0"][0].matched == "the deal the"


def test_lone_surrogates_in_a_message_do_not_break_matching() -> None:
    policies = LexiconSet.compile({"p": lexicon("whatsapp"), "r": lexicon("whats?app", regex=True)})
    verdicts = policies.verdicts(Message(text="a\ud800 WhatsApp \udfff", attachment="\ud83d whatsapp"))
    assert [m.matched for m in verdicts["p"].matches] == ["WhatsApp", "whatsapp"]
    assert [(m.field, m.start, m.matched) for m in verdicts["r"].matches] == [
        ("text", 3, "WhatsApp"),
        ("attachment", 2, "whatsapp"),
    ]


@settings(max_examples=300, deadline=None)
@given(
    words=st.lists(st.sampled_from(["a", "b", "c", "a b"]), max_size=30),
    left=st.sampled_from(["a", "b", '"a b"', '"b a"']),
    right=st.sampled_from(["a", "b", "c", '"a b"']),
    distance=st.integers(1, 6),
)
def test_near_agrees_with_the_brute_force_reference(words: list[str], left: str, right: str, distance: int) -> None:
    text = " ".join(words)
    query = parse_query(f"{left} NEAR/{distance} {right}")
    assert isinstance(query, Near)
    expected = reference_matches(query, reference_message(text))
    found = LexiconSet.compile({"p": lexicon(f"{left} NEAR/{distance} {right}")}).verdicts(Message(text=text))
    assert ("p" in found) == expected


def test_filters_alone_judge_posts_only_unless_they_name_a_type_as_search_does() -> None:
    policies = LexiconSet.compile(
        {
            "filters": lexicon("from:bob"),
            "typed": lexicon("from:bob has:file"),
            "words": lexicon("from:bob report"),
        }
    )
    bob = frozenset(person_keys("user:bob", "Bob"))
    upload = Message(text="", file_name="report.pdf", sender_keys=bob, event_type="file_upload")
    assert sorted(policies.verdicts(upload)) == ["typed", "words"]
    assert sorted(policies.verdicts(Message(text="the report", sender_keys=bob))) == ["filters", "words"]

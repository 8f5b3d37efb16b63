"""The misconduct corpus is deterministic, labelled, and scored correctly."""

from __future__ import annotations

from collections import Counter

import pytest

from ingest.events import parse_event
from supervision.corpus import LabelledMessage, from_jsonl, generate, to_jsonl
from supervision.corpus_templates import LANGUAGES, MISCONDUCT, NEAR_MISSES, TOPICS
from supervision.evaluation import Evaluation, evaluate, markdown, score
from supervision.lexicon import PolicyLexicon
from supervision.model import LexiconTerm
from tests.factories import post_payload


def test_the_same_seed_gives_the_same_corpus_and_another_seed_another() -> None:
    first = list(generate(300, seed=1))
    assert first == list(generate(300, seed=1))
    assert [m.event.message.text for m in first] != [m.event.message.text for m in generate(300, seed=2)]
    assert len({m.event.event_id for m in first}) == 300


def test_labels_round_trip_through_jsonl() -> None:
    corpus = list(generate(500, seed=3))
    assert list(from_jsonl(to_jsonl(corpus))) == corpus


def test_a_bad_label_is_refused() -> None:
    line = next(to_jsonl(generate(1, seed=3))).replace('"language": "', '"language": "xx')
    with pytest.raises(ValueError, match="not a corpus label"):
        list(from_jsonl([line]))


def test_the_corpus_mixes_misconduct_near_misses_and_chatter_in_every_language() -> None:
    corpus = list(generate(4_000, seed=1))
    topics = Counter(m.topic for m in corpus)
    near = Counter(m.near_miss for m in corpus if m.near_miss)
    assert set(topics) == {*TOPICS, None}
    assert set(near) == set(TOPICS)
    assert 0.05 < sum(topics[t] for t in TOPICS) / len(corpus) < 0.11
    assert {m.language for m in corpus} == set(LANGUAGES)
    for message in corpus:
        assert message.topic is None or message.near_miss is None
    for topic in TOPICS:
        for language in LANGUAGES:
            assert MISCONDUCT[topic][language]
            assert NEAR_MISSES[topic][language]


def message(number: int, text: str, language: str, topic: str | None) -> LabelledMessage:
    return LabelledMessage(
        event=parse_event(post_payload(number, run="eval", text=text)),  # type: ignore[arg-type]
        language=language,  # type: ignore[arg-type]
        topic=topic,  # type: ignore[arg-type]
    )


def test_precision_and_recall_on_a_hand_checked_case() -> None:
    lexicons = {
        "gifts": PolicyLexicon(terms=(LexiconTerm(id="g", expression="gift*"),), exclusions=('"gifts policy"',)),
        "complaints": PolicyLexicon(terms=(LexiconTerm(id="c", expression="complaint"),)),
    }
    corpus = [
        message(1, "a gift for you", "en", "gifts"),  # gifts: TP
        message(2, "ein Geschenk", "de", "gifts"),  # gifts: FN (German)
        message(3, "gifts policy reminder", "en", None),  # excluded: nothing flagged
        message(4, "buy the gift for Tom", "en", None),  # gifts: FP
        message(5, "a complaint about the gift", "en", "complaints"),  # complaints: TP, gifts: FP
        message(6, "furious!", "en", "complaints"),  # complaints: FN
        message(7, "lunch?", "en", None),  # nothing
    ]
    evaluation = evaluate(corpus, lexicons)
    gifts, complaints = evaluation.by_topic["gifts"], evaluation.by_topic["complaints"]
    assert evaluation.messages == 7
    assert (gifts.true_positives, gifts.false_positives, gifts.false_negatives) == (1, 2, 1)
    assert (gifts.precision, gifts.recall) == (1 / 3, 1 / 2)
    assert (complaints.true_positives, complaints.false_positives, complaints.false_negatives) == (1, 0, 1)
    assert (complaints.precision, complaints.recall) == (1.0, 0.5)
    german = evaluation.by_language[("gifts", "de")]
    assert (german.true_positives, german.false_positives, german.false_negatives) == (0, 0, 1)
    assert (german.precision, german.recall) == (None, 0.0)
    assert evaluation.by_topic["guarantees"].precision is None


def test_counting_and_the_table() -> None:
    evaluation = score([("fr", "gifts", {"gifts", "complaints"}), ("fr", None, set()), ("ja", "gifts", set())])
    assert isinstance(evaluation, Evaluation)
    assert evaluation.by_language[("gifts", "fr")].precision == 1.0
    assert evaluation.by_language[("complaints", "fr")].precision == 0.0
    assert evaluation.by_topic["gifts"].recall == 0.5
    table = markdown(evaluation)
    assert "| **gifts** | all | 1 | 0 | 1 | 100% | 50% |" in table
    assert "| complaints | fr | 0 | 1 | 0 | 0% | n/a |" in table


def test_the_example_lexicons_run_on_a_small_seed() -> None:
    evaluation = evaluate(generate(600, seed=5))
    assert evaluation.messages == 600
    for counted in evaluation.by_topic.values():
        assert counted.true_positives + counted.false_negatives > 0

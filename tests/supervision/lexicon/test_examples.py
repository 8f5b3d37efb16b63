"""The shipped example lexicons load, say they are examples, and compile."""

from __future__ import annotations

from importlib.resources import files

import pytest

from supervision.examples import EXAMPLE_HEADER, ExampleError, example_lexicons, example_policies, parse_example
from supervision.lexicon import LexiconSet, Message, PolicyLexicon, check_lexicon

TOPICS = {"guarantees", "off_channel", "gifts", "complaints"}


def test_every_topic_ships_and_every_file_says_it_is_an_example() -> None:
    shipped = {entry.name for entry in files("supervision").joinpath("lexicons").iterdir()}
    assert {f"{topic}.toml" for topic in TOPICS} <= shipped
    for name in shipped:
        text = files("supervision").joinpath("lexicons", name).read_text(encoding="utf-8")
        assert text.startswith(EXAMPLE_HEADER + "\n"), name


def test_every_example_compiles_alone_and_together() -> None:
    lexicons = example_lexicons()
    assert set(lexicons) == TOPICS
    for terms in lexicons.values():
        check_lexicon(PolicyLexicon(terms=terms))
    policies = example_policies()
    LexiconSet.compile({topic: PolicyLexicon.of(spec) for topic, spec in policies.items()})
    assert all(not spec.enabled for spec in policies.values()), "examples are drafts until adapted"


@pytest.mark.parametrize("language", ["en", "de", "fr", "es", "ja"])
def test_every_topic_has_terms_in_every_language(language: str) -> None:
    for topic, terms in example_lexicons().items():
        assert any(term.language in (language, None) for term in terms), (topic, language)


@pytest.mark.parametrize(
    ("topic", "text"),
    [
        ("guarantees", "I guarantee you returns of 12% a year"),
        ("guarantees", "Wir garantieren Ihnen eine Rendite von 8 Prozent"),
        ("guarantees", "元本保証で年利5%です"),
        ("off_channel", "let's move this to WhatsApp"),
        ("off_channel", "call my cell after the close"),
        ("gifts", "je vous invite, tous frais payés"),
        ("complaints", "Quiero poner una queja formal"),
    ],
)
def test_examples_find_what_they_are_about(topic: str, text: str) -> None:
    compiled = LexiconSet.compile({topic: PolicyLexicon(terms=example_lexicons()[topic])})
    assert topic in compiled.verdicts(Message(text=text))


def test_a_file_without_the_header_or_with_a_bad_term_is_refused() -> None:
    with pytest.raises(ExampleError, match="must start with"):
        parse_example("x", 'name = "x"\n')
    bad = f'{EXAMPLE_HEADER}\nname = "x"\n[[terms]]\nid = "t"\nexpression = "(oops"\n'
    with pytest.raises(ExampleError, match=r"x\.toml.*term 't'"):
        parse_example("x", bad)
    with pytest.raises(ExampleError, match=r"x\.toml"):
        parse_example("x", f"{EXAMPLE_HEADER}\nname = \n")

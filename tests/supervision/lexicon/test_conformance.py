"""On real IRC lines and multilingual ones, a lexicon term matches exactly the messages the
Tantivy backend finds for the same query."""

from __future__ import annotations

from collections import Counter
from itertools import islice
from pathlib import Path

import pytest

from adapters.index_adapter import TantivyIndexAdapter, posted_message
from bench.multilingual_corpus import generate, query_words
from ingest.events import PostEvent, parse_event
from ingest.irc import read_irc_file
from search.query_parser import parse_query
from search.tantivy_backend import all_hits
from search.tantivy_schema import MAX_TOKEN_BYTES
from supervision.lexicon import LexiconSet, PolicyLexicon, message_of
from supervision.model import LexiconTerm
from tests.factories import post_payload

IRC = Path(__file__).resolve().parents[2] / "data" / "ubuntu-irc" / "dev"
EUROPEAN = [
    "Je vous garantis un rendement de 8 %, c'est garanti à 100 %",
    "Wir garantieren eine Rendite – Geld-zurück-Garantie, Straße 5",
    "Le garantizamos ganancias seguras, sin riesgo",
    "Schreib mir auf WhatsApp oder ruf mein Handy an",
    "écris-moi sur WhatsApp, pas sur le chat du bureau",
    "call me on my cell, not the desk line",
    "I can't guarantee anything, sorry",
    "CAFÉ Noël déjà-vu naïve coöperate",
    "cafe\u0301 de\u0301ja\u0300 decomposed accents",
    f"call {'x' * (MAX_TOKEN_BYTES + 1)} me: a token too long between",
    "ＦＵＬＬ width ｗｏｒｄｓ and ﾃｽﾄ half width",
]


def irc_posts() -> list[PostEvent]:
    posts: list[PostEvent] = []
    for path in sorted(IRC.glob("*.raw.txt"))[:2]:
        posts += islice((e for e in read_irc_file(path) if isinstance(e, PostEvent)), 200)
    return posts


def other_posts() -> list[PostEvent]:
    texts = [m.text for m in generate(12)] + EUROPEAN
    return [parse_event(post_payload(n, run="lexicon", text=text)) for n, text in enumerate(texts)]  # type: ignore[misc]


POSTS = irc_posts() + other_posts()


def frequent_sender() -> str:
    counts = Counter(p.actor.id.removeprefix("user:") for p in POSTS)
    return counts.most_common(1)[0][0]


def frequent_mention() -> str:
    counts = Counter(m for p in POSTS for m in posted_message(p).mentions)
    return counts.most_common(1)[0][0]


QUERIES = [
    "ubuntu",
    "install*",
    '"apt-get install"',
    "apt-get NEAR/3 install",
    "install w/4 ubuntu",
    "the NEAR/6 the",
    '"how do" NEAR/6 i',
    "grub OR lilo OR xorg",
    "help -ubuntu",
    "NOT ubuntu",
    "(wine OR windows) NOT linux",
    "current:(kernel OR driver*)",
    "don't*",
    "i-c*",
    "http*",
    "x*",
    "in:#ubuntu help",
    "guarant* OR garant*",
    '"geld zurück"',
    "whatsapp OR handy",
    "call NEAR/4 cell",
    "call NEAR/2 me",
    "café OR deja*",
    "ｗｏｒｄｓ OR テスト",
    *query_words()[:10],
    "京*",
    "догов*",
    "مدرس*",
]


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("lexicon") / "index"
    adapter = TantivyIndexAdapter(folder)
    assert all(result is None for result in adapter.write(POSTS))
    adapter.close()
    return folder


@pytest.fixture(scope="module")
def matched() -> dict[str, set[str]]:
    """For every query: the messages the lexicon matches (one set of every query, as policies)."""
    queries = [*QUERIES, f"from:{frequent_sender()}", f"@{frequent_mention()}", f"from:{frequent_sender()} -ubuntu"]
    lexicons = {
        query: PolicyLexicon(terms=(LexiconTerm(id="t", expression=query),)) for query in dict.fromkeys(queries)
    }
    policies = LexiconSet.compile(lexicons)
    found: dict[str, set[str]] = {query: set() for query in lexicons}
    for post in POSTS:
        for query in policies.verdicts(message_of(post)):
            found[query].add(post.message.id)
    return found


def test_the_corpus_is_large_and_the_queries_find_something(matched: dict[str, set[str]]) -> None:
    assert len(POSTS) >= 400
    assert sum(1 for hits in matched.values() if hits) >= len(matched) - 3


def test_every_query_matches_what_the_index_finds(index_dir: Path, matched: dict[str, set[str]]) -> None:
    differences = {}
    for query, hits in matched.items():
        indexed = {hit.message_id for hit in all_hits(index_dir, parse_query(query))}
        if indexed != hits:
            differences[query] = (sorted(indexed - hits)[:3], sorted(hits - indexed)[:3])
    assert differences == {}

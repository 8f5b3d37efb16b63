"""disentangle/model.py: the trained model behind the Disentangler protocol, on small rooms."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from disentangle.features import FEATURES
from disentangle.model import (
    Disentangler,
    Link,
    ReplyModel,
    Utterance,
    Weights,
    default_disentangler,
    load_weights,
)


def room() -> list[Utterance]:
    return [
        Utterance("m1", "alice", "how do I mount an iso image on ubuntu?", 0.0),
        Utterance("m2", "bob", "my wifi stopped working after the upgrade", 20.0),
        Utterance("m3", "carol", "alice: sudo mount -o loop image.iso /mnt", 40.0),
        Utterance("m4", "dave", "bob: which card is it? lspci | grep -i net", 55.0),
        Utterance("m5", "alice", "carol: thanks, that mounted the iso", 90.0),
        Utterance("m6", "bob", "dave: an intel 3945", 95.0, action=False),
        Utterance("m7", "erin", "hello all, is there a way to list installed packages?", 400.0),
    ]


def test_the_default_disentangler_is_the_trained_model() -> None:
    model = default_disentangler()
    assert isinstance(model, ReplyModel)
    assert model.name == "reply-ff"
    assert model.window == 2 * load_weights().window
    typed: Disentangler = model
    assert typed.window > 0


def test_one_link_per_new_message_in_order() -> None:
    messages = room()
    links = ReplyModel().links(messages[:2], messages[2:])
    assert [link.id for link in links] == ["m3", "m4", "m5", "m6", "m7"]
    earlier = {"m1", "m2"}
    for link in links:
        assert isinstance(link, Link)
        assert link.parent is None or link.parent in earlier
        assert 0.0 <= link.score <= 1.0
        earlier.add(link.id)


def test_answers_go_to_the_person_addressed() -> None:
    links = {link.id: link.parent for link in ReplyModel().links([], room())}
    assert links["m1"] is None
    assert links["m3"] == "m1"
    assert links["m4"] == "m2"
    assert links["m5"] == "m3"
    assert links["m6"] == "m4"
    # A new question minutes later addresses no one: it starts a conversation.
    assert links["m7"] is None


def test_nothing_new_gives_nothing() -> None:
    assert ReplyModel().links(room(), []) == []


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0, max_value=6))
def test_links_do_not_depend_on_how_a_room_is_cut_into_batches(cut: int) -> None:
    model = ReplyModel()
    messages = room()
    whole = model.links([], messages)
    parts = model.links([], messages[:cut]) + model.links(messages[:cut], messages[cut:])
    assert [(link.id, link.parent) for link in parts] == [(link.id, link.parent) for link in whole]
    one_by_one = [
        model.links(messages[max(0, i - model.window) : i], [message])[0] for i, message in enumerate(messages)
    ]
    assert [(link.id, link.parent) for link in one_by_one] == [(link.id, link.parent) for link in whole]


def test_history_beyond_the_window_is_ignored() -> None:
    model = ReplyModel()
    filler = [Utterance(f"f{i}", f"user{i % 7}", f"chatter number {i}", float(i)) for i in range(300)]
    new = Utterance("q", "user3", "user5: and then?", 301.0)
    assert model.links(filler, [new]) == model.links(filler[-model.window :], [new])


def test_the_shipped_weights_match_the_features_and_say_where_they_come_from() -> None:
    weights = load_weights()
    assert weights.features == FEATURES
    assert weights.hidden_weights.shape == (len(FEATURES), weights.hidden_bias.shape[0])
    assert np.isfinite(weights.hidden_weights).all()
    attribution = str(weights.meta["attribution"])
    assert "Kummerfeld" in attribution
    assert "CC BY 4.0" in attribution
    assert weights.meta["trained_on"] == "train"


def test_weights_round_trip_through_json() -> None:
    weights = load_weights()
    again = Weights.from_json(weights.to_json())
    assert again.features == weights.features
    np.testing.assert_allclose(again.hidden_weights, weights.hidden_weights, atol=1e-6)
    np.testing.assert_allclose(again.output_weights, weights.output_weights, atol=1e-6)


@pytest.mark.parametrize(
    "change",
    [
        {"format": 2},
        {"mean": [0.0]},
    ],
)
def test_malformed_weights_are_refused(change: dict[str, object]) -> None:
    body = json.loads(load_weights().to_json())
    body.update(change)
    with pytest.raises(ValueError, match="weights"):
        Weights.from_json(json.dumps(body))


@pytest.mark.parametrize("text", ["not json", "[]", '{"format": 1}'])
def test_weights_that_are_not_weights_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="weights: "):
        Weights.from_json(text)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["ann", "ben", "", "Ünïcode", "x" * 40]),
            st.text(max_size=40),
            st.one_of(
                st.floats(allow_nan=True, allow_infinity=True),
                st.floats(min_value=0, max_value=1e9),
            ),
            st.booleans(),
        ),
        min_size=1,
        max_size=25,
    ),
    st.integers(min_value=0, max_value=25),
)
def test_any_messages_get_valid_links(rows: list[tuple[str, str, float, bool]], cut: int) -> None:
    messages = [Utterance(f"m{i}", author, text, at, action) for i, (author, text, at, action) in enumerate(rows)]
    cut = min(cut, len(messages) - 1)
    links = ReplyModel().links(messages[:cut], messages[cut:])
    assert [link.id for link in links] == [m.id for m in messages[cut:]]
    earlier = {m.id for m in messages[:cut]}
    for link in links:
        assert link.parent is None or link.parent in earlier
        assert 0.0 <= link.score <= 1.0
        earlier.add(link.id)

"""Reviewer's finding on the disentanglement model (issue 20): a reply link never points a message
at itself. The archive keeps a re-delivered post (two post events, one message id: see
test_production_leaks), so the processor can hand the model a message whose id is already in its
history; a link from it to itself is a one-message cycle in archive_thread_links."""

from __future__ import annotations

import pytest

from disentangle.model import AddressedNick, Disentangler, Utterance, default_disentangler


@pytest.mark.parametrize("model", [default_disentangler(), AddressedNick()], ids=["default", "addressed-nick"])
def test_no_message_is_its_own_parent(model: Disentangler) -> None:
    history = [Utterance("m1", "ann", "anyone around?", 1_700_000_000.0)]
    links = model.links(history, [Utterance("m1", "bob", "ann: yes, here", 1_700_000_005.0)])
    assert [link for link in links if link.parent == link.id] == []


def test_a_repeated_message_in_one_batch_does_not_answer_itself() -> None:
    model = default_disentangler()
    new = [
        Utterance("m0", "cy", "morning", 1_699_999_990.0),
        Utterance("m1", "ann", "anyone around?", 1_700_000_000.0),
        Utterance("m1", "bob", "ann: yes, here", 1_700_000_005.0),
    ]
    links = model.links([], new)
    assert [link.id for link in links] == ["m0", "m1", "m1"]
    assert [link for link in links if link.parent == link.id] == []

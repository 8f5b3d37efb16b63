"""Reviewer's finding on the disentanglement model (issue 20): a reply link never points a message
at itself. The archive keeps a re-delivered post (two post events, one message id: see
test_production_leaks), so the processor can hand the model a message whose id is already in its
history; a link from it to itself is a one-message cycle in archive_thread_links."""

from __future__ import annotations

import pytest

from disentangle.model import Utterance, default_disentangler


@pytest.mark.xfail(
    strict=True,
    reason="disentangle.model: the default model links a message to an earlier utterance with the same id, "
    "i.e. to itself (parent == id)",
)
def test_no_message_is_its_own_parent() -> None:
    model = default_disentangler()
    history = [Utterance("m1", "ann", "anyone around?", 1_700_000_000.0)]
    links = model.links(history, [Utterance("m1", "bob", "ann: yes, here", 1_700_000_005.0)])
    assert [link for link in links if link.parent == link.id] == []

"""Supervision (issue 22): lexicon policies, sampling and reviewer queues (FINRA 3110 / 2210).

A policy says who is supervised, which words (a lexicon in the query language, plus regular
expressions) make a message a review item, and what share of the rest is sampled. The
``supervision`` adapter turns every newly archived message that a policy matches or samples
into a review item (and an archived ``supervision_hit`` event); reviewers work the items in
queues; every change of a policy and of an item is kept and audited. See docs/supervision.md.
"""

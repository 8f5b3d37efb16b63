"""Precision and recall of lexicons on the labelled corpus (:mod:`supervision.corpus`).

A message is *flagged* for a topic when that topic's policy has a match and no exclusion
(what would become a review item). Per topic (and per topic and language): a true positive is
a flagged message labelled with the topic, a false positive a flagged message labelled
otherwise (another topic or none), a false negative a message labelled with the topic and not
flagged. Precision = TP / (TP + FP), recall = TP / (TP + FN); undefined (``None``) when the
denominator is 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from supervision.corpus import LabelledMessage
from supervision.corpus_templates import LANGUAGES, TOPICS, Language, Topic
from supervision.examples import example_policies
from supervision.lexicon import LexiconSet, PolicyLexicon, message_of


@dataclass
class Score:
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0

    @property
    def precision(self) -> float | None:
        flagged = self.true_positives + self.false_positives
        return self.true_positives / flagged if flagged else None

    @property
    def recall(self) -> float | None:
        labelled = self.true_positives + self.false_negatives
        return self.true_positives / labelled if labelled else None


@dataclass
class Evaluation:
    messages: int = 0
    by_topic: dict[Topic, Score] = field(default_factory=dict)
    by_language: dict[tuple[Topic, Language], Score] = field(default_factory=dict)


def score(outcomes: Iterable[tuple[Language, Topic | None, set[str]]]) -> Evaluation:
    """Count each message's outcome: (its language, its label, the topics flagged)."""
    evaluation = Evaluation(
        by_topic={topic: Score() for topic in TOPICS},
        by_language={(topic, language): Score() for topic in TOPICS for language in LANGUAGES},
    )
    for language, label, flagged in outcomes:
        evaluation.messages += 1
        for topic in TOPICS:
            for counted in (evaluation.by_topic[topic], evaluation.by_language[(topic, language)]):
                if topic in flagged and label == topic:
                    counted.true_positives += 1
                elif topic in flagged:
                    counted.false_positives += 1
                elif label == topic:
                    counted.false_negatives += 1
    return evaluation


def evaluate(messages: Iterable[LabelledMessage], lexicons: Mapping[str, PolicyLexicon] | None = None) -> Evaluation:
    """Score ``lexicons`` (by topic; default: the shipped examples) on ``messages``."""
    chosen = lexicons if lexicons is not None else {t: PolicyLexicon.of(s) for t, s in example_policies().items()}
    compiled = LexiconSet.compile(chosen)

    def outcomes() -> Iterable[tuple[Language, Topic | None, set[str]]]:
        for message in messages:
            verdicts = compiled.verdicts(message_of(message.event))
            flagged = {topic for topic, verdict in verdicts.items() if verdict.matches and not verdict.excluded}
            yield message.language, message.topic, flagged

    return score(outcomes())


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def markdown(evaluation: Evaluation) -> str:
    """The figures as a Markdown table: per topic, then per topic and language."""
    lines = [
        "| topic | language | TP | FP | FN | precision | recall |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for topic in TOPICS:
        rows: list[tuple[str, Score]] = [("all", evaluation.by_topic[topic])]
        rows += [(language, evaluation.by_language[(topic, language)]) for language in LANGUAGES]
        for language, counted in rows:
            name = f"**{topic}**" if language == "all" else topic
            lines.append(
                f"| {name} | {language} | {counted.true_positives} | {counted.false_positives} | "
                f"{counted.false_negatives} | {_percent(counted.precision)} | {_percent(counted.recall)} |"
            )
    return "\n".join(lines)

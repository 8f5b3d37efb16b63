"""bench/supervision.py at its quick sizes: the processor with and without supervision, the
backtest over the archive it builds, each figure there and consistent."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import func, select

from archive.schema import archive_messages
from bench.supervision import lexicon_terms, main, policy_specs, vocabulary
from ingest.db import create_db_engine
from ingest.simulate import simulate_events


def test_the_lexicons_are_seeded_and_hold_every_kind_of_term() -> None:
    words, pairs = vocabulary(list(simulate_events(events=3_000, rooms=5, users=20, seed=1)))
    first = lexicon_terms(words, pairs, 1_000, seed=4)
    assert first == lexicon_terms(words, pairs, 1_000, seed=4)
    assert len({term.id for term in first}) == 1_000
    assert {term.kind for term in first} == {"query", "regex"}
    assert any(term.expression.endswith("*") for term in first)
    assert any(" NEAR/5 " in term.expression for term in first)
    specs = policy_specs(first, [f"reviewer-{n}" for n in range(20)])
    assert len(specs) == 50
    assert sum(len(spec.lexicon) for spec in specs) == 1_000
    assert sum(1 for spec in specs if spec.sampling_percent) == 5


def test_the_quick_run_reports_the_processor_and_the_backtest(tmp_path: Path) -> None:
    section = main(["--quick", "--skip", "queue", "--workdir", str(tmp_path)])
    assert "### Processor: 2,000 events of the Ubuntu IRC logs, 50 policies of 20 terms" in section
    rows = re.findall(r"^\| processor -> (.+?) \| ([\d,]+) \| ([\d.]+) \|$", section, re.MULTILINE)
    assert len(rows) == 2
    assert "supervision" not in rows[0][0]
    made = re.search(r"supervision \(([\d,]+) items, ([\d,]+) hit events delivered too\)", rows[1][0])
    assert made is not None
    assert made.group(1) == made.group(2)
    assert int(made.group(1).replace(",", "")) > 0
    assert re.search(r"keeps \*\*\d+%\*\* of its throughput", section)
    backtest = re.search(r"backtest of a 20-term draft over ([\d,]+) messages", section)
    assert backtest is not None
    engine = create_db_engine(f"sqlite:///{tmp_path / 'backtest-5000.sqlite3'}")
    with engine.connect() as connection:
        archived = connection.execute(select(func.count()).select_from(archive_messages)).scalar_one()
    engine.dispose()
    assert int(backtest.group(1).replace(",", "")) == archived >= 5_000

"""Review benchmarks (issue 20): bulk coding of 100k documents, near-duplicate grouping of 100k
documents, and reply-link reconstruction in messages per second, each beside a raw floor
measured in the same run; ``--write`` puts the section into BENCHMARKS.md.

    .venv/bin/python -m bench.review --postgres postgresql+psycopg://postgres@127.0.0.1/test --write

The parts are ``bench/review_coding.py``, ``bench/review_duplicates.py`` and
``bench/review_threads.py`` (each runs alone too).
"""

from __future__ import annotations

import os

# One core for the model's arrays: the target is messages per second on one core. Set before
# numpy is first imported (by the parts below).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import json
from typing import Any

from bench import review_coding, review_duplicates, review_threads
from bench.common import write_section

BEGIN = "<!-- bench/review.py begin -->"
END = "<!-- bench/review.py end -->"


def parser() -> argparse.ArgumentParser:
    made = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    made.add_argument("--documents", type=int, default=100_000, help="documents to code and to group")
    made.add_argument("--postgres", help="also measure coding and a stored grouping on this PostgreSQL server")
    made.add_argument("--repeat", type=int, default=3, help="timings of grouping and threads: the best of this many")
    made.add_argument("--write", action="store_true", help="write the section into BENCHMARKS.md")
    return made


def run(args: argparse.Namespace) -> dict[str, Any]:
    coding_args = ["--documents", str(args.documents)] + (["--postgres", args.postgres] if args.postgres else [])
    duplicates_args = ["--documents", str(args.documents), "--repeat", str(args.repeat)]
    if args.postgres:
        duplicates_args += ["--postgres", args.postgres]
    return {
        "coding": review_coding.run(coding_args),
        "duplicates": review_duplicates.run(review_duplicates.parser().parse_args(duplicates_args)),
        "threads": review_threads.run(review_threads.parser().parse_args(["--repeats", str(args.repeat)])),
    }


def _seconds(value: object) -> str:
    return f"{value:.2f} s" if isinstance(value, int | float) else "-"


def report(figures: dict[str, Any]) -> str:
    coding = figures["coding"]
    lines = [
        BEGIN,
        "## Review (`bench/review.py`)",
        "",
        f"Machine: {coding['machine']}; 2 cores. Each figure beside a floor measured in the same run.",
        "",
        "### Bulk coding (`bench/review_coding.py`)",
        "",
        "One coding action over a whole review set; a coding writes a coding row and a history row per",
        "document (before and after), so twice the floor is the least it can cost.",
        "",
        "| database | documents | code all | swap a single-choice tag | select `tag:` | code that selection"
        " | floor: executemany of the rows | code all / floor |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in ("sqlite", "postgresql"):
        if name not in coding:
            continue
        one = coding[name]
        lines.append(
            f"| {name} | {one['documents']:,} | {_seconds(one['code_all_seconds'])} | {_seconds(one['swap_seconds'])}"
            f" | {_seconds(one['select_by_tag_seconds'])} | {_seconds(one['code_selection_seconds'])}"
            f" | {_seconds(one['floor_seconds'])} | {one['code_all_over_floor']}x |"
        )
    duplicates = figures["duplicates"]
    timing = duplicates["timing"]
    per = timing["seconds_per_100k"]
    lines += [
        "",
        "### Near-duplicate grouping (`bench/review_duplicates.py`)",
        "",
        f"Generated corpus (`bench/duplicate_corpus.py`, seed {duplicates['corpus']['seed']}):"
        f" {duplicates['corpus']['documents']:,} documents, {duplicates['corpus']['true_pairs']:,} true"
        f" near-duplicate pairs. MinHash (128) + LSH; default threshold {duplicates['default_threshold']}.",
        "",
        "| threshold | pairwise precision | pairwise recall | whole families |",
        "| --- | --- | --- | --- |",
    ]
    for row in duplicates["quality"]:
        lines.append(f"| {row['threshold']} | {row['precision']} | {row['recall']} | {row['families_whole']} |")
    lines += [
        "",
        "| step (seconds per 100k documents, best of runs) | seconds |",
        "| --- | --- |",
        f"| floor: normalise, shingle and hash | {per['floor_normalise_shingle_hash']} |",
        f"| sign (MinHash, numpy batches) | {per['sign']} |",
        f"| find pairs and group | {per['group']} |",
        f"| total in memory | {per['total']} |",
        f"| datasketch, one MinHash per document (for comparison) | {per['datasketch_minhash_per_document']} |",
    ]
    stored = duplicates.get("stored")
    if stored:
        lines.append(
            f"| stored set on SQLite, end to end ({stored['documents']:,} documents, scaled)"
            f" | {stored['seconds_per_100k']['compute']} (floor: reading the texts"
            f" {stored['seconds_per_100k']['floor_read_texts']}) |"
        )
    lines += [
        "",
        f"Memory: signatures {timing['signature_mb']} MB, traced peak {timing['peak_traced_mb']} MB"
        f" for {timing['documents']:,} documents.",
        "",
        "### Reply links (`bench/review_threads.py`)",
        "",
    ]
    threads = figures["threads"]
    dev = threads["dev_scores"]
    lines += [
        f"{threads['data']}: {threads['messages']:,} dev messages, model `{threads['model']}`"
        f" ({threads['candidates']} candidates, {threads['history_window']} messages of history);"
        " one process, OPENBLAS_NUM_THREADS=1.",
        "",
        "| call pattern | messages/s (wall) | messages per CPU second |",
        "| --- | --- | --- |",
    ]
    names = {
        "floor": "floor: read the messages and split their words",
        "batch": "one call per log",
        "chunks": "calls of 100 new messages with history (the adapter's pattern)",
        "single": "one call per message",
    }
    for key, label in names.items():
        one = threads[key]
        lines.append(f"| {label} | {one['messages_per_second']:,.0f} | {one['messages_per_cpu_second']:,.0f} |")
    lines += [
        "",
        f"Dev link F1: {dev['full']['link_f1']} on full lines, {dev['messages']['link_f1']} on messages only"
        " (docs/disentanglement.md has every metric and the paper's figures).",
        END,
    ]
    return "\n".join(lines)


def main() -> None:
    args = parser().parse_args()
    figures = run(args)
    print(json.dumps(figures, indent=1, default=str))
    section = report(figures)
    print(section)
    if args.write:
        write_section(section, BEGIN, END)


if __name__ == "__main__":
    main()

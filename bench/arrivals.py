"""The deadline replay's plan: who uploads what, and when (bench/deadline.py).

The window stands for the hours before a deadline: the upload rate grows exponentially towards it.
Each student climbs a ladder of notebook versions; some uploads repeat a notebook byte for byte.
"""

from __future__ import annotations

import argparse
import math
import random
from dataclasses import dataclass

import nbformat
from burst_setup import ANSWERS, lab_notebook

SUM_LINE = ANSWERS["Question 1"]
# A student's versions climb this ladder, worst first: (name, answers, score out of 3).
VARIANTS = [
    ("crashes", {**ANSWERS, "Question 1": SUM_LINE.replace('row["n"]', 'row["N"]')}, 0),
    ("off by one", {**ANSWERS, "Question 1": SUM_LINE + " + 1"}, 1),
    ("not printed", {**ANSWERS, "Question 2": "# printing it is next"}, 2),
    ("correct", ANSWERS, 3),
]
VERSION_COUNTS, VERSION_WEIGHTS = (1, 2, 3), (50, 35, 15)
# Of the identical re-uploads: back to the first version, and a group partner's notebook.
EARLIER_VERSION_SHARE = PARTNER_SHARE = 0.1


@dataclass(frozen=True)
class Upload:
    """One planned upload: when (seconds into the window), by whom, what, and why it is sent."""

    at: float
    student: int
    body: bytes
    variant: int
    kind: str  # "new version", "again", "earlier version" or "partner's"


def share_in_last(steepness: float, fraction: float) -> float:
    """Share of uploads in the last `fraction` of the window when the rate grows as
    exp(steepness * t / window)."""
    return -math.expm1(-steepness * fraction) / -math.expm1(-steepness)


def steepness_for(last_hour_share: float) -> float:
    """The curve's steepness that puts `last_hour_share` of the uploads in the last sixth."""
    low, high = 1e-6, 200.0
    for _ in range(100):
        middle = (low + high) / 2
        low, high = (
            (middle, high) if share_in_last(middle, 1 / 6) < last_hour_share else (low, middle)
        )
    return (low + high) / 2


def arrival_time(steepness: float, window: float, uniform: float) -> float:
    """A moment in the window drawn from the curve (its inverse CDF applied to `uniform`)."""
    return window / steepness * math.log1p(uniform * math.expm1(steepness))


def plan_uploads(args: argparse.Namespace) -> list[Upload]:
    """The replay, in order of time: every student's versions and the identical re-uploads."""
    rng = random.Random(args.seed)
    steepness = steepness_for(args.last_hour_share)
    # Per student, the variants of their versions in order, each a notebook of their own.
    versions = [
        sorted(rng.sample(range(len(VARIANTS)), rng.choices(VERSION_COUNTS, VERSION_WEIGHTS)[0]))
        for _ in range(args.students)
    ]
    sequences = [
        [(variant, student, "new version") for variant in own]
        for student, own in enumerate(versions)
    ]
    distinct = sum(map(len, versions))
    repeats = round(distinct * args.identical_share / (1 - args.identical_share))
    partners = round(repeats * PARTNER_SHARE) if args.students > 1 else 0
    revisers = [student for student, own in enumerate(versions) if len(own) > 1]
    earlier = min(round(repeats * EARLIER_VERSION_SHARE), len(revisers))
    for student in rng.sample(revisers, earlier):
        sequences[student].append((versions[student][0], student, "earlier version"))
    for student in rng.sample(range(args.students), partners):
        partner = rng.choice([other for other in range(args.students) if other != student])
        sequences[student].append((versions[partner][-1], partner, "partner's"))
    for _ in range(repeats - earlier - partners):
        sequence = sequences[rng.randrange(args.students)]
        position = rng.randrange(len(sequence))
        sequence.insert(position + 1, (*sequence[position][:2], "again"))
    # Written once each: cells get random ids, and a repeat must be the very same file.
    bodies = {
        (variant, author): nbformat.writes(
            lab_notebook(VARIANTS[variant][1], f"Submitted by student {author + 1}.")
        ).encode()
        for sequence in sequences
        for variant, author, _ in sequence
    }
    uploads = []
    for student, sequence in enumerate(sequences):
        moments = sorted(
            arrival_time(steepness, args.window_seconds, rng.random()) for _ in sequence
        )
        for at, (variant, author, kind) in zip(moments, sequence):
            uploads.append(Upload(at, student, bodies[variant, author], variant, kind))
    return sorted(uploads, key=lambda upload: upload.at)

"""Plate text: normalisation to the configured plate formats, and the vote over a vehicle's reads.

Pure logic (no images, no I/O), so it is tested on strings. A format is a regular expression over the plate's
characters without spaces (`[A-Z]{2}[0-9]{2}[A-Z]{3}`); a read that matches none is tried again with the
characters OCR confuses (0/O, 1/I, 5/S, 8/B, 2/Z, 6/G), fewest substitutions first, so a format decides
whether a position is a letter or a digit without this module knowing the format's layout.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from dataclasses import dataclass

CONFUSABLE: dict[str, str] = {"0": "O", "O": "0", "D": "0", "Q": "0", "1": "I", "I": "1", "L": "1", "5": "S",
                              "S": "5", "8": "B", "B": "8", "2": "Z", "Z": "2", "6": "G", "G": "6", "4": "A",
                              "A": "4", "7": "T", "T": "7"}
MAX_SUBSTITUTIONS = 3


@dataclass(frozen=True, slots=True)
class Normalised:
    text: str
    format: str | None  # the pattern it matches, None when it matches none
    substitutions: int


def clean(raw: str) -> str:
    """Upper case, letters and digits only."""
    return re.sub(r"[^A-Z0-9]", "", raw.upper())


def normalise(raw: str, formats: list[re.Pattern[str]]) -> Normalised:
    """The read fitted to the first format it (or a read with confusable characters swapped) matches."""
    text = clean(raw)
    for pattern in formats:
        if pattern.fullmatch(text):
            return Normalised(text, pattern.pattern, 0)
    slots = [i for i, c in enumerate(text) if c in CONFUSABLE]
    for count in range(1, min(MAX_SUBSTITUTIONS, len(slots)) + 1):
        for chosen in itertools.combinations(slots, count):
            chars = list(text)
            for i in chosen:
                chars[i] = CONFUSABLE[chars[i]]
            candidate = "".join(chars)
            for pattern in formats:
                if pattern.fullmatch(candidate):
                    return Normalised(candidate, pattern.pattern, count)
    return Normalised(text, None, 0)


@dataclass(frozen=True, slots=True)
class Read:
    """One frame's read of a vehicle's plate, normalised."""

    text: str
    char_probs: tuple[float, ...]
    format: str | None
    ts: float


@dataclass(frozen=True, slots=True)
class Vote:
    text: str
    confidence: float  # mean over positions of the winning character's share of the weight
    reads: int  # reads that took part (of the winning length)
    agreeing: int  # reads equal to the result
    format: str | None


def vote(reads: list[Read], formats: list[re.Pattern[str]]) -> Vote | None:
    """The plate of a pass: reads that fit a format outvote those that fit none; among them the most
    supported length wins, then each position is a vote weighted by the characters' probabilities."""
    if not reads:
        return None
    pool = [r for r in reads if r.format is not None] or reads
    lengths: defaultdict[int, float] = defaultdict(float)
    for r in pool:
        lengths[len(r.text)] += sum(r.char_probs) / max(1, len(r.char_probs))
    length = max(sorted(lengths), key=lambda n: lengths[n])
    same = [r for r in pool if len(r.text) == length and len(r.char_probs) == length]
    if not same or length == 0:
        return None
    chars, shares = [], []
    for i in range(length):
        weights: defaultdict[str, float] = defaultdict(float)
        for r in same:
            weights[r.text[i]] += r.char_probs[i]
        best = max(sorted(weights), key=lambda c: weights[c])
        chars.append(best)
        shares.append(weights[best] / max(sum(weights.values()), 1e-9))
    fitted = normalise("".join(chars), formats)
    probs = [p for r in same for p in r.char_probs]
    confidence = float(sum(shares) / length) * float(sum(probs) / len(probs))
    return Vote(fitted.text, round(confidence, 4), len(same), sum(1 for r in same if r.text == fitted.text),
                fitted.format)


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions)."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ca != cb))
    return row[-1]


def char_accuracy(pairs: list[tuple[str, str]]) -> float:
    """Share of ground-truth characters read right over (truth, read) pairs: 1 - edits / characters."""
    total = sum(len(want) for want, _ in pairs)
    edits = sum(min(len(want), edit_distance(want, got)) for want, got in pairs)
    return 1.0 - edits / total if total else 1.0

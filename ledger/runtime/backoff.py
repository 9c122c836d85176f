"""Capped exponential backoff with jitter: the wait before each retry of a failed unit of work."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """`first`, then twice as long each failure, never more than `cap`; each wait drawn from [half, all] of that
    ("equal jitter"), so processes that failed together do not retry together, and none waits next to nothing."""

    first: float = 0.25
    cap: float = 5.0
    failures: int = 0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def next_wait(self) -> float:
        ceiling = min(self.cap, self.first * 2 ** min(self.failures, 30))
        self.failures += 1
        return float(ceiling * self.rng.uniform(0.5, 1.0))

    def reset(self) -> None:
        self.failures = 0

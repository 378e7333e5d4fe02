"""Pure retry timing: exponential backoff with jitter, capped, and the give-up rule."""

from __future__ import annotations

import random


def retry_delay_s(attempts: int, *, base_s: float, cap_s: float,
                  rng: random.Random | None = None) -> float:
    """Delay before the next try after `attempts` failed ones: base * 2^(attempts-1), capped,
    then "equal jitter" (a uniform draw in the upper half) so failed rows don't retry in lockstep.
    """
    ceiling = min(cap_s, base_s * 2.0 ** max(attempts - 1, 0))
    draw: float = (rng or random.Random()).random()
    return ceiling / 2 + draw * ceiling / 2


def gives_up(attempts: int, max_attempts: int, *, retryable: bool) -> bool:
    """A permanent failure is dead at once; a transient one after `max_attempts` tries."""
    return not retryable or attempts >= max_attempts

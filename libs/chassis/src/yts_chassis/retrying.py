"""The one retry policy of the platform, on tenacity: waits that double from a first wait up to
a cap, optionally jittered. Each loop that retries states with tenacity what it retries, how
long it waits and when it stops; this module holds the wait they share and the warning line
written before each wait.

A consumer naks instead of sleeping: it asks the same wait for the delay (``Backoff.after``).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from tenacity import RetryCallState, Retrying
from tenacity.wait import wait_exponential

# What a wait is computed against outside a retry loop (``Backoff.after``).
_OUTSIDE_A_LOOP = Retrying()


class Backoff(wait_exponential):
    """``first``, ``2 * first``, ``4 * first``... at most ``longest``; each wait multiplied by a
    random factor between ``1 - jitter`` and 1, so that replicas that failed together do not
    come back together."""

    def __init__(self, first: float, longest: float, *, jitter: float = 0.0) -> None:
        super().__init__(multiplier=first, max=longest)
        self.jitter = jitter

    def __call__(self, retry_state: RetryCallState) -> float:
        return self.after(retry_state.attempt_number)

    def after(self, failures: int) -> float:
        """The wait after ``failures`` failed attempts in a row (the first wait after one)."""
        state = RetryCallState(_OUTSIDE_A_LOOP, None, (), {})
        state.attempt_number = max(1, failures)
        raw = super().__call__(state)
        return raw * random.uniform(1.0 - self.jitter, 1.0) if self.jitter else raw


def warn_before_retry(log: Any, message: str, **fields: Any) -> Callable[[RetryCallState], None]:
    """tenacity's ``before_sleep``: one warning per failed attempt, with the error, how many
    attempts failed in a row and the wait before the next one."""

    def warn(retry_state: RetryCallState) -> None:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        log.warning(
            message,
            **fields,
            error=repr(error),
            failures=retry_state.attempt_number,
            retry_in_seconds=round(retry_state.upcoming_sleep, 2),
        )

    return warn

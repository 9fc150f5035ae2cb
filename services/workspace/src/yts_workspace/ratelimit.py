"""How often sign-in links may be asked for: per address and per client, in a sliding window.
Kept in memory: each instance counts its own requests (with N instances an address gets at
most N times the allowance), enough to stop a mailbox being flooded by mistake or by a script."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable


class SlidingWindow:
    def __init__(
        self, allowed: int, seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.allowed = allowed
        self.seconds = seconds
        self.clock = clock
        self._seen: defaultdict[str, deque[float]] = defaultdict(deque)

    def allow(self, *keys: str) -> bool:
        """Count one request for each key; False (nothing counted) when any is over."""
        now = self.clock()
        for key in keys:
            seen = self._seen[key]
            while seen and now - seen[0] > self.seconds:
                seen.popleft()
        if any(len(self._seen[key]) >= self.allowed for key in keys):
            return False
        for key in keys:
            self._seen[key].append(now)
        return True

"""The milestone engine: inside the transaction of the fact that moves a count (a module
completed, a session delivered), add to the counters and record and publish (outbox) each
milestone whose threshold the step crosses, exactly once."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from yts_chassis.outbox import Outbox
from yts_contracts.milestones import MilestoneKind, MilestoneReached, MilestoneSubject, milestone_id

from yts_sessions import store
from yts_sessions.milestones.rules import Increment, MilestoneRule, Step, crossed
from yts_sessions.store import Milestone


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class MilestoneEngine:
    outbox: Outbox
    rules: tuple[MilestoneRule, ...]
    timezone: ZoneInfo
    now: Callable[[], datetime] = _now

    def reached_at(self, happened_on: date) -> datetime:
        """When a milestone was reached: the day of the fact that crossed its threshold, so
        that facts recorded late count in the month they belong to; the moment of recording
        when the fact happened today (the programme's calendar)."""
        now = self.now()
        if happened_on >= now.astimezone(self.timezone).date():
            return now
        return datetime.combine(happened_on, time.min, self.timezone).astimezone(UTC)

    async def advance(
        self,
        session: AsyncSession,
        increments: Sequence[Increment],
        caused_by: str,
        happened_on: date,
    ) -> None:
        """Add the increments to the counters (one statement) and publish each milestone
        whose threshold they cross. The counter statement serialises concurrent transactions
        on each row, so exactly one of them sees a threshold crossed; the milestone's key is
        the second guard."""
        now = self.now()
        reached_at = self.reached_at(happened_on)
        counts = await store.increment(
            session, [(i.subject.key, i.count.value, i.by) for i in increments]
        )
        for increment in increments:
            after = counts[(increment.subject.key, increment.count.value)]
            step = Step(increment.subject, increment.count, after - increment.by, after)
            for rule in crossed(self.rules, step):
                subject = increment.subject
                milestone = Milestone(
                    milestone_id=milestone_id(rule.kind, subject.type, subject.id),
                    kind=rule.kind.value,
                    subject_type=subject.type.value,
                    subject_id=subject.id,
                    reached_at=reached_at,
                    evidence={increment.count.value: after},
                    caused_by=caused_by,
                )
                if not await store.record_milestone(session, milestone):
                    continue
                await self.outbox.add(
                    session,
                    MilestoneReached(
                        milestone_id=milestone.milestone_id,
                        kind=MilestoneKind(milestone.kind),
                        subject=MilestoneSubject(type=subject.type, id=subject.id),
                        reached_at=reached_at,
                        evidence=milestone.evidence,
                        caused_by=uuid.UUID(caused_by),
                    ),
                    time=now,
                )

"""Milestones: the rules (what is counted, each kind's threshold, which thresholds a step
crosses; pure) and the engine that applies them in a use case's transaction."""

from yts_sessions.milestones.engine import MilestoneEngine
from yts_sessions.milestones.rules import (
    Count,
    Increment,
    MilestoneRule,
    Step,
    Subject,
    crossed,
    milestone_rules,
    module_increments,
    session_increments,
)

__all__ = [
    "Count",
    "Increment",
    "MilestoneEngine",
    "MilestoneRule",
    "Step",
    "Subject",
    "crossed",
    "milestone_rules",
    "module_increments",
    "session_increments",
]

"""``yts up --demo`` / ``yts demo``: fill an empty system with a living programme through the
public HTTP API, so that every rule applies and every event flows as in real use.

- ``plan``: the programme as data, a pure function of the day and a seed;
- ``loader``: posting a plan to the services, retrying what is retryable;
- ``console``: the terminal's progress bars and the closing "where to look".
"""

from yts_deploy.demo.console import run_demo
from yts_deploy.demo.loader import DemoError, DemoLoader, Loaded, Steps, fill, indicator_value
from yts_deploy.demo.plan import (
    DISTRICTS,
    SCALES,
    CohortPlan,
    DemoScale,
    Plan,
    SchoolPlan,
    SessionPlan,
    TrainerPlan,
    build_plan,
    demo_cohorts,
)

__all__ = [
    "DISTRICTS",
    "SCALES",
    "CohortPlan",
    "DemoError",
    "DemoLoader",
    "DemoScale",
    "Loaded",
    "Plan",
    "SchoolPlan",
    "SessionPlan",
    "Steps",
    "TrainerPlan",
    "build_plan",
    "demo_cohorts",
    "fill",
    "indicator_value",
    "run_demo",
]

"""The milestone rules as pure functions (no broker, no database): which kinds a step of a
count crosses, what a module or a session adds to the counts, and the subjects' keys. The
engine that applies them in a transaction is tested over HTTP in test_milestones.py."""

from __future__ import annotations

import uuid
from itertools import accumulate, pairwise

from hypothesis import given
from hypothesis import strategies as st
from yts_contracts.milestones import MilestoneKind, SubjectType
from yts_sessions.milestones import (
    Count,
    Increment,
    Step,
    Subject,
    crossed,
    milestone_rules,
    module_increments,
    session_increments,
)
from yts_sessions.settings import MilestoneThresholds

RULES = milestone_rules(MilestoneThresholds(), core_modules=6)
TRAINER = Subject.trainer(uuid.UUID(int=1))
SCHOOL = Subject.school(uuid.UUID(int=2))
PROGRAMME = Subject.programme()


def kinds(step: Step) -> list[str]:
    return [rule.kind.value for rule in crossed(RULES, step)]


def test_every_kind_has_one_rule_about_its_own_subject_type() -> None:
    assert sorted(rule.kind for rule in RULES) == sorted(MilestoneKind)
    by_count = {rule.kind: rule.count for rule in RULES}
    assert by_count[MilestoneKind.TRAINER_CERTIFIED] is Count.CORE_MODULES_COMPLETED
    assert by_count[MilestoneKind.SCHOOL_SESSIONS_20] is Count.SESSIONS_DELIVERED
    assert by_count[MilestoneKind.TRAINER_SESSIONS_5] is Count.SESSIONS_FACILITATED


def test_certification_follows_the_number_of_core_modules() -> None:
    rules = milestone_rules(MilestoneThresholds(), core_modules=4)
    (certified,) = [r for r in rules if r.kind is MilestoneKind.TRAINER_CERTIFIED]
    assert certified.threshold == 4


def test_a_step_crosses_the_thresholds_in_before_exclusive_after_inclusive() -> None:
    assert kinds(Step(TRAINER, Count.SESSIONS_FACILITATED, 0, 1)) == ["trainer.first_session"]
    assert kinds(Step(TRAINER, Count.SESSIONS_FACILITATED, 1, 2)) == []
    assert kinds(Step(TRAINER, Count.SESSIONS_FACILITATED, 4, 5)) == ["trainer.sessions.5"]
    assert kinds(Step(TRAINER, Count.SESSIONS_FACILITATED, 5, 6)) == []
    # One step may cross several thresholds at once.
    assert kinds(Step(TRAINER, Count.SESSIONS_FACILITATED, 0, 7)) == [
        "trainer.first_session",
        "trainer.sessions.5",
    ]
    assert kinds(Step(PROGRAMME, Count.PEER_PARTICIPATIONS, 999, 10_000)) == [
        "programme.peers.1000",
        "programme.peers.5000",
        "programme.peers.10000",
    ]


def test_a_step_reaches_only_the_kinds_of_its_subject_and_count() -> None:
    # 100 peers of a school or of the programme is not trainer.peers.100.
    assert kinds(Step(SCHOOL, Count.PEER_PARTICIPATIONS, 0, 100)) == []
    assert kinds(Step(PROGRAMME, Count.PEER_PARTICIPATIONS, 0, 100)) == []
    assert kinds(Step(TRAINER, Count.PEER_PARTICIPATIONS, 0, 100)) == ["trainer.peers.100"]
    # Sessions a school delivered are not sessions a trainer facilitated.
    assert kinds(Step(SCHOOL, Count.SESSIONS_DELIVERED, 0, 1)) == ["school.first_session"]
    assert kinds(Step(TRAINER, Count.SESSIONS_DELIVERED, 0, 1)) == []
    assert kinds(Step(TRAINER, Count.CORE_MODULES_COMPLETED, 5, 6)) == ["trainer.certified"]


@given(st.lists(st.integers(min_value=0, max_value=700), max_size=40))
def test_a_growing_count_crosses_each_threshold_it_passes_exactly_once(
    increments: list[int],
) -> None:
    counts = [0, *accumulate(increments)]
    reached = [
        rule.kind
        for before, after in pairwise(counts)
        for rule in crossed(RULES, Step(PROGRAMME, Count.PEER_PARTICIPATIONS, before, after))
    ]
    expected = [
        rule.kind
        for rule in RULES
        if rule.count is Count.PEER_PARTICIPATIONS
        and rule.kind.subject_type is SubjectType.PROGRAMME
        and rule.threshold <= counts[-1]
    ]
    assert sorted(reached) == sorted(expected)
    assert len(reached) == len(set(reached))


def test_only_a_core_module_moves_a_count() -> None:
    trainer_id = uuid.uuid4()
    assert module_increments(trainer_id, core=False) == []
    assert module_increments(trainer_id, core=True) == [
        Increment(Subject.trainer(trainer_id), Count.CORE_MODULES_COMPLETED, 1)
    ]


def test_a_session_adds_its_peers_and_a_session_to_the_programme_school_and_each_trainer() -> None:
    school_id = uuid.uuid4()
    a, b = uuid.uuid4(), uuid.uuid4()
    increments = session_increments(school_id, [a, b], participants=12)
    assert {(i.subject.key, i.count, i.by) for i in increments} == {
        ("programme", Count.PEER_PARTICIPATIONS, 12),
        (f"school:{school_id}", Count.SESSIONS_DELIVERED, 1),
        (f"trainer:{a}", Count.SESSIONS_FACILITATED, 1),
        (f"trainer:{a}", Count.PEER_PARTICIPATIONS, 12),
        (f"trainer:{b}", Count.SESSIONS_FACILITATED, 1),
        (f"trainer:{b}", Count.PEER_PARTICIPATIONS, 12),
    }
    assert len(increments) == 6


@given(st.lists(st.uuids(), min_size=1, max_size=4, unique=True), st.uuids())
def test_a_sessions_increments_come_in_one_order_whatever_the_facilitators_order(
    facilitators: list[uuid.UUID], school_id: uuid.UUID
) -> None:
    """Concurrent transactions take the counters' rows in the same order: no deadlock."""
    forward = session_increments(school_id, facilitators, 3)
    backward = session_increments(school_id, list(reversed(facilitators)), 3)
    assert forward == backward
    keys = [(i.subject.key, i.count.value) for i in forward]
    assert keys == sorted(keys)


def test_subject_keys_name_the_type_and_the_id() -> None:
    assert PROGRAMME.key == "programme"
    assert TRAINER.key == f"trainer:{uuid.UUID(int=1)}"
    assert SCHOOL.key == f"school:{uuid.UUID(int=2)}"
    assert TRAINER.type is SubjectType.TRAINER

"""Event contracts of the Young Trainers' School platform.

Pydantic models of every event's data, the CloudEvents binding over NATS, the catalogue
(type -> model -> stream) and the streams. Partners install this package to read events.
"""

from yts_contracts.catalog import CATALOG, Catalog, EventSpec
from yts_contracts.credentials import (
    Achievement,
    CredentialIssued,
    CredentialRevoked,
    RevocationReason,
)
from yts_contracts.enrolment import (
    CohortOpened,
    SchoolRegistered,
    TrainerEnrolled,
    TrainerErased,
    TrainerWithdrawn,
    WithdrawalReason,
)
from yts_contracts.envelope import (
    CloudEventAttributes,
    ContractViolation,
    EventData,
    NatsEnvelope,
    ReceivedEvent,
    from_nats,
    read_attributes,
    schema_uri,
    to_nats,
)
from yts_contracts.milestones import (
    MILESTONE_NAMESPACE,
    MilestoneKind,
    MilestoneReached,
    MilestoneSubject,
    SubjectType,
    milestone_id,
)
from yts_contracts.private import SchoolContact
from yts_contracts.sessions import (
    CancellationReason,
    Feedback,
    ModuleCompleted,
    Participants,
    SessionCancelled,
    SessionCompleted,
)
from yts_contracts.streams import (
    CREDENTIALS_STREAM,
    DLQ_STREAM,
    ENROLMENT_STREAM,
    MILESTONES_STREAM,
    PRIVATE_STREAM,
    SESSIONS_STREAM,
    STREAMS,
    StreamSpec,
    stream_for_subject,
    stream_named,
)
from yts_contracts.vocabulary import District, Gender, Grade

__version__ = "0.1.0"

__all__ = [
    "CATALOG",
    "CREDENTIALS_STREAM",
    "DLQ_STREAM",
    "ENROLMENT_STREAM",
    "MILESTONES_STREAM",
    "MILESTONE_NAMESPACE",
    "PRIVATE_STREAM",
    "SESSIONS_STREAM",
    "STREAMS",
    "Achievement",
    "CancellationReason",
    "Catalog",
    "CloudEventAttributes",
    "CohortOpened",
    "ContractViolation",
    "CredentialIssued",
    "CredentialRevoked",
    "District",
    "EventData",
    "EventSpec",
    "Feedback",
    "Gender",
    "Grade",
    "MilestoneKind",
    "MilestoneReached",
    "MilestoneSubject",
    "ModuleCompleted",
    "NatsEnvelope",
    "Participants",
    "ReceivedEvent",
    "RevocationReason",
    "SchoolContact",
    "SchoolRegistered",
    "SessionCancelled",
    "SessionCompleted",
    "StreamSpec",
    "SubjectType",
    "TrainerEnrolled",
    "TrainerErased",
    "TrainerWithdrawn",
    "WithdrawalReason",
    "from_nats",
    "milestone_id",
    "read_attributes",
    "schema_uri",
    "stream_for_subject",
    "stream_named",
    "to_nats",
]

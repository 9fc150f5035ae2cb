"""Private events: adults' work contacts the platform's own services need, never partners.

Published by the enrolment service on ``yts.private.>`` (stream ``YTS_PRIVATE``), which is
internal: partner accounts cannot read it, and nothing here is forwarded to webhooks.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from yts_contracts.event import EventData
from yts_contracts.streams import PRIVATE_STREAM
from yts_contracts.vocabulary import Id

# Deliberately simple: one "@", a dot in the domain, no spaces. The enrolment service checks
# deliverability; the contract only keeps obvious garbage out.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class SchoolContact(EventData):
    event_type: ClassVar[str] = "yts.private.enrolment.school.contact.v1"
    stream: ClassVar[str] = PRIVATE_STREAM
    description: ClassVar[str] = (
        "The current work contact of a school's coordinator (its deputy principal, an adult). "
        "Published when a school is registered and whenever its coordinator or their contact "
        "changes; the latest event per school_id wins. Internal only: it feeds the notification "
        "service's mail to coordinators and is never readable by partners."
    )

    school_id: Id = Field(description="School whose coordinator this is.")
    coordinator_name: str = Field(
        min_length=1,
        max_length=200,
        description="Full name of the coordinator, as used to address them in mail.",
    )
    email: str = Field(
        max_length=254,
        pattern=EMAIL_PATTERN,
        description="Work email address of the coordinator.",
    )
    locale: Literal["kk", "ru", "en"] = Field(
        description="Language the coordinator reads mail in: kk, ru or en.",
    )

    def ce_subject(self) -> str:
        return str(self.school_id)

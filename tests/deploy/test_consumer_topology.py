"""Provisioning and the services agree on the durable consumers. Each service declares its own
in its ``subscriptions.py``; deploy, installed without the services, keeps the operator's list
of every service's consumers (``yts_deploy.topology``), which ``yts provision`` creates and
deploy/nats grants. The two lists must be the same, field for field, and each service's app
must bind its subscribers to exactly the consumers it declares: a consumer a service reads
but provisioning never creates would keep that service from starting, and one provisioned
but never read would pile up messages forever."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from yts_chassis.topology import DurableConsumer
from yts_credentials import subscriptions as credentials_subscriptions
from yts_credentials.main import create_app as credentials_app
from yts_credentials.settings import CredentialsSettings
from yts_deploy.natsconfig import SERVICE_USERS
from yts_deploy.topology import SERVICE_CONSUMERS, consumers_of
from yts_enrolment import subscriptions as enrolment_subscriptions
from yts_enrolment.main import create_app as enrolment_app
from yts_enrolment.settings import EnrolmentSettings
from yts_notifications import subscriptions as notifications_subscriptions
from yts_notifications.main import create_app as notifications_app
from yts_notifications.settings import NotificationsSettings
from yts_reporting import subscriptions as reporting_subscriptions
from yts_reporting.main import create_app as reporting_app
from yts_reporting.settings import ReportingSettings
from yts_sessions import subscriptions as sessions_subscriptions
from yts_sessions.main import create_app as sessions_app
from yts_sessions.settings import SessionsSettings

from tests.support.services import settings_for

# What each service declares it reads.
DECLARED: dict[str, tuple[DurableConsumer, ...]] = {
    "enrolment": enrolment_subscriptions.CONSUMERS,
    "sessions": sessions_subscriptions.CONSUMERS,
    "notifications": notifications_subscriptions.CONSUMERS,
    "reporting": reporting_subscriptions.CONSUMERS,
    "credentials": credentials_subscriptions.CONSUMERS,
}
APPS: dict[str, tuple[Any, type[Any]]] = {
    "enrolment": (enrolment_app, EnrolmentSettings),
    "sessions": (sessions_app, SessionsSettings),
    "notifications": (notifications_app, NotificationsSettings),
    "reporting": (reporting_app, ReportingSettings),
    "credentials": (credentials_app, CredentialsSettings),
}


def test_every_service_with_a_nats_user_is_accounted_for() -> None:
    assert set(DECLARED) == set(SERVICE_USERS)
    assert {c.service for c in SERVICE_CONSUMERS} <= set(DECLARED)


@pytest.mark.parametrize("service", sorted(DECLARED))
def test_provisioning_creates_exactly_the_consumers_a_service_declares(service: str) -> None:
    declared = DECLARED[service]
    assert all(c.service == service for c in declared)
    assert sorted(consumers_of(service), key=str) == sorted(declared, key=str)


def test_no_two_consumers_share_a_durable_name_on_one_stream() -> None:
    names = [(c.stream, c.durable) for c in SERVICE_CONSUMERS]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("service", sorted(APPS))
def test_a_services_subscribers_bind_exactly_the_consumers_it_declares(
    service: str, tmp_path: Path
) -> None:
    create_app, settings_type = APPS[service]
    # Building the app connects to nothing: the broker and the database start in its lifespan.
    app = create_app(
        settings_for(
            settings_type,
            nats_url="nats://127.0.0.1:9",
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
        )
    )
    bound = sorted(
        (s.stream.name, s.config.durable_name, s.subject.broker_address)
        for s in app.state.runtime.broker.subscribers
    )
    assert bound == sorted((c.stream, c.durable, c.filter_subject) for c in DECLARED[service])

"""Settings refuse bad values at start-up naming the variable; who holds a bearer token is
decided from the service's copy of the access bucket: static tokens by their hash, with expiry
and revocation; people's signed tokens by signature, lifetime and revocation; nothing before
the copy has loaded. (The same on running services, through NATS: tests/access.)"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr, ValidationError
from yts_chassis.access import AccessView, Role, SigningKey, TokenRecord, hash_token
from yts_chassis.access.records import Revocation, person_key, session_key, signing_key_key
from yts_chassis.auth import Authenticator
from yts_chassis.errors import Problem
from yts_chassis.settings import ServiceSettings, SettingsError, load_settings
from yts_enrolment.settings import EnrolmentSettings
from yts_notifications.settings import NotificationsSettings
from yts_reporting.settings import ReportingSettings
from yts_sessions.settings import SessionsSettings


def test_a_bad_setting_stops_the_service_with_the_variable_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("YTS_ENROLMENT_NATS_URL", "http://localhost:4222")
    monkeypatch.setenv("YTS_ENROLMENT_DATABASE_URL", "mysql://nope")
    with pytest.raises(SettingsError) as stopped:
        load_settings(EnrolmentSettings)
    message = str(stopped.value)
    assert "YTS_ENROLMENT_NATS_URL" in message
    assert "YTS_ENROLMENT_DATABASE_URL" in message


@pytest.mark.parametrize(
    ("settings_type", "variable"),
    [
        (SessionsSettings, "YTS_SESSIONS_TIMEZONE"),
        (ReportingSettings, "YTS_REPORTING_PROGRAMME_TIMEZONE"),
        (NotificationsSettings, "YTS_NOTIFICATIONS_SUMMARY_TIMEZONE"),
    ],
)
def test_an_unknown_time_zone_stops_the_service_with_the_variable_named(
    monkeypatch: pytest.MonkeyPatch, settings_type: type[ServiceSettings], variable: str
) -> None:
    monkeypatch.setenv(variable, "Asia/Atlantis")
    with pytest.raises(SettingsError) as stopped:
        load_settings(settings_type)
    assert f"{variable}: Value error, unknown time zone 'Asia/Atlantis'" in str(stopped.value)


def test_a_service_reads_only_its_own_prefix_and_nested_settings_with_a_double_underscore(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("YTS_SESSIONS_MILESTONES__TRAINER_SESSIONS_5", "7")
    monkeypatch.setenv("YTS_SESSIONS_TIMEZONE", "Asia/Qostanay")
    monkeypatch.setenv("YTS_REPORTING_NATS_URL", "nats://elsewhere:4222")
    settings = load_settings(SessionsSettings)
    assert settings.milestones.trainer_sessions_5 == 7
    assert settings.timezone == "Asia/Qostanay"
    assert settings.nats_url == "nats://127.0.0.1:4222"


NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
SCHOOL = uuid.uuid4()


class Copy:
    """A service's copy of the access bucket, fed here as its watch would feed it."""

    def __init__(self) -> None:
        self.view = AccessView()
        self.view.loaded = True
        self.revision = 0
        self.auth = Authenticator(SecretStr("yts_bootstrap"), self.view, clock=lambda: NOW)

    def put(self, key: str, value: object) -> None:
        self.revision += 1
        raw = value.model_dump_json() if hasattr(value, "model_dump_json") else json.dumps(value)
        self.view.apply(key, self.revision, raw.encode())

    def token(self, role: Role, school: uuid.UUID | None = None, **changes: object) -> str:
        token = f"yts_token-{self.revision}"
        record = {
            "id": f"id{self.revision}",
            "role": role,
            "label": "UNESCO office",
            "school_id": school,
            "created_at": NOW - timedelta(days=30),
            "expires_at": NOW + timedelta(days=335),
            **changes,
        }
        self.put(f"token.{hash_token(token)}", TokenRecord.model_validate(record))
        return token

    async def refusal(self, token: str) -> tuple[int, str]:
        with pytest.raises(Problem) as refused:
            await self.auth.authenticate(token)
        return refused.value.status, refused.value.title


async def test_a_static_token_is_known_by_its_hash_with_its_role_and_school() -> None:
    copy = Copy()
    token = copy.token(Role.coordinator, SCHOOL)
    principal = await copy.auth.authenticate(token)
    assert (principal.role, principal.school_id) == (Role.coordinator, SCHOOL)
    assert principal.caller == hash_token(token)
    assert await copy.refusal("yts_mistyped") == (401, "Unknown token")


async def test_an_expired_or_revoked_static_token_is_refused_saying_which() -> None:
    copy = Copy()
    expired = copy.token(Role.partner, expires_at=NOW)
    revoked = copy.token(Role.partner, revoked_at=NOW - timedelta(minutes=1))
    assert await copy.refusal(expired) == (401, "Token expired")
    assert await copy.refusal(revoked) == (401, "Token revoked")
    assert copy.auth.identify(revoked) is None


async def test_until_the_copy_has_loaded_only_the_bootstrap_admin_is_answered() -> None:
    copy = Copy()
    token = copy.token(Role.partner)
    copy.view.loaded = False
    assert await copy.refusal(token) == (503, "Access data not loaded yet")
    assert (await copy.auth.authenticate("yts_bootstrap")).role is Role.admin


def test_a_coordinator_token_needs_a_school_and_others_may_not_have_one() -> None:
    base = {"id": "x", "label": "x", "created_at": NOW, "expires_at": NOW}
    with pytest.raises(ValidationError, match="bound to a school"):
        TokenRecord.model_validate({**base, "role": "coordinator"})
    with pytest.raises(ValidationError, match="only coordinator"):
        TokenRecord.model_validate({**base, "role": "partner", "school_id": str(SCHOOL)})


def test_an_entry_that_does_not_parse_counts_as_no_token() -> None:
    copy = Copy()
    token = copy.token(Role.partner)
    copy.revision += 1
    copy.view.apply(f"token.{hash_token(token)}", copy.revision, b"{not json")
    assert copy.auth.identify(token) is None


def signed_in(copy: Copy, key: SigningKey | None = None) -> SigningKey:
    key = key or SigningKey.generate()
    copy.put(signing_key_key(key.kid), key.public_jwk())
    return key


def mint(key: SigningKey, **changes: object) -> str:
    claims: dict[str, object] = {
        "person_id": PERSON,
        "role": Role.coordinator,
        "school_id": SCHOOL,
        "session_id": "s-1",
        "now": NOW - timedelta(minutes=1),
        **changes,
    }
    return key.mint(**claims)  # type: ignore[arg-type]


PERSON = uuid.uuid4()


async def test_a_persons_signed_token_names_the_person_their_role_and_school() -> None:
    copy = Copy()
    principal = await copy.auth.authenticate(mint(signed_in(copy)))
    assert (principal.role, principal.school_id) == (Role.coordinator, SCHOOL)
    assert (principal.person_id, principal.session_id) == (PERSON, "s-1")
    assert principal.caller == f"person:{PERSON}"


async def test_an_expired_tampered_or_foreign_signed_token_is_refused() -> None:
    copy = Copy()
    key = signed_in(copy)
    expired = mint(key, now=NOW - timedelta(minutes=6))
    assert await copy.refusal(expired) == (401, "Sign-in expired")
    header, claims, signature = mint(key).split(".")
    staff = json.loads(_b64decode(claims)) | {"role": "admin", "school_id": None}
    tampered = ".".join((header, _b64encode(json.dumps(staff)), signature))
    assert await copy.refusal(tampered) == (401, "Invalid access token")
    stranger = mint(SigningKey.generate())  # its key is not in the bucket
    assert await copy.refusal(stranger) == (401, "Invalid access token")
    assert await copy.refusal("not.a.token") == (401, "Invalid access token")


async def test_a_signed_token_may_not_live_longer_than_fifteen_minutes() -> None:
    key = SigningKey.generate()
    with pytest.raises(ValueError, match="lifetime"):
        mint(key, lifetime=timedelta(minutes=16))


async def test_a_withdrawn_signing_key_refuses_its_tokens() -> None:
    copy = Copy()
    key = signed_in(copy)
    token = mint(key)
    assert copy.auth.identify(token) is not None
    copy.revision += 1
    copy.view.apply(signing_key_key(key.kid), copy.revision, None)
    assert copy.auth.identify(token) is None


async def test_an_ended_session_or_a_revoked_person_is_refused_and_a_later_sign_in_is_not() -> None:
    copy = Copy()
    key = signed_in(copy)
    copy.put(session_key("s-1"), Revocation(revoked_at=NOW - timedelta(seconds=30)))
    assert await copy.refusal(mint(key)) == (401, "Signed out")
    other_session = mint(key, session_id="s-2")
    assert (await copy.auth.authenticate(other_session)).session_id == "s-2"

    copy.put(person_key(PERSON), Revocation(revoked_at=NOW - timedelta(seconds=30)))
    assert await copy.refusal(other_session) == (401, "Access revoked")
    after = mint(key, session_id="s-3", now=NOW - timedelta(seconds=10))
    assert (await copy.auth.authenticate(after)).session_id == "s-3"


def test_a_person_signs_in_as_staff_or_as_a_coordinator_of_one_school() -> None:
    key = SigningKey.generate()
    with pytest.raises(ValueError, match="signs in as"):
        mint(key, role=Role.partner, school_id=None)
    with pytest.raises(ValueError, match="bound to a school"):
        mint(key, role=Role.admin)
    with pytest.raises(ValueError, match="bound to a school"):
        mint(key, school_id=None)


def _b64decode(part: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _b64encode(text: str) -> str:
    import base64

    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

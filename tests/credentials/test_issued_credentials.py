"""A trainer's milestone becomes one Open Badges 3.0 credential, on the real JetStream and a
real database, and every credential is checked by means independent of the service: the
signature with ``cryptography`` and the JWKS fetched over HTTP, 1EdTech's JSON Schema, the
JSON-LD contexts, and the status list decoded by hand."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import OKPKey
from jsonschema import Draft201909Validator
from nats.aio.client import Client as NatsClient
from yts_contracts import (
    CREDENTIALS_STREAM,
    ENROLMENT_STREAM,
    CredentialIssued,
    MilestoneKind,
    TrainerEnrolled,
)
from yts_contracts.enrolment import TrainerErased

from tests.support.credentials import OB3_SCHEMA, Facts, jwt_parts, revoked_bit, signature_verifies
from tests.support.events import stream_messages
from tests.support.services import eventually

OB3_CONTEXT = Path(__file__).parent / "ob_v3p0_context-3.0.3.json"


async def issued_events(nc: NatsClient, trainer_id: uuid.UUID) -> list[dict[str, Any]]:
    messages = await stream_messages(nc.jetstream(), CREDENTIALS_STREAM, timeout=0.3)
    return [
        json.loads(msg.data)
        for msg in messages
        if msg.subject == CredentialIssued.event_type
        and json.loads(msg.data)["trainer_id"] == str(trainer_id)
    ]


async def credential_of(
    nc: NatsClient, trainer_id: uuid.UUID, count: int = 1
) -> list[dict[str, Any]]:
    async def issued() -> list[dict[str, Any]]:
        found = await issued_events(nc, trainer_id)
        return found if len(found) >= count else []

    return await eventually(issued, timeout=20)


async def enrolled(facts: Facts) -> tuple[uuid.UUID, uuid.UUID]:
    trainer_id, school_id = uuid.uuid4(), uuid.uuid4()
    await facts.publish(
        TrainerEnrolled(
            trainer_id=trainer_id,
            school_id=school_id,
            cohort_id=uuid.uuid4(),
            grade=10,
            gender="female",
            languages=["kk"],
            enrolled_at=datetime.now(UTC),
        )
    )

    async def applied() -> bool:
        # The trainer's school is known before their milestone comes (two streams, no order).
        info = await facts.js.consumer_info(ENROLMENT_STREAM, "credentials-trainers")
        return info.num_pending == 0 and info.num_ack_pending == 0

    await eventually(applied, timeout=20)
    return trainer_id, school_id


async def token_of(credentials: httpx.AsyncClient, credential_id: str) -> str:
    answer = await credentials.get(f"/credentials/{credential_id}.jwt")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/vc+jwt")
    return answer.text


async def awarded(
    credentials: httpx.AsyncClient, facts: Facts, nc: NatsClient, kind: MilestoneKind
) -> tuple[uuid.UUID, dict[str, Any], str]:
    """An enrolled trainer who reached ``kind``: their id, the credential.issued event and
    the credential (VC-JWT) as its holder downloads it."""
    trainer_id, _ = await enrolled(facts)
    await facts.milestone(kind, trainer_id)
    [event] = await credential_of(nc, trainer_id)
    return trainer_id, event, await token_of(credentials, event["credential_id"])


async def verdict_of(credentials: httpx.AsyncClient, credential: Any) -> str:
    answer = await credentials.post("/v1/verifications", json={"credential": credential})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["verdict"])


async def test_a_certified_trainer_gets_exactly_one_credential_even_when_milestones_replay(
    credentials: httpx.AsyncClient, facts: Facts, module_nc: NatsClient
) -> None:
    trainer_id, school_id = await enrolled(facts)
    milestone = await facts.milestone(MilestoneKind.TRAINER_CERTIFIED, trainer_id)
    [event] = await credential_of(module_nc, trainer_id)
    assert event["achievement"] == "certified"
    assert event["school_id"] == str(school_id)
    assert event["milestone_id"] == str(milestone.milestone_id)
    assert event["verification_url"] == f"http://service/credentials/{event['credential_id']}"

    # The same milestone again: as a redelivery the server drops, and as a re-publish it
    # does not (another event id); then a school milestone, which earns no credential.
    await facts.publish(milestone)
    await facts.publish(milestone, past_duplicate_window=True)
    await facts.milestone(MilestoneKind.SCHOOL_FIRST_SESSION, school_id)
    second = await facts.milestone(MilestoneKind.TRAINER_FIRST_SESSION, trainer_id)
    issued = await credential_of(module_nc, trainer_id, count=2)
    assert sorted(e["achievement"] for e in issued) == ["certified", "first_session"]
    assert {e["milestone_id"] for e in issued} == {
        str(milestone.milestone_id),
        str(second.milestone_id),
    }


async def test_each_credential_verifies_by_independent_means(
    credentials: httpx.AsyncClient, facts: Facts, module_nc: NatsClient
) -> None:
    trainer_id, event, token = await awarded(
        credentials, facts, module_nc, MilestoneKind.TRAINER_CERTIFIED
    )
    jwks = (await credentials.get("/.well-known/jwks.json")).json()
    assert all("d" not in key for key in jwks["keys"])  # never the private half

    header, credential = jwt_parts(token)
    assert signature_verifies(token, jwks)
    assert header["typ"] == "JWT"
    assert header["kid"].startswith("http://service/.well-known/jwks.json#")
    # OB 3.0's VC-JWT claims mirror the credential.
    assert credential["iss"] == credential["issuer"]["id"] == "http://service/issuer"
    assert credential["jti"] == credential["id"] == f"urn:uuid:{event['credential_id']}"
    assert datetime.fromtimestamp(credential["nbf"], UTC) == datetime.fromisoformat(
        credential["validFrom"].replace("Z", "+00:00")
    )

    # 1EdTech's JSON Schema and the JSON-LD contexts.
    schema = json.loads(OB3_SCHEMA.read_text(encoding="utf-8"))
    errors = sorted(Draft201909Validator(schema).iter_errors(credential), key=str)
    assert errors == []
    assert credential["@context"] == [
        "https://www.w3.org/ns/credentials/v2",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
    ]
    assert "OpenBadgeCredential" in credential["type"]
    defined = json.loads(OB3_CONTEXT.read_text(encoding="utf-8"))["@context"]
    subject = credential["credentialSubject"]
    assert {"AchievementSubject", "Achievement", "IdentityObject", "Profile"} <= set(defined)
    # Every term is defined by OB 3.0's context, or is one of VC 2.0's own (id, type, name,
    # description).
    vc_terms = {"id", "type", "name", "description"}
    assert set(subject["achievement"]) - vc_terms <= set(defined["Achievement"]["@context"])
    assert set(subject["identifier"][0]) - vc_terms <= set(defined["IdentityObject"]["@context"])
    assert set(subject) - vc_terms <= set(defined["AchievementSubject"]["@context"])

    # No name anywhere; the holder is a salted hash of the opaque id.
    identity = subject["identifier"][0]
    assert "id" not in subject
    expected = hashlib.sha256(f"{trainer_id}{identity['salt']}".encode()).hexdigest()
    assert identity["identityHash"] == f"sha256${expected}"
    assert str(trainer_id) not in token

    # The achievement in the credential's language; its other editions are linked.
    achievement = subject["achievement"]
    assert achievement["inLanguage"] == "kk"
    assert achievement["name"] == "Сертификатталған жас тренер"
    assert {r["inLanguage"] for r in achievement["related"]} == {"ru", "en"}
    path = achievement["id"].removeprefix("http://service")
    russian = (await credentials.get(path, params={"lang": "ru"})).json()
    assert russian["name"] == "Сертифицированный молодой тренер"
    assert russian["criteria"]["narrative"]

    # The status list: signed by the same key, and this credential's bit is clear.
    status = credential["credentialStatus"]
    assert status["type"] == "BitstringStatusListEntry"
    assert status["statusPurpose"] == "revocation"
    listing = await credentials.get(status["statusListCredential"].removeprefix("http://service"))
    assert listing.headers["content-type"].startswith("application/vc+jwt")
    assert signature_verifies(listing.text, jwks)
    _, status_credential = jwt_parts(listing.text)
    assert "BitstringStatusListCredential" in status_credential["type"]
    assert revoked_bit(listing.text, int(status["statusListIndex"])) is False

    assert await verdict_of(credentials, token) == "valid"
    enveloped = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": "EnvelopedVerifiableCredential",
        "id": f"data:application/vc+jwt,{token}",
    }
    assert await verdict_of(credentials, enveloped) == "valid"


async def test_a_changed_credential_is_tampered_and_a_stranger_s_is_unknown(
    credentials: httpx.AsyncClient, facts: Facts, module_nc: NatsClient
) -> None:
    _trainer_id, _event, token = await awarded(
        credentials, facts, module_nc, MilestoneKind.TRAINER_SESSIONS_5
    )
    header, _, signature = token.split(".")
    claims = jwt_parts(token)[1]
    claims["credentialSubject"]["achievement"]["name"] = "Certified young trainer"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    tampered = f"{header}.{forged}.{signature}"
    jwks = (await credentials.get("/.well-known/jwks.json")).json()
    assert not signature_verifies(tampered, jwks)
    assert await verdict_of(credentials, tampered) == "tampered"
    assert await verdict_of(credentials, "not a credential at all") == "tampered"
    assert await verdict_of(credentials, claims) == "tampered"  # JSON without any proof

    stranger = OKPKey.generate_key("Ed25519")
    foreign = jwt.encode(
        {"alg": "EdDSA", "kid": "https://elsewhere.example/keys#1"},
        claims,
        stranger,
        algorithms=["EdDSA"],
    )
    assert await verdict_of(credentials, foreign) == "unknown_issuer"


async def test_a_credential_past_its_validity_is_expired(
    credentials: httpx.AsyncClient, facts: Facts, module_nc: NatsClient, issuer_state: Path
) -> None:
    _, _, token = await awarded(credentials, facts, module_nc, MilestoneKind.TRAINER_PEERS_100)
    header, claims = jwt_parts(token)
    # Signed again with the issuer's own key (the test holds the key file), with an end.
    claims["validUntil"] = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    key = OKPKey.import_key(json.loads((issuer_state / "issuer-key.json").read_text()))
    expired = jwt.encode(header, claims, key, algorithms=["EdDSA"])
    assert await verdict_of(credentials, expired) == "expired"


async def test_bad_input_is_refused_with_a_problem_naming_the_field(
    credentials: httpx.AsyncClient,
) -> None:
    for body in ({}, {"credential": 5}, {"credential": "eyJ", "extra": 1}):
        answer = await credentials.post("/v1/verifications", json=body)
        assert answer.status_code == 422, body
        assert answer.headers["content-type"] == "application/problem+json"
        fields = {error["field"] for error in answer.json()["errors"]}
        assert fields & {"credential", "extra"}, answer.json()
    unknown = await credentials.get(f"/credentials/{uuid.uuid4()}.jwt")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"


async def test_staff_revoke_a_credential_and_verifiers_see_it_in_the_status_list(
    credentials: httpx.AsyncClient, facts: Facts, module_nc: NatsClient
) -> None:
    _trainer_id, event, token = await awarded(
        credentials, facts, module_nc, MilestoneKind.TRAINER_CERTIFIED
    )
    path = f"/v1/credentials/{event['credential_id']}/revocation"

    anonymous = await credentials.post(
        path, json={"reason": "misconduct"}, headers={"Authorization": ""}
    )
    assert anonymous.status_code == 401
    refused = await credentials.post(path, json={"reason": "because"})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "reason"

    revoked = await credentials.post(path, json={"reason": "issued_in_error"})
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revocation_reason"] == "issued_in_error"
    again = await credentials.post(path, json={"reason": "issued_in_error"})
    assert again.status_code == 409

    assert await verdict_of(credentials, token) == "revoked"
    index = int(jwt_parts(token)[1]["credentialStatus"]["statusListIndex"])
    assert revoked_bit((await credentials.get("/status/revocation")).text, index) is True
    messages = await stream_messages(module_nc.jetstream(), CREDENTIALS_STREAM, timeout=0.3)
    revocations = [json.loads(m.data) for m in messages if m.subject.endswith("revoked.v1")]
    assert {"credential_id": event["credential_id"], "reason": "issued_in_error"}.items() <= next(
        r for r in revocations if r["credential_id"] == event["credential_id"]
    ).items()


async def test_erasure_revokes_the_trainer_s_credentials_and_forgets_the_trainer(
    credentials: httpx.AsyncClient, facts: Facts, module_nc: NatsClient
) -> None:
    trainer_id, _ = await enrolled(facts)
    await facts.milestone(MilestoneKind.TRAINER_CERTIFIED, trainer_id)
    await facts.milestone(MilestoneKind.TRAINER_FIRST_SESSION, trainer_id)
    issued = await credential_of(module_nc, trainer_id, count=2)
    tokens = [await token_of(credentials, e["credential_id"]) for e in issued]

    await facts.publish(TrainerErased(trainer_id=trainer_id, erased_at=datetime.now(UTC)))

    async def all_revoked() -> bool:
        verdicts = [await verdict_of(credentials, token) for token in tokens]
        return verdicts == ["revoked", "revoked"]

    await eventually(all_revoked, timeout=20)
    for event in issued:
        gone = await credentials.get(f"/credentials/{event['credential_id']}.jwt")
        assert gone.status_code == 404
        record = (await credentials.get(f"/v1/credentials/{event['credential_id']}")).json()
        assert record["trainer_id"] is None
        assert record["revocation_reason"] == "erased"
    # A milestone arriving after the erasure issues nothing.
    await facts.milestone(MilestoneKind.TRAINER_SESSIONS_5, trainer_id)
    await facts.milestone(MilestoneKind.TRAINER_CERTIFIED, (other := uuid.uuid4()))
    await credential_of(module_nc, other)
    assert len(await issued_events(module_nc, trainer_id)) == 2

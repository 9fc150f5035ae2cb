"""What `yts partners add` accepts, refuses and writes, without a server: the partner's
consumers follow the public streams, and users.conf is generated from the registry (the
checked-in one is what an empty registry gives)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from nats.js.api import DeliverPolicy
from yts_deploy.natsconfig import SOURCE_DIR, STATIC_FILES
from yts_deploy.partners import (
    PartnerConsumer,
    PartnerError,
    PartnerRegistry,
    check_name,
    consumer_config,
    new_partner,
    plan_consumers,
    prepare_config_dir,
    render_users_config,
)


def test_checked_in_users_conf_is_what_an_empty_registry_writes() -> None:
    assert (SOURCE_DIR / "users.conf").read_text(encoding="utf-8") == render_users_config([])


def test_a_prepared_config_folder_holds_deploy_nats_files_unchanged(tmp_path: Path) -> None:
    folder = prepare_config_dir(tmp_path / "config")
    for name in (*STATIC_FILES, "users.conf"):
        assert (folder / name).read_bytes() == (SOURCE_DIR / name).read_bytes(), name


def test_one_consumer_per_public_stream_filtered_to_the_requested_types() -> None:
    consumers = plan_consumers(
        "unesco",
        [
            "yts.sessions.session.completed.v1",
            "yts.sessions.session.cancelled.v1",
            "yts.milestones.>",
        ],
    )
    assert consumers == [
        PartnerConsumer(
            "YTS_SESSIONS",
            "partner-unesco-sessions",
            ("yts.sessions.session.completed.v1", "yts.sessions.session.cancelled.v1"),
        ),
        PartnerConsumer("YTS_MILESTONES", "partner-unesco-milestones", ("yts.milestones.>",)),
    ]


@pytest.mark.parametrize(
    ("types", "says"),
    [
        (["yts.private.>"], "partners may not read"),
        (["yts.private.enrolment.school.contact.v1"], "partners may not read"),
        (["yts.dlq.>"], "partners may not read"),
        (["yts.>"], "not held by one stream"),
        ([">"], "not held by one stream"),
        (["yts.sessions.session.completed.v9"], "matches no event"),
        (["yts.sessions.>.v1"], "not a NATS subject"),
        ([], "at least one event type"),
    ],
)
def test_types_outside_the_public_streams_are_refused(types: list[str], says: str) -> None:
    with pytest.raises(PartnerError, match=says):
        plan_consumers("unesco", types)


@pytest.mark.parametrize("name", ["UNESCO", "a", "city education", "x" * 40, "-city", "city-"])
def test_partner_names_are_short_lowercase_slugs(name: str) -> None:
    assert check_name("city-education") == "city-education"
    with pytest.raises(PartnerError, match="partner name"):
        check_name(name)


def test_a_consumer_starts_from_the_beginning_or_from_a_time() -> None:
    consumer = PartnerConsumer("YTS_SESSIONS", "partner-x-sessions", ("yts.sessions.>",))
    since = datetime(2024, 9, 1, 3, 0, tzinfo=UTC)

    everything = consumer_config("x", consumer, None)
    from_september = consumer_config("x", consumer, since)

    assert everything.deliver_policy == DeliverPolicy.ALL
    assert from_september.deliver_policy == DeliverPolicy.BY_START_TIME
    assert from_september.opt_start_time == since
    assert from_september.filter_subject == "yts.sessions.>"


def test_the_registry_keeps_a_bcrypt_hash_and_users_conf_grants_only_its_consumers(
    tmp_path: Path,
) -> None:
    registry = PartnerRegistry(prepare_config_dir(tmp_path))
    partner, password = new_partner(
        "unesco", plan_consumers("unesco", ["yts.sessions.>"]), since=None
    )
    registry.save({"unesco": partner})

    users_conf = registry.users_path.read_text(encoding="utf-8")
    assert password not in users_conf
    assert password not in registry.registry_path.read_text(encoding="utf-8")
    assert partner.password_hash.startswith("$2b$")
    block = users_conf[users_conf.index('user: "partner-unesco"') :]
    assert '"$JS.API.CONSUMER.INFO.YTS_SESSIONS.partner-unesco-sessions"' in block
    assert '"$JS.API.CONSUMER.MSG.NEXT.YTS_SESSIONS.partner-unesco-sessions"' in block
    assert '"$JS.ACK.YTS_SESSIONS.partner-unesco-sessions.>"' in block
    assert 'subscribe: { allow: ["_INBOX_partner-unesco.>"] }' in block
    assert "CREATE" not in block
    assert registry.load()["unesco"].consumers == partner.consumers


def test_only_a_yts_up_folder_lets_local_tools_in_without_credentials(tmp_path: Path) -> None:
    deployed = prepare_config_dir(tmp_path / "compose")
    local = prepare_config_dir(tmp_path / "local", developer=True)
    assert "no_auth_user" not in (deployed / "users.conf").read_text(encoding="utf-8")
    assert "no_auth_user" not in (SOURCE_DIR / "users.conf").read_text(encoding="utf-8")

    registry = PartnerRegistry(local)
    partner, _ = new_partner("city", plan_consumers("city", ["yts.enrolment.>"]), since=None)
    registry.save({"city": partner})  # as `yts partners add` does on a local system
    prepare_config_dir(local, developer=True)  # and `yts up` again

    users_conf = (local / "users.conf").read_text(encoding="utf-8")
    assert "no_auth_user: developer" in users_conf
    assert 'user: "partner-city"' in users_conf

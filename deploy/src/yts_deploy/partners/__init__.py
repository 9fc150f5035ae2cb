"""Partner organisations reading events over NATS with their own user and durable consumers:
``accounts`` (who they are, their password's hash, what is handed over), ``consumers`` (their
durable pull consumers on the public streams), ``registry`` (partners.json and the server's
users.conf) and ``operations`` (add, rotate, replay, remove). The commands are in
``yts_deploy.partners_cli``."""

from yts_deploy.partners.accounts import (
    Credentials,
    Partner,
    PartnerConsumer,
    PartnerError,
    check_name,
    hash_password,
    new_partner,
    user_name,
)
from yts_deploy.partners.consumers import (
    consumer_config,
    create_consumers,
    delete_consumers,
    durable_name,
    plan_consumers,
    public_stream_of,
)
from yts_deploy.partners.operations import (
    add_partner,
    known_partner,
    reload_server,
    remove_partner,
    replay_partner,
    rotate_password,
)
from yts_deploy.partners.registry import PartnerRegistry, prepare_config_dir, render_users_config

__all__ = [
    "Credentials",
    "Partner",
    "PartnerConsumer",
    "PartnerError",
    "PartnerRegistry",
    "add_partner",
    "check_name",
    "consumer_config",
    "create_consumers",
    "delete_consumers",
    "durable_name",
    "hash_password",
    "known_partner",
    "new_partner",
    "plan_consumers",
    "prepare_config_dir",
    "public_stream_of",
    "reload_server",
    "remove_partner",
    "render_users_config",
    "replay_partner",
    "rotate_password",
    "user_name",
]

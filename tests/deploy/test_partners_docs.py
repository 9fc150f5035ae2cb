"""docs/partners.md is what partners build on: it names every public event of the catalogue
(and no internal one), its Python consumer is the example file itself (the one in the kit),
using only what the contracts offer, and its webhook check accepts what the notifications
service really sends and refuses forgeries."""

from __future__ import annotations

import ast
import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from yts_contracts import CATALOG
from yts_notifications.webhooks import WebhookOut, new_secret, signed_headers

REPO = Path(__file__).resolve().parents[2]
GUIDE = (REPO / "docs" / "partners.md").read_text(encoding="utf-8")
EXAMPLE_CONSUMER = REPO / "contracts" / "examples" / "partner_consumer.py"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", GUIDE, re.S)


def test_the_guide_explains_every_public_event_and_no_internal_one() -> None:
    for event_type, spec in CATALOG.items():
        row = f"| `{event_type}` | `{spec.stream}` |"
        if spec.public:
            assert row in GUIDE, f"{event_type} is not explained"
            for name in spec.model.model_fields:
                assert f"`{name}`" in GUIDE, f"{event_type}.{name} is not explained"
        else:
            assert row not in GUIDE, f"{event_type} is internal"


def the_guides_consumer() -> str:
    """The Python block of the section "A consumer in Python"."""
    section = GUIDE[GUIDE.index("## A consumer in Python\n") :]
    section = section[: section.index("\n## ", 1)]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1, "the section should show one Python file"
    return str(blocks[0])


def test_the_guides_consumer_is_the_example_file_verbatim() -> None:
    example = EXAMPLE_CONSUMER.read_text(encoding="utf-8")
    assert the_guides_consumer() == example, (
        "docs/partners.md must show contracts/examples/partner_consumer.py whole and unchanged: "
        "copy the file into the section's python block"
    )
    assert python_blocks()[0] == example  # the webhook tests below take the second block


def test_the_python_consumer_uses_only_what_the_contracts_package_offers() -> None:
    consumer = the_guides_consumer()
    tree = ast.parse(consumer)
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "yts_contracts"
        for alias in node.names
    }
    import yts_contracts

    assert imported
    assert all(hasattr(yts_contracts, name) for name in imported)
    assert "pull_subscribe_bind" in consumer
    assert "inbox_prefix=self.args.inbox_prefix" in consumer
    assert "ack_sync" in consumer


def verifier() -> Any:
    namespace: dict[str, Any] = {}
    exec(python_blocks()[1], namespace)  # the guide's own code
    return namespace


def test_the_webhook_check_accepts_what_notifications_sends() -> None:
    namespace = verifier()
    secret = new_secret()
    namespace["SECRET"] = secret
    body = json.dumps({"specversion": "1.0", "id": str(uuid.uuid4()), "data": {"n": 1}})
    out = WebhookOut(
        url="https://partner.example.org/h", body=body, secret=secret, webhook_id="msg_1"
    )
    headers = signed_headers(out, datetime.now(UTC))

    assert namespace["verified_event"](body.encode(), headers) == json.loads(body)


@pytest.mark.parametrize("forgery", ["body", "secret", "stale"])
def test_the_webhook_check_refuses_forgeries(forgery: str) -> None:
    namespace = verifier()
    secret = new_secret()
    namespace["SECRET"] = secret
    body = '{"specversion":"1.0","data":{"n":1}}'
    moment = datetime.now(UTC)
    signing_secret = new_secret() if forgery == "secret" else secret
    if forgery == "stale":
        moment = moment.replace(year=moment.year - 1)
    out = WebhookOut(url="https://x.example.org", body=body, secret=signing_secret, webhook_id="m")
    headers = signed_headers(out, moment)
    sent = body.replace("1", "2") if forgery == "body" else body

    with pytest.raises(PermissionError, match="not a genuine YTS webhook"):
        namespace["verified_event"](sent.encode(), headers)

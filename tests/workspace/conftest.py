"""The workspace's browser tests share one system and one Chromium per run of the folder."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from yts_deploy.runner import LocalSystem

from tests.support.browser import CHROMIUM
from tests.support.notifications_mailbox import MailBox
from tests.workspace.browsing import World


@pytest.fixture(scope="package")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    mailbox = MailBox().start()
    try:
        from yts_deploy.natsserver import free_port
        from yts_deploy.runner import SERVICES

        system = LocalSystem(
            state_dir=tmp_path_factory.mktemp("workspace-system"),
            nats_port=free_port(),
            http_ports={name: free_port() for name in SERVICES},
            workspace_port=free_port(),
            say=lambda line: None,
            extra_env={
                "workspace": {
                    "YTS_WORKSPACE_SMTP_PORT": str(mailbox.port),
                    # Many sign-ins from one client in a few minutes.
                    "YTS_WORKSPACE_LINK_REQUESTS_PER_QUARTER_HOUR": "100",
                },
                # A failing webhook gives up after two attempts, so that the staff's delivery
                # log shows a failed delivery to retry within the test.
                "notifications": {"YTS_NOTIFICATIONS_WEBHOOK_RETRY_SCHEDULE_SECONDS": "[0.5]"},
            },
        )
        try:
            system.start()
            yield World(system, mailbox)
        finally:
            system.stop()
    finally:
        mailbox.stop()


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield launched
        finally:
            launched.close()

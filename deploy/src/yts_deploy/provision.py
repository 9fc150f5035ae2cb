"""Streams, durable consumers and access buckets of the design, created or checked in one
place.

Idempotent: what exists with the intended settings is left alone; what differs is reported as
drift and changed only when asked (``--fix``), never silently: a subscriber that declared
streams could otherwise rewrite production retention or replicas.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError
from yts_chassis.access.buckets import bucket_config
from yts_chassis.topology import DurableConsumer
from yts_contracts.streams import DLQ_STREAM, STREAMS, StreamSpec

from yts_deploy.topology import SERVICE_CONSUMERS

DUPLICATE_WINDOW_SECONDS = 10 * 60
DLQ_MAX_AGE_SECONDS = 180 * 24 * 3600


def stream_config(spec: StreamSpec, replicas: int = 1) -> StreamConfig:
    is_dlq = spec.name == DLQ_STREAM
    return StreamConfig(
        name=spec.name,
        description=spec.description,
        subjects=list(spec.subjects),
        storage=StorageType.FILE,
        retention=RetentionPolicy.LIMITS,  # events are kept for replay
        discard=DiscardPolicy.OLD,
        max_age=DLQ_MAX_AGE_SECONDS if is_dlq else 0,
        num_replicas=replicas,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        deny_delete=not is_dlq,
        deny_purge=not is_dlq,
        allow_rollup_hdrs=False,
    )


def consumer_config(consumer: DurableConsumer) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=consumer.durable,
        name=consumer.durable,
        description=consumer.description,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=consumer.ack_wait_seconds,
        max_deliver=-1,  # the service dead-letters poison itself; transient faults retry
        max_ack_pending=consumer.max_ack_pending,
        filter_subject=consumer.filter_subject,
    )


_STREAM_FIELDS = (
    "subjects",
    "storage",
    "retention",
    "discard",
    "max_age",
    "num_replicas",
    "duplicate_window",
    "deny_delete",
    "deny_purge",
)
_CONSUMER_FIELDS = (
    "ack_policy",
    "ack_wait",
    "max_deliver",
    "filter_subject",
    "deliver_policy",
    "max_ack_pending",
)


@dataclass
class Report:
    created: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    drift: list[str] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.drift

    def lines(self) -> list[str]:
        out = [f"created   {name}" for name in self.created]
        out += [f"ok        {name}" for name in self.unchanged]
        out += [f"fixed     {name}" for name in self.fixed]
        out += [f"DRIFT     {name}" for name in self.drift]
        return out


def _norm(value: Any) -> Any:
    if hasattr(value, "value"):
        return value.value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return sorted(value)
    return value


def _differences(actual: Any, wanted: Any, fields: tuple[str, ...]) -> list[str]:
    out = []
    for name in fields:
        have, want = _norm(getattr(actual, name, None)), _norm(getattr(wanted, name, None))
        if name == "max_deliver" and have in (None, -1) and want == -1:
            continue
        if have != want:
            out.append(f"{name}: is {have!r}, should be {want!r}")
    return out


async def provision(
    js: JetStreamContext,
    *,
    replicas: int = 1,
    fix: bool = False,
    consumers: tuple[DurableConsumer, ...] = SERVICE_CONSUMERS,
) -> Report:
    report = Report()
    for spec in STREAMS:
        wanted = stream_config(spec, replicas)
        try:
            info = await js.stream_info(spec.name)
        except NotFoundError:
            await js.add_stream(config=wanted)
            report.created.append(f"stream {spec.name}")
            continue
        diffs = _differences(info.config, wanted, _STREAM_FIELDS)
        if not diffs:
            report.unchanged.append(f"stream {spec.name}")
        elif fix:
            await js.update_stream(config=wanted)
            report.fixed.append(f"stream {spec.name} ({'; '.join(diffs)})")
        else:
            report.drift.append(f"stream {spec.name}: {'; '.join(diffs)}")
    for consumer in consumers:
        wanted_consumer = consumer_config(consumer)
        label = f"consumer {consumer.stream}/{consumer.durable}"
        try:
            cinfo = await js.consumer_info(consumer.stream, consumer.durable)
        except NotFoundError:
            await js.add_consumer(consumer.stream, config=wanted_consumer)
            report.created.append(label)
            continue
        diffs = _differences(cinfo.config, wanted_consumer, _CONSUMER_FIELDS)
        if not diffs:
            report.unchanged.append(label)
        elif fix:
            await js.add_consumer(consumer.stream, config=wanted_consumer)  # update in place
            report.fixed.append(f"{label} ({'; '.join(diffs)})")
        else:
            report.drift.append(f"{label}: {'; '.join(diffs)}")
    await _provision_bucket(js, bucket_config(replicas), fix, report)
    for bucket in workspace_buckets(replicas):
        await _provision_bucket(js, bucket, fix, report)
    return report


def _bucket_fields(config: StreamConfig) -> dict[str, Any]:
    return {
        "max_age": _norm(config.max_age or 0),
        "num_replicas": config.num_replicas,
        "max_msgs_per_subject": config.max_msgs_per_subject,
        "allow_direct": bool(config.allow_direct),
    }


def workspace_buckets(replicas: int = 1) -> list[KeyValueConfig]:
    """The workspace's buckets (``yts_workspace.buckets`` says what each holds): people's
    accounts kept; sign-in links and sessions expire with the bucket's age limit."""

    def bucket(name: str, description: str, ttl: timedelta | None) -> KeyValueConfig:
        return KeyValueConfig(
            bucket=name,
            description=description,
            history=1,
            storage=StorageType.FILE,
            replicas=replicas,
            direct=True,
            max_value_size=16 * 1024,
            ttl=ttl.total_seconds() if ttl else None,
        )

    return [
        bucket("yts-workspace-people", "the workspace's people: staff and coordinators", None),
        bucket("yts-workspace-links", "one-time sign-in links, by hash", timedelta(minutes=15)),
        bucket("yts-workspace-signins", "sign-in sessions, by hash", timedelta(hours=12)),
    ]


async def _provision_bucket(
    js: JetStreamContext, wanted: KeyValueConfig, fix: bool, report: Report
) -> None:
    """A KV bucket (a stream ``KV_<bucket>``): created as described (the access bucket as the
    chassis describes it); drift in its age limit, replicas, history or direct reads
    reported."""
    label = f"bucket {wanted.bucket}"
    try:
        info = await js.stream_info(f"KV_{wanted.bucket}")
    except NotFoundError:
        await js.create_key_value(wanted)
        report.created.append(label)
        return
    want = {
        "max_age": _norm(wanted.ttl or 0),
        "num_replicas": wanted.replicas,
        "max_msgs_per_subject": wanted.history,
        "allow_direct": bool(wanted.direct),
    }
    have = _bucket_fields(info.config)
    diffs = [
        f"{name}: is {have[name]!r}, should be {want[name]!r}"
        for name in want
        if have[name] != want[name]
    ]
    if not diffs:
        report.unchanged.append(label)
    elif fix:
        config = info.config
        config.max_age = wanted.ttl or 0
        config.num_replicas = wanted.replicas
        config.max_msgs_per_subject = wanted.history
        config.allow_direct = bool(wanted.direct)
        await js.update_stream(config=config)
        report.fixed.append(f"{label} ({'; '.join(diffs)})")
    else:
        report.drift.append(f"{label}: {'; '.join(diffs)}")

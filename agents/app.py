"""Builds the Faust app: topics, tables, agents and web routes, from one ``Settings``.

No module-level app: each call builds a fresh one, so tests run several side by side
and nothing is configured at import time.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import faust
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from agents import evaluate, fold, health, ingest, oplog, web_metrics
from agents.chains import Chains
from agents.consistency import ReadCommittedApp
from agents.context import Detector, Topics
from agents.files import load_detection_config
from agents.lifecycle import Lifecycles
from agents.links import LinkMaker
from agents.logs import Repeats, quiet_repeats
from agents.metrics import PipelineMetrics
from agents.notify import agent as notify_agent
from agents.notify.settings import ENV_PREFIX as NOTIFY_PREFIX
from agents.notify.settings import NotifySettings
from agents.settings import Settings, describe_validation
from agents.users import UsersFile
from agents.web import ingest as http_ingest
from agents.web.auth import Auth
from agents.web.routes import Dashboard
from detector.engine import Engine
from detector.errors import ConfigError
from tables import chains, counts, inflight, models, summaries

log = logging.getLogger(__name__)

# Partial counts are read within seconds; a day covers any outage of the fold agent.
PARTIALS_RETENTION = 86400.0


def _retained(app: faust.App, settings: Settings, name: str) -> Any:
    """A log topic whose messages Kafka deletes by time (their event time)."""
    return app.topic(
        name,
        partitions=settings.partitions,
        internal=True,
        retention=oplog.topic_configs(settings)[name],
        deleting=True,
        config={"message.timestamp.type": "CreateTime"},
    )


def load_notify_settings() -> NotifySettings:
    try:
        return NotifySettings()
    except ValidationError as exc:
        raise ConfigError(describe_validation(exc, NOTIFY_PREFIX)) from None


def create_auth(app: faust.App, settings: Settings, secret: bytes) -> Auth:
    """Logins for the dashboard and API; the users file is re-read when it changes."""
    users = UsersFile(settings.users_file or settings.data_dir / "users.yaml")
    if not users.current.users and not settings.auth_proxy_header:
        log.warning(
            "no dashboard users in %s: add one with `detector users add NAME --role admin`",
            users.path,
        )

    @app.timer(10.0, name="users-reload")
    async def reload_users() -> None:
        users.check()

    public = urlsplit(settings.public_url)
    return Auth(
        users,
        secret,
        session_seconds=settings.session_hours * 3600,
        secure_cookie=public.scheme == "https",
        public_host=public.netloc,
        attempts=settings.login_attempts,
        proxy_header=settings.auth_proxy_header,
        proxy_trusted=frozenset(a.strip() for a in settings.auth_proxy_trusted.split(",")),
    )


def create_app(settings: Settings, registry: CollectorRegistry | None = None) -> Detector:
    registry = registry if registry is not None else CollectorRegistry()
    detection = load_detection_config(settings)
    app = ReadCommittedApp(
        settings.app_id,
        broker=[f"kafka://{hp.strip()}" for hp in settings.broker.split(",")],
        store="memory://",
        datadir=str(settings.data_dir),
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=settings.heartbeat_interval,
        broker_rebalance_timeout=settings.rebalance_timeout,
        broker_commit_interval=1.0,
        stream_buffer_maxsize=max(4096, settings.batch_size * 2),
        stream_wait_empty=False,
        web_host=settings.web_host,
        web_bind=settings.web_host,
        web_port=settings.web_port,
        web_stats_enabled=False,
        web_graph_enabled=False,
        web_tables_enabled=False,
        web_metrics_enabled=False,
        web_router_enabled=False,
        table_cleanup_interval=60.0,
        table_standby_replicas=0,
        producer_linger=0.005,
        key_serializer="raw",
        value_serializer="raw",
    )
    # internal=True: the worker creates the topics it uses (with its partition count)
    # when they are missing, rather than leaving them to broker auto-creation.
    topics = Topics(
        calls=app.topic(settings.calls_topic, partitions=settings.partitions, internal=True),
        invalid=app.topic(settings.invalid_topic, partitions=settings.partitions, internal=True),
        status=app.topic(settings.status_topic, partitions=settings.partitions, internal=True),
        log=_retained(app, settings, settings.log_topic),
        payloads=_retained(app, settings, settings.payload_topic),
        partials=app.topic(
            ingest.partials_topic(settings.app_id),
            partitions=settings.partitions,
            internal=True,
            retention=PARTIALS_RETENTION,
            deleting=True,
            config={"max.message.bytes": str(ingest.MAX_MESSAGE)},
        ),
    )

    @app.task
    async def declare_topics() -> None:
        for topic in (topics.invalid, topics.status, topics.log, topics.payloads):
            await topic.maybe_declare()

    detector = Detector(
        app=app,
        settings=settings,
        registry=registry,
        metrics=PipelineMetrics(registry, settings.metrics_max_operations),
        topics=topics,
        detection=detection,
        engine=Engine(detection, settings.window_seconds),
        counts=counts.declare(app, settings.partitions),
        models=models.declare(app, settings.partitions),
        summaries=summaries.declare(app, settings.partitions),
        links=LinkMaker.from_settings(settings),
        inflight=inflight.declare(app, settings.partitions),
        chains=chains.declare(app, settings.partitions),
    )
    detector.lifecycles = Lifecycles(detector)
    detector.fold_chains = Chains(detector)

    async def partitions_moved(*_: Any, **__: Any) -> None:
        detector.lifecycles.forget()
        detector.fold_chains.forget()

    app.on_partitions_assigned.connect(partitions_moved)
    ingest.register(detector)
    fold.register(detector)
    evaluate.register(detector)
    notify = load_notify_settings()
    if notify.subscriptions is not None or notify.webhook_url or notify.alertmanager_url:
        notify_agent.register(
            app, topics.status, notify, registry, settings.partitions, detector.links
        )
    web_app = app.web.web_app  # type: ignore[attr-defined]
    auth = create_auth(app, settings, detector.links.secret)
    auth.add_routes(web_app)
    dashboard = Dashboard(
        summaries=lambda: summaries.Rows(detector.summaries),
        read_log=lambda op, start, end: oplog.read_log(settings, op, start, end),
        links=detector.links,
        fields=detection.fields_for,
    )
    dashboard.add_routes(web_app)
    ingest_writer = http_ingest.KafkaWriter(
        settings.broker, settings.calls_topic, settings.invalid_topic, settings.partitions
    )

    @app.on_before_shutdown.connect
    async def stop_ingest_writer(_app: Any, /, *_: Any, signal: Any, **__: Any) -> None:
        await ingest_writer.stop()

    http_ingest.Ingest(
        http_ingest.load_tokens(settings),
        ingest_writer,
        registry,
        detector.metrics.invalid,
        max_bytes=settings.ingest_max_bytes,
        write_timeout=settings.ingest_write_timeout,
        limits=settings.limits,
    ).add_routes(web_app)
    web_metrics.register(detector)
    health.register(detector)
    for table in app.tables.values():  # Changelog records unfit to restore: quarantined.
        table.on_bad_record = detector.quarantine.restored

    repeats = Repeats(settings.log_repeat_seconds)

    @app.task
    async def _quiet_repeats() -> None:  # Runs once the worker has set up logging.
        quiet_repeats(repeats)

    @app.timer(min(5.0, settings.log_repeat_seconds), name="log-repeats")
    async def _say_repeats() -> None:
        repeats.flush()

    return detector

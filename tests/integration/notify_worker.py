"""A Faust worker running only the notifier, for the integration tests: the status
topic, the notifier's agents and table, settings from ``DETECTOR_*`` variables."""

from __future__ import annotations

import os

import faust
from prometheus_client import CollectorRegistry

from agents.links import LinkMaker
from agents.notify.agent import register
from agents.notify.settings import NotifySettings
from agents.settings import load_settings


def main() -> None:
    partitions = 2
    app = faust.App(
        os.environ["DETECTOR_APP_ID"],
        broker=f"kafka://{os.environ['DETECTOR_BROKER']}",
        store="memory://",
        datadir=os.environ["DETECTOR_DATA_DIR"],
        topic_partitions=partitions,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=6.0,
        broker_heartbeat_interval=1.0,
        broker_rebalance_timeout=6.0,
        broker_commit_interval=0.5,
        web_enabled=False,
        producer_linger=0.005,
        key_serializer="raw",
        value_serializer="raw",
    )
    status = app.topic(os.environ["DETECTOR_STATUS_TOPIC"], partitions=partitions, internal=True)
    links = LinkMaker.from_settings(load_settings())
    register(app, status, NotifySettings(), CollectorRegistry(), partitions, links)
    faust.Worker(app, loglevel="info", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()

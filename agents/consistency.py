"""A Faust app whose consumer reads in ``read_committed``: the fold agent must never see
the partial counts of an ingest batch whose transaction was aborted (a crashed worker's
batch is read and sent again; counting both would count its calls twice).

Faust sets ``read_committed`` only together with its own exactly-once mode (a producer
per partition, transactions around every agent); the fold agent needs only the
isolation level, since it applies each partial once by its source offsets.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka


class _ReadCommittedThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka hands this attribute to its fetcher at start; there is no setter.
        consumer._isolation_level = "read_committed"
        return consumer


class _ReadCommittedConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ReadCommittedThread(self, loop=self.loop, beacon=self.beacon)


class ReadCommittedApp(faust.App):
    def _new_transport(self) -> Any:
        transport = super()._new_transport()
        transport.Consumer = _ReadCommittedConsumer  # type: ignore[misc]
        return transport

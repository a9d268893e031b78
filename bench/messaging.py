"""The messaging backend of the bench's processes: the locmem one, with sids unique across processes.

`LocmemBackend` numbers its sids by its own process's outbox (`SMlocmem1`, `SMlocmem2`...), which
the tests rely on. The bench runs several `db_worker` processes that all deliver replies, and
`Message.twilio_sid` is unique: two workers' tenth reply would collide and fail the delivery.
The process id in the sid keeps them apart. Never used outside the bench.
"""

import os

from messaging.backends import LocmemBackend, SendResult


class BenchMessagingBackend(LocmemBackend):
    def send(self, message) -> SendResult:
        result = super().send(message)
        return SendResult(sid=f"{result.sid}-{os.getpid()}", status=result.status)

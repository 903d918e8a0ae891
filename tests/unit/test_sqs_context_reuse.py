"""The SQS fast path hands a record context nothing kept on to the next record; a context a handler keeps is never
touched again, so what it says stays true after the batch."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from eventweave.handlers import Settings, SqsHandler, sqs
from eventweave.testing.events import FakeLambdaContext, sqs_event, sqs_record

SETTINGS = Settings(function_name="reuse-fn")


class Item(BaseModel):
    n: int


class KeepsSome(SqsHandler[Item]):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kept: list[Any] = []
        self.seen: list[tuple[int, str, str]] = []
        self.identities: list[int] = []

    def handle(self, item: Item, ctx: Any) -> None:
        self.seen.append((item.n, ctx.record_id, ctx.record["body"]))
        self.identities.append(id(ctx))
        if item.n % 3 == 0:
            self.kept.append(ctx)


def test_kept_contexts_keep_their_record_and_every_record_sees_its_own():
    handler = KeepsSome(settings=SETTINGS)
    records = [sqs_record({"n": n}, message_id=f"m-{n}") for n in range(10)]
    assert handler(sqs_event(*records), FakeLambdaContext()) == {"batchItemFailures": []}
    assert [(n, rid) for n, rid, _ in handler.seen] == [(n, f"m-{n}") for n in range(10)]
    assert all(f'"n": {n}' in body for n, _, body in handler.seen)
    assert [(c.record_id, c.message_id, c.correlation_id) for c in handler.kept] == [
        (f"m-{n}", f"m-{n}", f"m-{n}") for n in (0, 3, 6, 9)
    ]
    assert len({id(c) for c in handler.kept}) == 4
    if sqs._EXACT_REFCOUNTS:
        # records 1 and 2 were kept by no one: the second ran in the first's context object
        assert handler.identities[1] == handler.identities[2]

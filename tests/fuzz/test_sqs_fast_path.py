"""``SqsHandler``'s fast loop (``_run_plain``) against the general engine (``_run``): the same response, DLQ contents,
counts and calls for every batch.

The fast loop exists only for speed (the commonest batch: a standard queue, no idempotency, no routes); every rule
must be the engine's. Hypothesis draws batches from ``tests/fuzz/strategies.py``: valid, invalid, failing, poison,
ignored, hostile-hop, enveloped (SNS, EventBridge), binary-attribute and malformed records, with dead-letter doubles
that deliver, refuse some, refuse all, or are not configured; both paths get identical copies.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings

from eventweave.handlers import Settings, SqsHandler
from eventweave.handlers.observability import BatchCounts
from tests.fuzz.strategies import Case, FuzzDeadLetter, Item, act, sqs_cases

SETTINGS = Settings(dlq="https://sqs.us-east-1.amazonaws.com/123456789012/fuzz-dlq", function_name="fuzz-fn")
FAST = settings(
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


class Plain(SqsHandler[Item]):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls: list[tuple[Any, str, str | None, int, str]] = []

    def handle(self, item: Item, ctx: Any) -> Any:
        self.calls.append(
            (ctx.record, ctx.record_id, ctx.correlation_id, ctx.hops, repr(sorted(ctx.attributes.items())))
        )
        return act(item.action, item.key)


def _run(case: Case, fast: bool) -> tuple[Any, ...]:
    handler = Plain(settings=SETTINGS)
    dlq = copy.deepcopy(case.dlq)
    handler.dead_letter = dlq  # type: ignore[assignment]
    records = copy.deepcopy(case.records)
    if fast:
        failures, maybe_counts, processed = handler._run_plain(records, case.context)
        counts = maybe_counts if maybe_counts is not None else BatchCounts(processed=processed)
    else:
        failures, counts, _ = handler._run(records, case.context, "independent")
    offers = [
        (
            entry.reason,
            entry.record_id,
            entry.message_id,
            entry.correlation_id,
            entry.hops,
            entry.body.split(',"timestamp"')[0],
            ok,
        )
        for entry, ok in dlq.offers
    ]
    return failures, counts.as_dict(), offers, handler.calls


@FAST
@given(case=sqs_cases(fifo=False))
def test_fast_loop_decides_every_record_as_the_engine_does(case: Case) -> None:
    if not isinstance(case.records, list):
        return  # not a batch at all: __call__ refuses it before either loop runs
    assert isinstance(case.dlq, FuzzDeadLetter)
    fast = _run(case, fast=True)
    general = _run(case, fast=False)
    assert fast[0] == general[0], "batchItemFailures differ"
    assert fast[1] == general[1], "counts (metrics) differ"
    assert fast[2] == general[2], "poison records offered to the DLQ differ"
    assert fast[3] == general[3], "handle() calls differ"

"""The eventweave handler tour: five scenarios that drive real handlers against emulated AWS and check the end state.

Run it with ``make tour`` (``python -m examples.tour``); see README.md next to this file. Each scenario creates its
queues, topics, streams and tables, publishes through eventweave's publishers, lets :mod:`.driver` deliver the way
Lambda does, then compares what happened (side effects in :data:`.handlers.LEDGER`, the runtime's metric counters,
the dead-letter queue, DynamoDB) with what should have.

Example::

    from examples.tour import report
    from examples.tour.driver import local_aws

    with local_aws():
        exit_code = report(["orders", "fifo"])
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from eventweave.coordination import FanIn
from eventweave.handlers import Settings
from eventweave.handlers.clients import client
from eventweave.handlers.publish import publish_sns, put_record, send_sqs, stamp

from . import handlers
from .driver import (
    STANDARD,
    Check,
    DeadLetter,
    Invocation,
    KinesisShardReader,
    Reporter,
    ScenarioResult,
    SqsPoller,
    invoke_async,
    read_dlq,
)
from .models import Click, LedgerEntry, OrderPlaced, Ping, StartReport

__all__ = ["SCENARIOS", "Tour", "report", "run"]


class Tour:
    """Resource names, shared tables and handler construction for one run."""

    def __init__(self, reporter: Reporter, prefix: str = "tour") -> None:
        self.reporter = reporter
        self.prefix = prefix
        self._tables: dict[str, str] = {}

    def name(self, suffix: str) -> str:
        return f"{self.prefix}-{suffix}"

    def queue(self, suffix: str, *, dlq: str | None = None, fifo: bool = False) -> str:
        """A queue whose failures come back after 1 s; with ``dlq``, SQS moves a message there after 3 receives."""
        attributes: Any = {"VisibilityTimeout": "1"}
        if fifo:
            attributes |= {"FifoQueue": "true", "ContentBasedDeduplication": "true"}
        if dlq is not None:
            attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": queue_arn(dlq), "maxReceiveCount": 3})
        name = self.name(suffix) + (".fifo" if fifo else "")
        return client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]

    def idempotency_table(self) -> str:
        return self._table("idempotency", [("id", "HASH")])

    def job_table(self) -> str:
        return self._table("jobs", [("pk", "HASH"), ("sk", "RANGE")])

    def _table(self, suffix: str, keys: list[tuple[str, str]]) -> str:
        if suffix not in self._tables:
            name = self.name(suffix)
            client("dynamodb").create_table(
                TableName=name,
                KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in keys],  # type: ignore[typeddict-item]
                AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k, _ in keys],
                BillingMode="PAY_PER_REQUEST",
            )
            self._tables[suffix] = name
        return self._tables[suffix]

    def settings(self, function: str, **changes: Any) -> Settings:
        name = self.name(function)
        return Settings(function_name=name, service=name, namespace="eventweave-tour", **changes)

    def handler(self, cls: type[Any], settings: Settings, **kwargs: Any) -> Any:
        instance = cls(settings=settings, **kwargs)
        instance.batch_metrics.disabled = False  # the trace reads the runtime's own counters from its metric lines
        return instance


def queue_arn(queue_url: str) -> str:
    attributes = client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
    return attributes["QueueArn"]


def _queue_name(queue_url: str) -> str:
    return queue_url.rsplit("/", 1)[1]


def _standard(
    expected: tuple[int, int, int, int, int], invocations: list[Invocation], dead: list[DeadLetter]
) -> list[Check]:
    """The five columns every scenario reports: distinct records delivered, the runtime's counters, the DLQ."""
    actual = (
        len({record_id for inv in invocations for record_id in inv.record_ids}),
        sum(inv.counts.get("processed", 0) for inv in invocations),
        sum(len(inv.returned) for inv in invocations),
        len(dead),
        sum(inv.counts.get("duplicate", 0) + inv.counts.get("ignored", 0) for inv in invocations),
    )
    return [Check(label, e, a) for label, e, a in zip(STANDARD, expected, actual, strict=True)]


def _attempts(key: str) -> list[str]:
    return [outcome for k, outcome in handlers.LEDGER.attempts if k == key]


# -- the scenarios ----------------------------------------------------------------------------------------------------


def orders(tour: Tour) -> list[Check]:
    """SNS -> SQS (enveloped) -> ChargeOrder: duplicates charge once, poison goes to the DLQ, a timeout is retried."""
    say = tour.reporter.say
    dlq = tour.queue("orders-dlq")
    queue = tour.queue("orders", dlq=dlq)
    sns = client("sns")
    topic = sns.create_topic(Name=tour.name("orders"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn(queue), Attributes={"RawMessageDelivery": "false"})
    table = tour.idempotency_table()
    handlers.FLAKY.add("o-4")

    placed = [OrderPlaced(order_id=f"o-{n}", amount=1250 * n, customer=f"c-{n}") for n in range(1, 6)]
    for order in placed:
        publish_sns(topic, order)
    publish_sns(topic, placed[1])  # the producer timed out and published o-2 again: a new message, the same order
    publish_sns(topic, {"order_id": "o-bad", "amount": "twelve", "customer": "c-9"})
    say(f"published 7 notifications to topic {tour.name('orders')} (subscription {_queue_name(queue)}, enveloped):")
    say("o-1..o-5 (o-4's payment call times out once), o-2 again as a new message, o-bad with amount 'twelve'")

    handler = tour.handler(handlers.ChargeOrder, tour.settings("charge-order", dlq=dlq, idempotency_table=table))
    say("batch size 5: the copy of o-2 usually arrives in a later invocation, where only DynamoDB remembers o-2")
    invocations = SqsPoller(
        queue, handler, function_name=tour.name("charge-order"), reporter=tour.reporter, batch_size=5
    ).run()
    dead = read_dlq(dlq)
    tour.reporter.dead_letters(_queue_name(dlq), dead)
    charges = Counter(handlers.LEDGER.charges)
    say(f"charged: {' '.join(f'{k} x{v}' for k, v in sorted(charges.items()))}")
    completed = client("dynamodb").scan(
        TableName=table,
        FilterExpression="#s = :done",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":done": {"S": "COMPLETED"}},
    )["Count"]
    return [
        *_standard((7, 5, 1, 1, 1), invocations, dead),
        Check("charges per order", {f"o-{n}": 1 for n in range(1, 6)}, dict(sorted(charges.items()))),
        Check("o-4 payment attempts", ["timeout", "ok"], _attempts("o-4")),
        Check("DLQ reasons", ["validation-error"], [d.reason for d in dead]),
        Check("idempotency keys COMPLETED", 5, completed),
    ]


def fifo(tour: Tour) -> list[Check]:
    """SQS FIFO -> ApplyLedgerEntry: a failure holds back the rest of its group, other groups carry on."""
    say = tour.reporter.say
    dlq = tour.queue("ledger-dlq", fifo=True)
    queue = tour.queue("ledger", dlq=dlq, fifo=True)
    handlers.FLAKY.add("A1")
    for n in range(1, 4):
        for group in "AB":
            send_sqs(queue, LedgerEntry(account=f"acct-{group}", entry=f"{group}{n}", amount=100 * n), group_id=group)
    say(f"sent A1 B1 A2 B2 A3 B3 to {_queue_name(queue)} (message groups A and B); A1 times out on its first attempt")

    handler = tour.handler(handlers.ApplyLedgerEntry, tour.settings("apply-ledger-entry", dlq=dlq))
    invocations = SqsPoller(queue, handler, function_name=tour.name("apply-ledger-entry"), reporter=tour.reporter).run()
    dead = read_dlq(dlq)
    tour.reporter.dead_letters(_queue_name(dlq), dead)
    applied = handlers.LEDGER.applied
    for group in "AB":
        say(f"group {group} applied: {' -> '.join(applied.get(group, [])) or '(nothing)'}")
    log = [f"{key} {outcome}" for key, outcome in handlers.LEDGER.attempts]
    say(f"attempts in order: {', '.join(log)}")
    return [
        *_standard((6, 6, 3, 0, 0), invocations, dead),
        Check("group A order", ["A1", "A2", "A3"], applied.get("A", [])),
        Check("group B order", ["B1", "B2", "B3"], applied.get("B", [])),
        Check("group A attempts", ["A1 timeout", "A1 ok", "A2 ok", "A3 ok"], [e for e in log if e.startswith("A")]),
    ]


def kinesis(tour: Tour) -> list[Check]:
    """Kinesis -> TrackClick: poison to the DLQ, checkpoint at a transient failure, the rest in order."""
    say = tour.reporter.say
    stream = tour.name("clicks")
    streams = client("kinesis")
    streams.create_stream(StreamName=stream, ShardCount=1)
    for _ in range(100):
        if streams.describe_stream(StreamName=stream)["StreamDescription"]["StreamStatus"] == "ACTIVE":
            break
        time.sleep(0.05)
    dlq = tour.queue("clicks-dlq")
    handlers.FLAKY.add("click-5")
    for n in range(1, 9):
        put_record(stream, Click(seq=n, user="" if n == 3 else f"u-{n}", page=f"/p/{n}"), partition_key="site-1")
    say(f"put clicks 1..8 on stream {stream} (one shard): click 3 has no user, click 5 times out once")

    handler = tour.handler(handlers.TrackClick, tour.settings("track-click", dlq=dlq))
    invocations = KinesisShardReader(
        stream, handler, function_name=tour.name("track-click"), reporter=tour.reporter, on_failure=dlq
    ).run()
    dead = read_dlq(dlq)
    tour.reporter.dead_letters(_queue_name(dlq), dead)
    say(f"counted in this order: {handlers.LEDGER.clicks}")
    poisoned = [json.loads(d.document.original_payload()).get("seq") for d in dead if d.reason == "permanent-error"]
    return [
        *_standard((8, 7, 4, 1, 0), invocations, dead),
        Check("clicks counted, in order", [1, 2, 4, 5, 6, 7, 8], handlers.LEDGER.clicks),
        Check("click 5 attempts", ["timeout", "ok"], _attempts("click-5")),
        Check("DLQ reasons", ["permanent-error"], [d.reason for d in dead]),
        Check("click in the DLQ", [3], poisoned),
    ]


def recursion(tour: Tour) -> list[Check]:
    """A relay feeding its own queue: the hop count stops it at max_hops with one recursion-limit DLQ record."""
    say = tour.reporter.say
    dlq = tour.queue("relay-dlq")
    queue = tour.queue("relay", dlq=dlq)
    handler = tour.handler(handlers.MisWiredRelay, tour.settings("relay", dlq=dlq, max_hops=5), output_queue_url=queue)
    send_sqs(queue, Ping(text="hello"))
    say(f"sent one ping to {_queue_name(queue)}; the relay sends everything it gets back to the same queue")
    say("(Settings(max_hops=5): each eventweave publish adds a hop)")

    invocations = SqsPoller(queue, handler, function_name=tour.name("relay"), reporter=tour.reporter).run()
    dead = read_dlq(dlq)
    tour.reporter.dead_letters(_queue_name(dlq), dead)
    hops = [h for h, _ in handlers.LEDGER.relayed]
    stopped = [d.document for d in dead if d.reason == "recursion-limit"]
    chains = {c for _, c in handlers.LEDGER.relayed} | {p.correlation_id for p in stopped}
    return [
        *_standard((7, 6, 0, 1, 0), invocations, dead),
        Check("hops relayed", [0, 1, 2, 3, 4, 5], hops),
        Check("DLQ reasons", ["recursion-limit"], [d.reason for d in dead]),
        Check("hops of the stopped message", [6], [p.hops for p in stopped]),
        Check("correlation ids in the chain", 1, len(chains)),
    ]


def fanin(tour: Tour) -> list[Check]:
    """Ventilator + workers over FanIn: every task delivered twice, the job completes once with the right sum."""
    say = tour.reporter.say
    dlq = tour.queue("tasks-dlq")
    tasks = tour.queue("tasks", dlq=dlq)
    jobs = tour.job_table()
    numbers = [3, 1, 4, 1, 5, 9]
    expected_sum = sum(n * n for n in numbers)
    job_id = "squares-1"
    ventilator = tour.handler(
        handlers.Ventilator, tour.settings("ventilator", dlq=dlq, job_table=jobs), tasks_queue_url=tasks
    )
    worker = tour.handler(handlers.SquareWorker, tour.settings("square-worker", dlq=dlq, job_table=jobs))

    event = stamp(StartReport(job_id=job_id, numbers=numbers).model_dump())
    say(f"start request for job {job_id} (squares of {numbers}) delivered twice, as asynchronous invocation may")
    starts: list[Invocation] = []
    for _ in range(2):
        starts += invoke_async(ventilator, event, function_name=tour.name("ventilator"), reporter=tour.reporter)
    queued = int(
        client("sqs").get_queue_attributes(QueueUrl=tasks, AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"
        ]["ApproximateNumberOfMessages"]
    )
    say(f"{_queue_name(tasks)} holds {queued} task messages: each of the {len(numbers)} tasks twice")

    invocations = SqsPoller(tasks, worker, function_name=tour.name("square-worker"), reporter=tour.reporter).run()
    dead = read_dlq(dlq)
    tour.reporter.dead_letters(_queue_name(dlq), dead)
    completions = handlers.LEDGER.completions
    for done_job, total in completions:
        say(f"job {done_job} complete: aggregate {total} (sum of squares {expected_sum})")
    status = FanIn(jobs).status(job_id)
    return [
        *_standard((14, 8, 0, 0, 6), [*starts, *invocations], dead),
        Check("start_job created the job", [True, False], [(inv.response or {}).get("started") for inv in starts]),
        Check("task messages sent", 2 * len(numbers), queued),
        Check("completions reported", 1, len(completions)),
        Check("aggregate", expected_sum, completions[0][1] if completions else None),
        Check("job status", "COMPLETED, 0 left", f"{status.status}, {status.remaining} left" if status else None),
    ]


SCENARIOS: dict[str, tuple[str, Callable[[Tour], list[Check]]]] = {
    "orders": ("SNS -> SQS -> idempotent charge", orders),
    "fifo": ("SQS FIFO: order kept per group", fifo),
    "kinesis": ("Kinesis: poison, checkpoint, order", kinesis),
    "recursion": ("recursion guard on a self-fed queue", recursion),
    "fanin": ("fan-in: duplicate tasks, 1 completion", fanin),
}


def run(
    names: Sequence[str] | None = None, *, out: TextIO | None = None, verbose: bool = False, prefix: str = "tour"
) -> list[ScenarioResult]:
    """Run the scenarios (all by default) against the AWS endpoint the environment points at; never raises."""
    reporter = Reporter(out or sys.stdout, verbose=verbose)
    tour = Tour(reporter, prefix)
    results = []
    for key in names or list(SCENARIOS):
        title, scenario = SCENARIOS[key]
        number = list(SCENARIOS).index(key) + 1
        handlers.reset()
        reporter.heading(f"{number}. {key}: {title}")
        if scenario.__doc__:
            reporter.say(scenario.__doc__)
        result = ScenarioResult(key, title)
        started = time.monotonic()
        try:
            result.checks = scenario(tour)
        except Exception as error:  # a broken scenario is a FAIL with its reason, and the others still run
            result.error = f"{type(error).__name__}: {error}"
            if verbose:
                reporter.out.write(traceback.format_exc())
        result.seconds = time.monotonic() - started
        reporter.scenario(result)
        results.append(result)
    return results


def report(names: Sequence[str] | None = None, *, out: TextIO | None = None, verbose: bool = False) -> int:
    """Run the scenarios, print the summary; 0 when every scenario reached its expected end state, else 1."""
    out = out or sys.stdout
    started = time.monotonic()
    results = run(names, out=out, verbose=verbose)
    Reporter(out).summary(results, time.monotonic() - started)
    return 0 if results and all(r.passed for r in results) else 1

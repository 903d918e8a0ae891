"""SQS FIFO queues -> Lambda: order within a message group, retries before later messages, FIFO attributes."""

from __future__ import annotations

import json
import uuid

from .conftest import Observations, body, key


def processed(invocations, run: str) -> list[str]:
    """This run's keys in the order their records were handled successfully (first success only)."""
    seen: list[str] = []
    for invocation in invocations:
        for outcome in invocation.outcomes:
            name = outcome.get("key")
            if isinstance(name, str) and name.startswith(run) and outcome["outcome"] == "ok" and name not in seen:
                seen.append(name)
    return seen


def send(stack, run: str, name: str, group: str, **instructions) -> dict:
    return stack.client("sqs").send_message(
        QueueUrl=stack.outputs["FifoQueueUrl"],
        MessageBody=body(run, name, **instructions),
        MessageGroupId=group,
        MessageDeduplicationId=key(run, name),
    )


def test_fifo_keeps_order_within_a_message_group(conformance, observed: Observations, run, patience):
    """A FIFO queue's messages reach the function in order within each message group.

    AWS: https://github.com/awsdocs/aws-lambda-developer-guide/blob/main/doc_source/with-sqs.md
    Notes: aws-semantics.md §1, "FIFO queues"
    Expected: Lambda sends one batch at a time per message group, in the group's order: messages sent to two
    interleaved groups are handled in send order within each group.
    """
    order = [("a1", "A"), ("b1", "B"), ("a2", "A"), ("b2", "B"), ("a3", "A"), ("b3", "B")]
    for name, group in order:
        send(conformance, run, name, f"{run}-{group}")
    invocations = observed.wait_for(
        run,
        lambda found: found if len(processed(found, run)) >= len(order) else None,
        timeout=patience["fast"],
        what="all six messages handled",
    )
    done = processed(invocations, run)
    for group in ("a", "b"):
        assert [k for k in done if k.split("-")[-1].startswith(group)] == [key(run, f"{group}{i}") for i in (1, 2, 3)]


def test_fifo_retries_a_failed_message_before_later_messages_of_its_group(
    conformance, observed: Observations, run, patience
):
    """A failed FIFO message is retried before Lambda delivers later messages of its group.

    AWS: https://github.com/awsdocs/aws-lambda-developer-guide/blob/main/doc_source/with-sqs.md
    Notes: aws-semantics.md §1, "FIFO queues"
    Expected: "If your function returns an error, the function attempts all retries on the affected messages
    before Lambda receives additional messages from the same group": m2 fails once (the function reports it and the
    rest of the batch, as AWS advises); m3 and m4 (sent after m2 failed) are handled only after m2's retry
    succeeded, and the group's order m1, m2, m3, m4 holds, in each of four rounds.
    """
    # Four rounds, each its own group and run: an emulator's order after a retry can depend on when the visibility
    # timeout ends relative to its polls, and AWS's rule holds every time.
    for round_number in range(ROUNDS):
        round_run = run if round_number == 0 else f"run-{uuid.uuid4().hex[:12]}"
        failed_then_ordered(conformance, observed, round_run, patience, round_number)


ROUNDS = 4


def failed_then_ordered(conformance, observed: Observations, run: str, patience, round_number: int) -> None:
    group = f"{run}-G"
    send(conformance, run, "m1", group)
    send(conformance, run, "m2", group, fail=1, how="partial")
    send(conformance, run, "m3", group)
    observed.wait_for(
        run,
        lambda found: any((o := i.outcome(key(run, "m2"))) and o["outcome"] == "failed" for i in found),
        timeout=patience["fast"],
        what=f"m2's failed first attempt (round {round_number + 1})",
    )
    send(conformance, run, "m4", group)
    invocations = observed.wait_for(
        run,
        lambda found: found if len(processed(found, run)) >= 4 else None,
        timeout=patience["fast"] * 2,
        what=f"all four messages handled (round {round_number + 1})",
    )
    order = [k.rsplit("-", 1)[-1] for k in processed(invocations, run)]
    assert order == ["m1", "m2", "m3", "m4"], f"round {round_number + 1}: handled in the order {order}"
    m2_done = next(n for n, i in enumerate(invocations) if (o := i.outcome(key(run, "m2"))) and o["outcome"] == "ok")
    m4_first = next(n for n, i in enumerate(invocations) if i.outcome(key(run, "m4")))
    assert m4_first >= m2_done, f"round {round_number + 1}: m4 was delivered before m2's retry succeeded"


def test_fifo_record_attributes(conformance, observed: Observations, run, patience):
    """A FIFO record carries the message's sequence number, group and deduplication id.

    AWS: https://github.com/awsdocs/aws-lambda-developer-guide/blob/main/doc_source/with-sqs.md
    Notes: aws-semantics.md §1, "Event record fields"
    Expected: a FIFO record's attributes add SequenceNumber, MessageGroupId and MessageDeduplicationId (strings) to
    the standard ones; eventSourceARN is the FIFO queue's ARN.
    """
    group = f"{run}-G"
    sent = send(conformance, run, "m", group)
    invocation = observed.wait_for(run, lambda found: found[:1], timeout=patience["fast"], what="the message")[0]
    record = next(r for r in invocation.records if r["messageId"] == sent["MessageId"])
    attributes = record["attributes"]
    assert attributes.get("SequenceNumber") == sent["SequenceNumber"]
    assert attributes.get("MessageGroupId") == group
    assert attributes.get("MessageDeduplicationId") == key(run, "m")
    assert all(isinstance(v, str) for v in attributes.values()), json.dumps(attributes)
    assert record["eventSourceARN"] == conformance.outputs["FifoQueueArn"]

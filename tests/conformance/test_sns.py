"""SNS -> Lambda (asynchronous) and SNS -> SQS (envelope and raw delivery)."""

from __future__ import annotations

import json

from .conftest import Inbox, Observations, body, key, settle


def publish(stack, text: str) -> str:
    response = stack.client("sns").publish(
        TopicArn=stack.outputs["TopicArn"],
        Message=text,
        MessageAttributes={"color": {"DataType": "String", "StringValue": "blue"}},
    )
    return str(response["MessageId"])


def test_sns_to_lambda_record_shape(conformance, observed: Observations, run, patience):
    """The SNS event a function receives.

    AWS: https://github.com/awsdocs/aws-lambda-developer-guide/blob/main/doc_source/with-sns.md
    Notes: aws-semantics.md §4
    Expected: Records[0] has EventSource "aws:sns", EventVersion "1.0", EventSubscriptionArn (the topic's
    subscription), and Sns with Type "Notification", MessageId, TopicArn, Subject (null when none), Message,
    Timestamp, SignatureVersion, Signature, SigningCertUrl, UnsubscribeUrl (Url, not URL) and
    MessageAttributes {name: {Type, Value}}.
    """
    text = body(run, "m")
    message_id = publish(conformance, text)
    invocation = observed.wait_for(
        run, lambda found: found[:1], timeout=patience["fast"], what="the topic's function", role="TopicFn"
    )[0]
    record = invocation.records[0]
    topic = conformance.outputs["TopicArn"]
    assert record["EventSource"] == "aws:sns"
    assert record["EventVersion"] == "1.0"
    assert record["EventSubscriptionArn"].startswith(topic + ":")
    sns = record["Sns"]
    assert sns["Type"] == "Notification"
    assert sns["MessageId"] == message_id
    assert sns["TopicArn"] == topic
    assert "Subject" in sns and sns["Subject"] is None
    assert sns["Message"] == text
    for field in ("Timestamp", "SignatureVersion", "Signature", "SigningCertUrl", "UnsubscribeUrl"):
        assert field in sns, f"Sns.{field} missing: {sorted(sns)}"
    assert "SigningCertURL" not in sns and "UnsubscribeURL" not in sns
    assert sns["MessageAttributes"] == {"color": {"Type": "String", "Value": "blue"}}


def test_sns_to_lambda_failure_reaches_the_on_failure_destination(conformance, observed: Observations, run, patience):
    """A function SNS invokes is retried as an asynchronous invocation, then its on-failure destination gets the
    record.

    AWS: https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html
    Notes: aws-semantics.md §3, §4
    Expected: SNS invokes functions asynchronously, so the function's MaximumRetryAttempts (1) applies: two attempts,
    then an invocation record with condition RetriesExhausted, approximateInvokeCount 2 and the SNS event as
    requestPayload goes to the on-failure queue.
    """
    text = body(run, "m", poison=True)
    publish(conformance, text)
    inbox = Inbox(conformance, conformance.outputs["TopicFnFailuresUrl"], run)
    record = inbox.wait(timeout=patience["async"], what="the on-failure record")[0]["body"]
    settle(conformance)
    assert observed.attempts(key(run, "m")) == 2
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["requestPayload"]["Records"][0]["Sns"]["Message"] == text
    assert record["responseContext"]["functionError"] == "Unhandled"


def test_sns_to_sqs_without_raw_delivery_wraps_the_message_in_the_envelope(conformance, run, patience):
    """SNS -> SQS without raw message delivery: the SQS body is SNS's JSON envelope.

    AWS: https://docs.aws.amazon.com/sns/latest/dg/http-notification-json.html
    Notes: aws-semantics.md §4
    Expected: the body is a JSON document with Type "Notification", MessageId, TopicArn, Message, Timestamp,
    SignatureVersion, Signature, SigningCertURL, UnsubscribeURL (URL, not Url) and MessageAttributes
    {name: {Type, Value}}; Subject is left out when the message has none.
    """
    text = body(run, "m")
    message_id = publish(conformance, text)
    inbox = Inbox(conformance, conformance.outputs["EnvelopeQueueUrl"], run)
    envelope = inbox.wait(timeout=patience["fast"], what="the envelope in the queue")[0]["body"]
    assert isinstance(envelope, dict), envelope
    assert envelope["Type"] == "Notification"
    assert envelope["MessageId"] == message_id
    assert envelope["TopicArn"] == conformance.outputs["TopicArn"]
    assert envelope["Message"] == text
    for field in ("Timestamp", "SignatureVersion", "Signature", "SigningCertURL", "UnsubscribeURL"):
        assert field in envelope, f"{field} missing: {sorted(envelope)}"
    assert "Subject" not in envelope
    assert envelope["MessageAttributes"] == {"color": {"Type": "String", "Value": "blue"}}


def test_sns_to_sqs_raw_delivery_sends_the_message_as_it_is(conformance, run, patience):
    """SNS -> SQS with raw message delivery: the SQS body is the message itself.

    AWS: https://docs.aws.amazon.com/sns/latest/dg/sns-large-payload-raw-message-delivery.html
    Notes: aws-semantics.md §4
    Expected: with RawMessageDelivery the body is the published message unchanged (no envelope) and SNS message
    attributes become SQS message attributes.
    """
    text = body(run, "m")
    publish(conformance, text)
    inbox = Inbox(conformance, conformance.outputs["RawQueueUrl"], run)
    message = inbox.wait(timeout=patience["fast"], what="the raw message in the queue")[0]
    assert message["body"] == json.loads(text)
    assert message["message_attributes"] == {"color": "blue"}

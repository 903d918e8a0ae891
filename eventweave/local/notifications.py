"""S3 event notifications to SQS, SNS and Lambda, delivered with the documented S3 record.

The deployer pointed each bucket's notification configurations at an internal relay queue (moto matches event names
and ``prefix`` / ``suffix`` key filters and sends its own, thinner record there, the configuration id naming the
destination). :class:`BucketNotificationRelay` reads the relay queue and delivers, per record, the notification
document :mod:`eventweave.wire.s3` builds (``userIdentity``, ``requestParameters``, ``responseElements``, the
bucket's ``ownerIdentity``, the URL-encoded key, ``size`` / ``eTag`` on creations, a ``sequencer``):

* SQS: the document is the message body;
* SNS: the document is the ``Message`` (subject ``Amazon S3 Notification``);
* Lambda: an asynchronous invocation with the document as the event (retries and destinations apply).

The ``s3:TestEvent`` S3 sends when a configuration is saved reaches the SQS and SNS destinations, not Lambda, as in
AWS. A delivery that fails (a deleted queue, a message over the queue's size limit) is retried a few times and then
dropped, as S3 drops it, with a log line.

Example::

    relay = BucketNotificationRelay(deployment.bucket_notifications, cloud.async_invoker, endpoint_url=endpoint)
    relay.start()
    ...
    relay.stop()
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.parse
import uuid
from collections.abc import Iterable
from typing import Any, Protocol

from eventweave.wire.s3 import is_test_event, notification_event, object_record

from .aws import client
from .model import BucketNotificationSpec, BucketNotificationTarget, LogSink
from .sources import FailureCounter, PollError, RelayThreads, relay_loop
from .trace import Journal

__all__ = ["SUBJECT", "AsyncSubmitter", "BucketNotificationRelay", "documented_record", "s3_test_event"]

SUBJECT = "Amazon S3 Notification"
"""The subject of the SNS messages S3 publishes."""


class AsyncSubmitter(Protocol):
    """What the relay needs of the async queue (:class:`eventweave.local.invocations.AsyncInvoker`)."""

    def submit(self, function_name: str, payload: bytes, *, source: str = "async") -> str: ...


def documented_record(raw: dict[str, Any], configuration_id: str, *, region: str) -> dict[str, Any]:
    """The documented record for one of moto's S3 records (whose key is URL-encoded with ``/`` as ``%2F``)."""
    s3 = raw.get("s3") or {}
    obj = s3.get("object") or {}
    event_name = str(raw.get("eventName") or "ObjectCreated:Put")
    created = not event_name.startswith("ObjectRemoved")
    return object_record(
        event_name,
        str((s3.get("bucket") or {}).get("name", "")),
        urllib.parse.unquote_plus(str(obj.get("key", ""))),
        region=str(raw.get("awsRegion") or region),
        size=obj.get("size") if created else None,
        etag=obj.get("eTag") if created else None,
        version_id=obj.get("versionId"),
        configuration_id=configuration_id,
        event_time=raw.get("eventTime"),
    )


def s3_test_event(bucket: str, time: str | None = None) -> dict[str, Any]:
    """The ``s3:TestEvent`` document S3 sends to SQS and SNS destinations when a configuration is saved."""
    when = time or dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return {
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": when,
        "Bucket": bucket,
        "RequestId": uuid.uuid4().hex[:16].upper(),
        "HostId": uuid.uuid4().hex,
    }


class BucketNotificationRelay(RelayThreads):
    """Delivers the S3 notifications of some buckets (one relay queue each), like
    :class:`~eventweave.local.invocations.PushRelay` does for SNS and EventBridge."""

    def __init__(
        self,
        specs: Iterable[BucketNotificationSpec],
        async_invoker: AsyncSubmitter | None,
        *,
        endpoint_url: str,
        region: str = "us-east-1",
        log: LogSink | None = None,
        journal: Journal | None = None,
        max_attempts: int = 5,
    ) -> None:
        self.specs = list(specs)
        self.async_invoker = async_invoker
        """Lambda destinations are submitted here; without one they are invoked (``Event``) through the endpoint."""
        self.endpoint_url = endpoint_url
        self.region = region
        self.log = log
        self.max_attempts = max_attempts
        self.failures = {
            spec.relay_queue_url: FailureCounter(f"s3:{spec.bucket}", spec.relay_queue_url, log=log, journal=journal)
            for spec in self.specs
        }
        self.delivered = 0
        """Notification documents handed to a destination (test events included)."""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def relay_queue_urls(self) -> list[str]:
        """The queues this relay reads (for quiescence: what sits there will be delivered)."""
        return [spec.relay_queue_url for spec in self.specs]

    def _relay_items(self) -> list[tuple[Any, str]]:
        return [(spec, f"s3-relay-{spec.bucket}") for spec in self.specs]

    def _loop(self, spec: BucketNotificationSpec) -> None:
        sqs = client("sqs", self.endpoint_url, self.region)
        relay_loop(
            self._stop,
            sqs,
            spec.relay_queue_url,
            self.failures[spec.relay_queue_url],
            lambda message: self._handle(sqs, spec, message),
            attribute_names=("ApproximateReceiveCount",),
        )

    def _handle(self, sqs: Any, spec: BucketNotificationSpec, message: dict[str, Any]) -> None:
        try:
            self.deliver(spec, message["Body"])
        except Exception as error:
            attempts = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
            if attempts < self.max_attempts:
                self._log(f"s3 {spec.bucket}: delivery failed ({error}); retried after the relay timeout")
                return  # stays in the relay queue: reappears after its visibility timeout
            self._log(f"s3 {spec.bucket}: delivery failed {attempts} times ({error}); DROPPED: {message['Body']}")
        try:
            sqs.delete_message(QueueUrl=spec.relay_queue_url, ReceiptHandle=message["ReceiptHandle"])
        except Exception as error:
            raise PollError("DeleteMessage", error) from error

    def deliver(self, spec: BucketNotificationSpec, body: str) -> int:
        """Deliver one relayed message (moto's record, or its test event); return how many documents went out."""
        doc = json.loads(body)
        sent = 0
        if is_test_event(doc) or (isinstance(doc, dict) and doc.get("Event") == "s3:TestEvent"):
            seen: set[str] = set()
            for each in spec.targets:
                if each.target_arn in seen or each.target_arn.split(":")[2] not in ("sqs", "sns"):
                    continue
                seen.add(each.target_arn)
                self._send(each, s3_test_event(str(doc.get("Bucket", spec.bucket)), doc.get("Time")))
                sent += 1
            return sent
        by_id = {target.configuration_id: target for target in spec.targets}
        for raw in doc.get("Records") or []:
            configuration_id = str((raw.get("s3") or {}).get("configurationId", ""))
            target = by_id.get(configuration_id)
            if target is None:
                self._log(f"s3 {spec.bucket}: no destination for configuration {configuration_id!r}; record dropped")
                continue
            record = documented_record(raw, configuration_id, region=self.region)
            self._send(target, notification_event([record]))
            sent += 1
        return sent

    def _send(self, target: BucketNotificationTarget, doc: dict[str, Any]) -> None:
        arn = target.target_arn
        service = arn.split(":")[2]
        text = json.dumps(doc, separators=(",", ":"))
        if service == "sqs":
            sqs = client("sqs", self.endpoint_url, self.region)
            url = sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1], QueueOwnerAWSAccountId=arn.split(":")[4])
            sqs.send_message(QueueUrl=url["QueueUrl"], MessageBody=text)
        elif service == "sns":
            client("sns", self.endpoint_url, self.region).publish(TopicArn=arn, Message=text, Subject=SUBJECT)
        elif service == "lambda":
            if self.async_invoker is not None:
                self.async_invoker.submit(arn.split(":")[6], text.encode(), source="s3")
            else:
                client("lambda", self.endpoint_url, self.region).invoke(
                    FunctionName=arn, InvocationType="Event", Payload=text.encode()
                )
        else:
            raise ValueError(f"unsupported S3 notification destination {arn}")
        with self._lock:
            self.delivered += 1

    def _log(self, line: str) -> None:
        if self.log is not None:
            self.log(line)

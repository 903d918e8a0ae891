"""Three fixes to moto's data plane (5.2.5) where what it delivers differs from what AWS delivers, installed with the
fast clock when the embedded data plane starts (:meth:`eventweave.local.gateway.DataPlane.start`).

* **Binary attributes on SNS raw delivery.** moto's ``Subscription.publish`` (``moto/sns/models.py``) hands SQS the
  SNS notification form of a Binary attribute, base64 *text*, as ``BinaryValue``; SQS keeps the bytes ``SendMessage``
  gave it, so ``Message.attribute_md5`` raises ``TypeError: Strings must be encoded before hashing`` and every
  ``ReceiveMessage`` on that queue fails (HTTP 500) for as long as the message is there. ``SQSBackend.send_message`` is
  wrapped to decode a text ``BinaryValue`` of a Binary attribute (``Binary`` / ``Binary.<custom>``) from base64, so the
  queue stores the bytes that were published, as SQS does.
* **The EventBridge envelope to SQS targets.** Without an ``InputTransformer`` moto renders the event through a text
  template (``EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE`` in ``moto/events/utils.py``) that leaves out
  ``account``, replaces ``<id>``, ``<source>``, ``<time>``... *inside the detail's own strings* with the event's
  values, and fails ``PutEvents`` when a source or detail-type holds a quote. ``EventTemplateParser.parse`` is
  replaced, for that case only, by the envelope itself in AWS's key order (:data:`eventweave.wire.eventbridge.
  ENVELOPE_KEYS`); ``time`` stays the number moto keeps, which its SQS sender turns into AWS's ISO text. With an
  ``InputTransformer`` moto's own rendering runs unchanged.
* **FIFO groups after a visibility timeout.** moto's ``SQSBackend.receive_message`` releases a timed-out message from
  its pending set only when its loop reaches that message, and recomputes the blocked groups from the rest, which are
  still pending: when m2, m3 and m4 of one group time out together, m2 and m3 are skipped as "in flight" and m4 is
  delivered first, breaking the group's order (SQS returns m2, m3, m4); its long poll re-scans with that stale set
  while messages time out during the wait. And its scan reads the clock per message: when m2 times out just before
  the scan and m3 just after it started, m2 is skipped (its group still pending on m3) and m3 and m4 are delivered
  without it. The wrapper scans each FIFO queue at one instant (:func:`eventweave.local._moto_clock.frozen`),
  releases every message timed out by then before the scan, and does the long poll itself, so the group is free and
  its oldest message comes first.

``tests/local/test_moto_fixes.py`` holds a contract test per patched internal: it fails when moto changes what is
patched here (a signature, the bug itself), so the patch is revisited rather than silently wrong.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
import weakref
from collections.abc import Mapping
from typing import Any

from eventweave.wire.attributes import is_binary_type
from eventweave.wire.eventbridge import ENVELOPE_KEYS

from . import _moto_clock

__all__ = ["binary_values_as_bytes", "envelope", "install", "installed", "release_timed_out", "uninstall"]

_ORIGINAL: dict[str, Any] = {}
_FIFO_RESCAN_SECONDS = 0.1


def binary_values_as_bytes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """``attributes`` (SQS API form) with each Binary attribute's text ``BinaryValue`` decoded from base64 to bytes.

    Bytes are left as they are; text that is not base64 is kept as its UTF-8 bytes (never dropped).
    """
    out: dict[str, Any] = {}
    for name, value in attributes.items():
        text = value.get("BinaryValue") if isinstance(value, dict) else None
        if not isinstance(text, str) or not is_binary_type(value.get("DataType")):
            out[name] = value
            continue
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            data = text.encode()
        out[name] = {**value, "BinaryValue": data}
    return out


def _send_message(
    self: Any,
    queue_name: str,
    message_body: str,
    message_attributes: dict[str, Any] | None = None,
    delay_seconds: int | None = None,
    deduplication_id: str | None = None,
    group_id: str | None = None,
    system_attributes: dict[str, Any] | None = None,
    validate_group_id: bool = True,
) -> Any:
    if message_attributes:
        message_attributes = binary_values_as_bytes(message_attributes)
    return _ORIGINAL["send_message"](
        self,
        queue_name,
        message_body,
        message_attributes=message_attributes,
        delay_seconds=delay_seconds,
        deduplication_id=deduplication_id,
        group_id=group_id,
        system_attributes=system_attributes,
        validate_group_id=validate_group_id,
    )


def release_timed_out(queue: Any) -> None:
    """Take the messages of a FIFO queue whose visibility timeout has passed out of its pending set."""
    if not getattr(queue, "fifo_queue", False):
        return
    pending = queue.pending_messages
    for message in [m for m in pending if m.visible]:
        pending.discard(message)


_SCAN_LOCKS: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_SCAN_LOCKS_GUARD = threading.Lock()


def _scan_lock(queue: Any) -> threading.Lock:
    with _SCAN_LOCKS_GUARD:
        lock = _SCAN_LOCKS.get(queue)
        if lock is None:
            lock = _SCAN_LOCKS[queue] = threading.Lock()
        return lock


def _receive_message(
    self: Any,
    queue_name: str,
    count: int,
    wait_seconds_timeout: int,
    visibility_timeout: int,
    message_attribute_names: list[str] | None = None,
) -> Any:
    original = _ORIGINAL["receive_message"]
    queue = self.get_queue(queue_name)
    if not getattr(queue, "fifo_queue", False):
        return original(self, queue_name, count, wait_seconds_timeout, visibility_timeout, message_attribute_names)
    # moto's long poll re-scans with the stale pending set while messages time out during the wait, so a FIFO long
    # poll is done here: release what timed out, then one scan, until something comes or the wait is over.
    # Scans are serialised per queue: moto's scan is not atomic, and two pollers scanning one FIFO queue at once can
    # each see the other's half-released group and deliver a later message first.
    deadline = time.monotonic() + (wait_seconds_timeout or 0)
    lock = _scan_lock(queue)
    while True:
        with lock, _moto_clock.frozen():
            release_timed_out(queue)
            got = original(self, queue_name, count, 0, visibility_timeout, message_attribute_names)
        remaining = deadline - time.monotonic()
        if got or remaining <= 0:
            return got
        queue.wait_for_messages(min(_FIFO_RESCAN_SECONDS, remaining))  # a send wakes it at once


def envelope(event: Mapping[str, Any]) -> dict[str, Any]:
    """The EventBridge envelope of moto's internal event message, in AWS's key order (no ``ingestion-time``)."""
    return {key: event[key] for key in ENVELOPE_KEYS if key in event}


def _parse(input_template: str | None, input_paths_map: dict[str, Any] | None, event: Any) -> Any:
    if input_template is None and not input_paths_map:
        return envelope(event)
    return _ORIGINAL["parse"].__func__(input_template, input_paths_map or {}, event)


def install() -> None:
    """Apply the fixes (idempotent), with the fast clock the FIFO fix stops during a scan."""
    _moto_clock.install()
    sqs_backend, parser = _targets()
    if not _ORIGINAL:
        _ORIGINAL["send_message"] = sqs_backend.send_message
        _ORIGINAL["receive_message"] = sqs_backend.receive_message
        _ORIGINAL["parse"] = parser.__dict__["parse"]  # the staticmethod object, to restore it as it was
    sqs_backend.send_message = _send_message
    sqs_backend.receive_message = _receive_message
    parser.parse = staticmethod(_parse)


def uninstall() -> None:
    """Restore moto's own functions."""
    sqs_backend, parser = _targets()
    if _ORIGINAL:
        sqs_backend.send_message = _ORIGINAL["send_message"]
        sqs_backend.receive_message = _ORIGINAL["receive_message"]
        parser.parse = _ORIGINAL["parse"]


def installed() -> bool:
    sqs_backend, parser = _targets()
    return (
        sqs_backend.__dict__.get("send_message") is _send_message
        and sqs_backend.__dict__.get("receive_message") is _receive_message
        and parser.__dict__["parse"].__func__ is _parse
    )


def _targets() -> tuple[Any, Any]:
    from moto.events.utils import EventTemplateParser
    from moto.sqs.models import SQSBackend

    return SQSBackend, EventTemplateParser

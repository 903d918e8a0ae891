"""Lambda's partial batch response rules (:func:`eventweave.local.sources.batch_failures`), one row per documented
case: which identifiers go back to the queue after an invocation, ``[]`` for a complete success, ``None`` for a
complete failure (the whole batch becomes visible again).

Source: shared/notes/aws-semantics.md section 1 ("With RBIF"), from the archived Lambda guide with-sqs.md "Success
and failure conditions" and services-sqs-errorhandling.html:

* the response is ignored unless ReportBatchItemFailures is enabled on the mapping;
* if the function throws, the whole batch failed;
* complete success: an empty or null ``batchItemFailures`` list, an empty or null EventResponse;
* complete failure: invalid JSON, an empty-string or null ``itemIdentifier``, an ``itemIdentifier`` under a wrong
  key name, an ``itemIdentifier`` whose message id is not in the batch.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from eventweave.local.model import InvokeResult
from eventweave.local.sources import batch_failures

IDS = ["m-1", "m-2", "m-3"]
ERROR = json.dumps({"errorMessage": "boom", "errorType": "RuntimeError"}).encode()


def returned(response: Any) -> InvokeResult:
    """The handler returned ``response`` (serialised as the runtime does)."""
    return InvokeResult(200, json.dumps(response).encode())


def failures(*identifiers: Any) -> InvokeResult:
    return returned({"batchItemFailures": [{"itemIdentifier": i} for i in identifiers]})


CASES: list[tuple[str, InvokeResult, bool, list[str] | None]] = [
    # -- ReportBatchItemFailures off: the response is not read ----------------------------------------------------
    ("disabled: a response naming failures is ignored", failures("m-2"), False, []),
    ("disabled: invalid JSON is ignored", InvokeResult(200, b"{not json"), False, []),
    ("disabled: a function error fails the batch", InvokeResult(200, ERROR, "Unhandled"), False, None),
    # -- complete success ------------------------------------------------------------------------------------------
    ("empty batchItemFailures list", returned({"batchItemFailures": []}), True, []),
    ("null batchItemFailures list", returned({"batchItemFailures": None}), True, []),
    ("empty EventResponse", returned({}), True, []),
    ("null EventResponse", returned(None), True, []),
    ("no payload at all", InvokeResult(200, b""), True, []),
    ("a response without batchItemFailures", returned({"processed": 3}), True, []),
    # -- partial success -----------------------------------------------------------------------------------------
    ("one failed message", failures("m-2"), True, ["m-2"]),
    ("several failed messages, in the order returned", failures("m-3", "m-1"), True, ["m-3", "m-1"]),
    ("every message failed", failures(*IDS), True, IDS),
    # -- complete failure ----------------------------------------------------------------------------------------
    ("invalid JSON", InvokeResult(200, b'{"batchItemFailures": ['), True, None),
    ("empty-string itemIdentifier", failures(""), True, None),
    ("null itemIdentifier", failures(None), True, None),
    ("itemIdentifier under a wrong key", returned({"batchItemFailures": [{"itemId": "m-2"}]}), True, None),
    ("itemIdentifier not in the batch", failures("m-9"), True, None),
    ("one good and one unknown identifier", failures("m-1", "m-9"), True, None),
    ("a non-string itemIdentifier", failures(2), True, None),
    ("a failure entry that is not an object", returned({"batchItemFailures": ["m-2"]}), True, None),
    ("batchItemFailures that is not a list", returned({"batchItemFailures": "m-2"}), True, None),
    ("a response that is a list", returned(["m-2"]), True, None),
    ("a response that is a string", returned("m-2"), True, None),
    ("the function threw", InvokeResult(200, ERROR, "Unhandled"), True, None),
    ("a handled function error", InvokeResult(200, ERROR, "Handled"), True, None),
    (
        "throttled (never ran)",
        InvokeResult(429, b'{"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"}'),
        True,
        None,
    ),
]


@pytest.mark.parametrize(("result", "enabled", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_batch_failures(result: InvokeResult, enabled: bool, expected: list[str] | None) -> None:
    assert batch_failures(result, IDS, enabled=enabled) == expected


def test_an_identifier_is_matched_exactly_not_by_prefix_or_case() -> None:
    assert batch_failures(failures("m-1"), ["m-10"], enabled=True) is None
    assert batch_failures(failures("M-1"), ["m-1"], enabled=True) is None
    assert batch_failures(failures("m-1 "), ["m-1"], enabled=True) is None

"""The jobs API's HTTP front: eventweave's ``RequestFront`` serving ``/jobs`` instead of ``/requests``.

It stores a ``PENDING`` record and enqueues the body; it does not validate the body against :class:`JobRequest`
(the worker does), so the front stays a few milliseconds and never ships a model it could disagree with.
"""

from __future__ import annotations

from typing import ClassVar

from eventweave.coordination import RequestFront


class JobsFront(RequestFront):
    """``POST /jobs`` -> 202 + ``Location: /jobs/{id}``; ``GET /jobs/{id}`` -> 202 / 200 / 422 / 410 / 404.

    Example::

        front = JobsFront.lambda_handler()
        front({"requestContext": {"http": {"method": "POST"}}, "rawPath": "/jobs", "body": '{"text": "a b"}'}, ctx)
        # {"statusCode": 202, "headers": {"Location": "/jobs/6f1c...", "Retry-After": "1", ...}, ...}
    """

    base_path: ClassVar[str] = "/jobs"
    retry_after_seconds: ClassVar[int] = 1  # jobs take seconds, not minutes: ask again soon


handler = JobsFront.lambda_handler()

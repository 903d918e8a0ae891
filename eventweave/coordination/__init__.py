"""Application runtimes built on the handler engine: the handler side of the coordination patterns.

* :mod:`eventweave.coordination.fan_out_fan_in`: ``Ventilator`` splits a job into tasks, ``FanInWorker`` does one
  task each, ``JobCompleted`` is the one completion per job (what :class:`eventweave.patterns.FanOutFanIn` deploys);
* :mod:`eventweave.coordination.fan_in`: ``FanIn``, the job table that counts each task down exactly once
  (``JobStatus``, ``TaskOutcome``), usable on its own;
* :mod:`eventweave.coordination.requests`: ``RequestFront`` (the HTTP front), ``RequestWorker``, ``RequestStore``
  and ``RequestTask`` (what :class:`eventweave.patterns.DecoupledInvocation` deploys).

This package ships inside Lambda next to :mod:`eventweave.handlers`, so importing it imports nothing: each name below
is loaded from its own module on first access (PEP 562). No aws_cdk, no moto, and boto3 only when a record first
talks to AWS.

Example::

    from pydantic import BaseModel
    from eventweave.coordination import FanInWorker, JobStatus, Ventilator
    from eventweave.handlers import SqsRecordContext

    class Document(BaseModel):
        document_id: str
        text: str

    class Chunk(BaseModel):
        text: str

    class SplitDocument(Ventilator[Document]):
        def job_id(self, doc: Document) -> str:
            return doc.document_id

        def split(self, doc: Document) -> list[Chunk]:
            return [Chunk(text=line) for line in doc.text.splitlines()]

    class CountWords(FanInWorker[Chunk]):
        def process(self, chunk: Chunk, ctx: SqsRecordContext) -> int:
            return len(chunk.text.split())

        def on_job_complete(self, job: JobStatus) -> dict[str, int]:
            return {"words": sum(self.jobs.results(job.job_id).values())}

    split_document = SplitDocument.lambda_handler()
    count_words = CountWords.lambda_handler()
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "FanIn",
    "FanInTask",
    "FanInWorker",
    "JobCompleted",
    "JobStatus",
    "RequestFront",
    "RequestStore",
    "RequestTask",
    "RequestWorker",
    "TaskOutcome",
    "Ventilator",
]

_WHERE = {
    "FanIn": "fan_in",
    "JobStatus": "fan_in",
    "TaskOutcome": "fan_in",
    "Ventilator": "fan_out_fan_in",
    "FanInWorker": "fan_out_fan_in",
    "FanInTask": "fan_out_fan_in",
    "JobCompleted": "fan_out_fan_in",
    "RequestFront": "requests",
    "RequestWorker": "requests",
    "RequestTask": "requests",
    "RequestStore": "requests",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'eventweave.coordination' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from .fan_in import FanIn, JobStatus, TaskOutcome
    from .fan_out_fan_in import FanInTask, FanInWorker, JobCompleted, Ventilator
    from .requests import RequestFront, RequestStore, RequestTask, RequestWorker

"""Handlers of the fan-out/fan-in and decoupled-invocation patterns, used by the showcase stack and the tests.

* :class:`SplitDocument` (ventilator) cuts a document into chunks, :class:`CountWords` (fan-in worker) counts the
  words of each chunk and adds the total to the job's completion, :class:`AnnounceWordCount` receives it.
* :class:`Summarize` (request worker) answers ``POST /requests`` bodies like ``{"text": "..."}`` asynchronously.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from eventweave.coordination import FanInWorker, JobCompleted, JobStatus, RequestWorker, Ventilator
from eventweave.handlers import InvokeHandler, PermanentError, RecordContext, SqsRecordContext


class Document(BaseModel):
    document_id: str
    text: str
    chunk_lines: int = Field(default=100, ge=1)


class Chunk(BaseModel):
    first_line: int
    text: str


class SplitDocument(Ventilator[Document]):
    """Ventilator: one task per ``chunk_lines`` lines of the document; the job is the document."""

    def job_id(self, doc: Document) -> str:
        return doc.document_id

    def split(self, doc: Document) -> list[Chunk]:
        lines = doc.text.splitlines() or [""]
        step = doc.chunk_lines
        return [Chunk(first_line=i, text="\n".join(lines[i : i + step])) for i in range(0, len(lines), step)]

    def task_id(self, task: Any, index: int) -> str:
        return f"lines-{task.first_line}"


split_document = SplitDocument.lambda_handler()


class CountWords(FanInWorker[Chunk]):
    """Fan-in worker: counts a chunk's words; the completion carries the document's total."""

    completion_source = "showcase.documents"

    def process(self, chunk: Chunk, ctx: SqsRecordContext) -> int:
        return len(chunk.text.split())

    def on_job_complete(self, job: JobStatus) -> dict[str, Any]:
        return {"words": sum(self.jobs.results(job.job_id).values())}


count_words = CountWords.lambda_handler()


class AnnounceWordCount(InvokeHandler[JobCompleted]):
    """Completion sink (async invoke): where a real service would notify the document's owner."""

    def handle(self, done: JobCompleted, ctx: RecordContext) -> dict[str, Any]:
        self.logger.info("document %s has %s words", done.job_id, getattr(done, "words", "?"))
        return {"job_id": done.job_id, "words": getattr(done, "words", None)}


announce_word_count = AnnounceWordCount.lambda_handler()


class SummaryRequest(BaseModel):
    text: str = Field(min_length=1)
    max_words: int = Field(default=5, ge=1, le=100)


class Summary(BaseModel):
    words: int
    summary: str


class Summarize(RequestWorker[SummaryRequest]):
    """Request worker: a (very) extractive summary, computed out of band of the HTTP request."""

    def work(self, request: SummaryRequest, ctx: SqsRecordContext) -> Summary:
        words = request.text.split()
        if words and words[0].lower() == "forbidden":
            raise PermanentError("this text may not be summarized")
        return Summary(words=len(words), summary=" ".join(words[: request.max_words]))


summarize = Summarize.lambda_handler()

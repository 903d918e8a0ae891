"""The jobs worker: counts the words of a text, slowly (the sleep stands in for real work such as a thumbnail).

Outcomes, as ``GET /jobs/{id}`` reports them:

* a body that is not a :class:`JobRequest` -> ``FAILED`` (422) at once, no retry, not in the DLQ (the base class);
* a text without a single word -> ``FAILED`` (422) with :class:`PermanentError`, and the task goes to the DLQ;
* :class:`UpstreamUnavailableError` (transient) -> the task returns to the queue and is delivered again;
* otherwise ``SUCCEEDED`` (200) with :class:`WordStats`.
"""

from __future__ import annotations

import re
import time
from collections import Counter

from eventweave.coordination import RequestWorker
from eventweave.handlers import PermanentError, SqsRecordContext

from ..models import JobRequest, WordCount, WordStats

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


class UpstreamUnavailableError(RuntimeError):
    """A dependency did not answer this time; SQS delivers the task again after the visibility timeout."""


def word_stats(text: str, top: int) -> tuple[int, int, list[WordCount]]:
    """``(words, distinct words, the ``top`` most frequent)``; case-insensitive, ties in order of first use.

    Example::

        word_stats("To be or not to be", 1)      # (6, 4, [WordCount(word="to", count=2)])
    """
    counts = Counter(word.lower() for word in _WORD.findall(text))
    return sum(counts.values()), len(counts), [WordCount(word=w, count=n) for w, n in counts.most_common(top)]


class CountWords(RequestWorker[JobRequest]):
    """Runs one job: validates the body (base class), does the slow work, returns :class:`WordStats`.

    Example::

        handler = CountWords.lambda_handler()     # deployed by DecoupledInvocation(worker=CountWords)
    """

    def work(self, request: JobRequest, ctx: SqsRecordContext) -> WordStats:
        if ctx.receive_count <= request.fail_attempts:
            raise UpstreamUnavailableError(f"delivery {ctx.receive_count} of {request.fail_attempts} set to fail")
        time.sleep(request.work_seconds)
        words, distinct, most = word_stats(request.text, request.top)
        if words == 0:
            raise PermanentError("the text has no words to count")  # retrying cannot help: FAILED, and to the DLQ
        return WordStats(words=words, distinct=distinct, top=most, attempt=ctx.receive_count)


handler = CountWords.lambda_handler()

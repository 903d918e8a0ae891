"""What a client asks of a job and what a finished job answers (pydantic v2).

Example::

    JobRequest(text="to be or not to be", top=2)          # what POST /jobs carries
    WordStats(words=6, distinct=4, top=[WordCount(word="to", count=2), ...], attempt=1)   # GET /jobs/{id}'s result
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

MAX_WORK_SECONDS = 1.0
"""Upper bound on the simulated work: it must stay well inside the worker's timeout (2 s, see stack.py)."""


class JobRequest(BaseModel):
    """The body of ``POST /jobs``. The worker validates it; a body that does not match ends the job ``FAILED``.

    Example::

        JobRequest.model_validate({"text": "a b a", "top": 1, "work_seconds": 0.5})
    """

    model_config = ConfigDict(extra="forbid")  # a misspelt option is the client's mistake, not something to ignore

    text: str = Field(min_length=1, max_length=100_000)
    top: int = Field(default=3, ge=1, le=20)
    """How many of the most frequent words the result lists."""
    work_seconds: float = Field(default=0.2, ge=0, le=MAX_WORK_SECONDS)
    """How long the work takes (a stand-in for a slow dependency such as a thumbnail renderer)."""
    fail_attempts: int = Field(default=0, ge=0, le=3)
    """Deliveries that fail with a transient error before one succeeds (shows SQS redelivery)."""


class WordCount(BaseModel):
    word: str
    count: int


class WordStats(BaseModel):
    """The result of a job: what ``GET /jobs/{id}`` returns under ``result`` once the job ``SUCCEEDED``.

    Example::

        WordStats(words=3, distinct=2, top=[WordCount(word="a", count=2)], attempt=1)
    """

    words: int
    distinct: int
    top: list[WordCount]
    attempt: int
    """The delivery that produced this result (1 unless transient failures were retried)."""

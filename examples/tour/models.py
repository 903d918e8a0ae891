"""Payloads of the tour: what producers send and what the handlers validate against."""

from __future__ import annotations

from pydantic import BaseModel


class OrderPlaced(BaseModel):
    """An order to charge (scenario 1). ``amount`` must be an integer number of cents."""

    order_id: str
    amount: int
    customer: str


class LedgerEntry(BaseModel):
    """One entry of an account's ledger (scenario 2); entries of an account must apply in order."""

    account: str
    entry: str
    amount: int


class Click(BaseModel):
    """A page view on a Kinesis stream (scenario 3). A click without a user cannot be attributed."""

    seq: int
    user: str
    page: str


class Ping(BaseModel):
    """What the mis-wired relay of scenario 4 keeps forwarding to its own queue."""

    text: str


class StartReport(BaseModel):
    """Asks the ventilator (scenario 5) to start a job: one task per number."""

    job_id: str
    numbers: list[int]


class SquareTask(BaseModel):
    """One task of a job: square ``value``; the job's aggregate is the sum of the squares."""

    job_id: str
    task_id: str
    value: int

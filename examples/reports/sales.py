"""The business logic, free of AWS: split sales lines into chunks, sum a chunk per region, merge partial sums.

Amounts are handled in integer cents so the report adds up exactly.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from .models import Chunk, ChunkTotals, Report, ReportRequest

REGIONS = ("EU", "US", "APAC", "LATAM")


class BadSaleError(ValueError):
    """A line that is not ``region,amount``: its chunk, and so its report, cannot be summed.

    Example::

        parse_sale("EU,12.5x")   # BadSaleError: 'EU,12.5x': amount '12.5x' is not a number
    """


def split(request: ReportRequest) -> list[Chunk]:
    """Consecutive slices of ``chunk_rows`` non-empty lines; deterministic, as a re-run must send the same tasks."""
    lines = [line for line in request.csv.splitlines() if line.strip()]
    step = request.chunk_rows
    return [
        Chunk(
            index=n,
            first_line=start,
            lines=lines[start : start + step],
            fail_receives=request.flaky_chunks.get(n, 0),
        )
        for n, start in enumerate(range(0, len(lines), step))
    ]


def chunk_id(chunk: Chunk) -> str:
    return f"chunk-{chunk.index:04d}"


def parse_sale(line: str) -> tuple[str, int]:
    """``"EU,19.99"`` -> ``("EU", 1999)``; :class:`BadSaleError` for anything else."""
    region, _, amount = line.partition(",")
    try:
        cents = Decimal(amount.strip()) * 100
    except InvalidOperation:
        raise BadSaleError(f"{line!r}: amount {amount.strip()!r} is not a number") from None
    if not region.strip() or not cents.is_finite() or cents != cents.to_integral_value():
        raise BadSaleError(f"{line!r}: expected region,amount with at most 2 decimals")
    return region.strip(), int(cents)


def sum_chunk(chunk: Chunk, *, attempt: int = 1) -> ChunkTotals:
    by_region: Counter[str] = Counter()
    for offset, line in enumerate(chunk.lines):
        try:
            region, cents = parse_sale(line)
        except BadSaleError as error:
            raise BadSaleError(f"sale {chunk.first_line + offset + 1}: {error}") from None
        by_region[region] += cents
    return ChunkTotals(rows=len(chunk.lines), cents_by_region=dict(by_region), attempt=attempt)


def merge(report_id: str, partials: Iterable[ChunkTotals]) -> Report:
    by_region: Counter[str] = Counter()
    rows = chunks = retries = 0
    for partial in partials:
        by_region.update(partial.cents_by_region)
        rows += partial.rows
        chunks += 1
        retries += partial.attempt - 1
    return Report(
        report_id=report_id,
        rows=rows,
        chunks=chunks,
        cents_by_region=dict(sorted(by_region.items())),
        total_cents=sum(by_region.values()),
        retries=retries,
    )


def sample_sales(rows: int, *, seed: int = 7) -> list[tuple[str, int]]:
    """A deterministic generated dataset: ``rows`` sales of (region, cents)."""
    rng = random.Random(seed)
    return [(rng.choice(REGIONS), rng.randint(100, 50_000)) for _ in range(rows)]


def to_csv(sales: Iterable[tuple[str, int]]) -> str:
    return "\n".join(f"{region},{cents // 100}.{cents % 100:02d}" for region, cents in sales)

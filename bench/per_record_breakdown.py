"""Where eventweave's per-record time goes, step by step, on a 10-record SQS batch (a diagnosis, not a goal).

Each row adds one layer of the handler's hot path to the one above: the compiled pydantic validator alone, then
eventweave's loop for a clean standard-queue batch (``_run_plain``: envelope checks, record context, validation,
the ``handle`` call, counting), then the whole invocation (``__call__``: FIFO check, metrics document, response).
The general per-record path (``_decode``, taken by envelopes, traced records and failures) is shown for comparison.
Rows reach into eventweave's internals, so a row whose internals changed shows "n/a" instead of failing the run.
GC is off while sampling (the batch is small and every object dies at once), rounds alternate the rows, and each
row reports its best round, the steadiest figure on a shared host.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

from ._report import Section, quiet_stdout

BATCH = 10
ROUNDS = 21
OPS_PER_SAMPLE = 10_000  # records per sample


def run() -> Section:
    from .fixtures import ew_sqs
    from .fixtures.orders import LambdaContext, Order, sqs_event

    ctx = LambdaContext(remaining_ms=900_000)
    event = sqs_event(BATCH)
    records = event["Records"]
    instance = ew_sqs.handler.instance
    compiled = Order.__pydantic_validator__.validate_json
    wrapper = Order.model_validate_json

    def validate_compiled() -> None:
        for record in records:
            compiled(record["body"])

    def validate_wrapper() -> None:
        for record in records:
            wrapper(record["body"])

    def decode() -> None:
        step = instance._decode
        for record in records:
            step(record, ctx)

    def batch_loop() -> None:
        instance._run_plain(records, ctx)

    def invocation() -> None:
        instance(event, ctx)

    def finish() -> None:
        from eventweave.handlers.observability import BatchCounts

        instance._finish(BatchCounts(processed=BATCH), [], BATCH)

    steps: list[tuple[str, Callable[[], None], int]] = [
        ("`Order.__pydantic_validator__.validate_json(body)` (compiled validator)", validate_compiled, BATCH),
        ("`Order.model_validate_json(body)` (the plain loop's call)", validate_wrapper, BATCH),
        ("eventweave `_run_plain(records)`: envelope checks, context, validation, `handle()`", batch_loop, BATCH),
        ("eventweave `handler(event, ctx)`: + per-invocation finish and response", invocation, BATCH),
        ("eventweave `_finish(counts)` alone (metrics document + write), per invocation", finish, 1),
        ("for comparison: the general path's `_decode(record)` (envelopes, traces), no `handle()`", decode, BATCH),
    ]
    usable: list[tuple[str, Callable[[], None], int]] = []
    broken: list[str] = []
    with quiet_stdout():
        for label, fn, per in steps:
            try:
                fn()
                usable.append((label, fn, per))
            except Exception as error:
                broken.append(f"{label}: {type(error).__name__}: {error}")
        best: dict[str, float] = {label: float("inf") for label, _, _ in usable}
        enabled = gc.isenabled()
        gc.disable()
        try:
            for round_no in range(ROUNDS):
                shift = round_no % len(usable)
                for label, fn, per in usable[shift:] + usable[:shift]:
                    loops = max(1, OPS_PER_SAMPLE // per)
                    start = time.perf_counter()
                    for _ in range(loops):
                        fn()
                    best[label] = min(best[label], (time.perf_counter() - start) / (loops * per))
        finally:
            if enabled:
                gc.enable()

    section = Section(
        title=f"Where eventweave's time goes: {BATCH}-record SQS batch, step by step",
        method=(
            f"Best of {ROUNDS} alternated rounds of about {OPS_PER_SAMPLE:,} records each, GC off, nanoseconds per "
            "record (the last row per invocation). Each eventweave row includes the eventweave rows above it and "
            "starts from the compiled validator, which is what eventweave calls; 'added' is what the step costs. "
            "Diagnosis only: reaches into eventweave internals (`_run_plain`, `_decode`, `_finish`)."
        ),
        header=["step", "ns / record", "added by this step", "vs `model_validate_json`"],
    )
    baseline = best.get(steps[1][0])
    # eventweave calls the compiled validator, so its layers are measured from that row, not from the wrapper.
    previous = best.get(steps[0][0])
    for label, _, per in steps:
        if label not in best:
            section.rows.append([label, "n/a", "", ""])
            continue
        value = best[label]
        if per == 1:
            section.rows.append([label, f"{value * 1e9:.0f} per invocation", "", ""])
            continue
        is_layer = label.startswith("eventweave") and previous is not None
        added = f"{(value - previous) * 1e9:+.0f}" if is_layer and previous is not None else ""
        versus = f"{value / baseline:.2f}x" if baseline else ""
        section.rows.append([label, f"{value * 1e9:.0f}", added, versus])
        if label.startswith("eventweave"):
            previous = value
    section.notes.extend(f"not measured (internals changed): {entry}" for entry in broken)
    return section

"""Per-record cost of an SQS batch: eventweave ``SqsHandler`` vs Powertools ``BatchProcessor`` vs a plain loop.

All three validate the same pydantic model from each record's JSON body and call a trivial handler. Timing is
timeit-style in this process: untimed warm-up calls, then rounds in which each implementation (in rotated order) runs
the same event enough times for one sample to last about 0.05 s. The best sample per implementation is the headline
(timeit's convention: on a shared host the slow samples measure the neighbours), the median alongside; ratios are the
median of per-round ratios, since the samples of one round run back to back and share the machine's state.

GC stays on (allocating 10,000 models is part of the real cost) and is collected before each sample. Output goes to
/dev/null at the file-descriptor level; eventweave still formats and writes its EMF metrics document every invocation.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable
from typing import Any

from ._report import Section, goal, median, quiet_stdout

SIZES = (10, 10_000)
ROUNDS = 15
SAMPLE_SECONDS = 0.05
GOAL_PT = 1.0
GOAL_PLAIN = 1.2


def _sample(fn: Callable[[Any, Any], Any], event: Any, ctx: Any, loops: int) -> float:
    gc.collect()
    start = time.perf_counter()
    for _ in range(loops):
        fn(event, ctx)
    return (time.perf_counter() - start) / loops


def _loops_for(fn: Callable[[Any, Any], Any], event: Any, ctx: Any) -> int:
    one = _sample(fn, event, ctx, 1)
    return max(1, int(SAMPLE_SECONDS / max(one, 1e-7)))


def measure(impls: dict[str, Callable[[Any, Any], Any]], event: Any, ctx: Any) -> dict[str, list[float]]:
    """Seconds per call of each implementation, one value per round."""
    names = list(impls)
    for fn in impls.values():
        for _ in range(3):
            fn(event, ctx)
    loops = {name: _loops_for(fn, event, ctx) for name, fn in impls.items()}
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_no in range(ROUNDS):
        shift = round_no % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(_sample(impls[name], event, ctx, loops[name]))
    return samples


def _check(name: str, response: Any) -> None:
    """A fixture that fails records would be measuring error paths: refuse to report it."""
    if response != {"batchItemFailures": []}:
        raise RuntimeError(f"{name} did not process the batch cleanly: {str(response)[:500]}")


def metrics_flush_cost(handler: Any) -> float | None:
    """Seconds eventweave spends finishing one invocation (its metrics document) for a 10-record batch.

    Reaches into the handler's internals (``_finish``), so it reports nothing rather than failing when they change.
    """
    try:
        from eventweave.handlers.observability import BatchCounts

        instance = handler.instance
        counts = BatchCounts(processed=10)

        def finish(_event: Any, _ctx: Any) -> None:
            instance._finish(counts, [], 10)

        finish(None, None)
        return median([_sample(finish, None, None, 2000) for _ in range(5)])
    except Exception:
        return None


def run() -> Section:
    # The handler reads this when built: set, it would silently leave eventweave's metrics out of the measurement.
    os.environ.pop("POWERTOOLS_METRICS_DISABLED", None)
    from .fixtures import ew_sqs, ew_sqs_text, plain, pt_sqs
    from .fixtures.orders import LambdaContext, sqs_event

    impls = {
        "eventweave": ew_sqs.handler,
        "powertools": pt_sqs.handler,
        "plain": plain.handler,
        "eventweave-text": ew_sqs_text.handler,
    }
    section = Section(
        title="Per-record cost of an SQS batch (pydantic model in the JSON body, trivial handler)",
        method=(
            f"Same event for all three; {ROUNDS} rounds, implementations rotated each round, each sample about "
            f"{SAMPLE_SECONDS:g} s of back-to-back invocations. Microseconds per record: best sample (median in "
            "brackets); ratios: median of the per-round ratios [range]. eventweave: `SqsHandler[Order]`, defaults "
            "(metrics on, no DLQ, no idempotency). Powertools: "
            "`BatchProcessor` + `process_partial_response`, parser model `SqsRecordModel` with `body: Json[Order]`. "
            'Plain: `for r in records: handle(Order.model_validate_json(r["body"]))`.'
        ),
        header=[
            "batch",
            "eventweave us/record",
            "Powertools us/record",
            "plain loop us/record",
            "eventweave / Powertools",
            "eventweave / plain",
        ],
    )
    ctx = LambdaContext(remaining_ms=900_000)
    with quiet_stdout():
        results = {}
        for size in SIZES:
            event = sqs_event(size)
            for name, fn in impls.items():
                _check(name, fn(event, ctx))
            results[size] = measure(impls, event, ctx)
            del event
        flush = metrics_flush_cost(ew_sqs.handler)
    for size in SIZES:
        samples = results[size]
        med = {name: median(values) / size * 1e6 for name, values in samples.items()}
        best = {name: min(values) / size * 1e6 for name, values in samples.items()}
        pairs_pt = [a / b for a, b in zip(samples["eventweave"], samples["powertools"], strict=True)]
        pairs_plain = [a / b for a, b in zip(samples["eventweave"], samples["plain"], strict=True)]
        r_pt, r_plain = median(pairs_pt), median(pairs_plain)
        section.rows.append(
            [
                f"{size:,} records, one invocation (eventweave's metrics flush included)",
                f"{best['eventweave']:.2f} ({med['eventweave']:.2f})",
                f"{best['powertools']:.2f} ({med['powertools']:.2f})",
                f"{best['plain']:.2f} ({med['plain']:.2f})",
                f"{r_pt:.2f}x [{min(pairs_pt):.2f}-{max(pairs_pt):.2f}], goal {goal(r_pt, GOAL_PT)}",
                f"{r_plain:.2f}x [{min(pairs_plain):.2f}-{max(pairs_plain):.2f}], goal {goal(r_plain, GOAL_PLAIN)}",
            ]
        )
    text_pairs = {
        size: median(
            [t / j for t, j in zip(results[size]["eventweave-text"], results[size]["eventweave"], strict=True)]
        )
        for size in SIZES
    }
    text_us = {size: median(results[size]["eventweave-text"]) / size * 1e6 for size in SIZES}
    section.notes.append(
        "A raw `SqsHandler[str]` (the same bodies handed over as text, no JSON parsing) costs "
        + "; ".join(
            f"{text_us[size]:.2f} us/record at {size:,} records ({text_pairs[size]:.2f}x the JSON model, goal "
            f"{goal(text_pairs[size], 1.0)})"
            for size in SIZES
        )
        + "."
    )
    if flush is None:
        isolated = "its cost could not be isolated (the handler's internals changed)"
    else:
        isolated = (
            f"measured alone it costs {flush * 1e6:.1f} us per invocation, i.e. {flush * 1e6 / 10:.2f} us per record "
            f"in a 10-record batch and {flush * 1e6 / 10_000:.4f} us per record in a 10,000-record batch"
        )
    section.notes.append(
        "The eventweave figures include its per-invocation metrics flush (one EMF document per batch, always on); "
        f"{isolated}. Neither Powertools nor the plain loop emits metrics here."
    )
    return section

"""``eventweave`` command line: ``eventweave local up | invoke | send | publish | put-events | trace`` and
``eventweave check`` (contract checks of a CDK app, :mod:`eventweave.nag.check`).

``up`` synthesizes the CDK app in the current folder, starts the embedded local cloud, deploys every stack (or those
named), prints endpoints and resource names, writes them to ``.eventweave/local.json`` and runs until Ctrl-C, logging
one line per invocation and appending each to ``.eventweave/invocations.jsonl``. The other commands read the state
file, so a resource can be named by its physical name, its URL/ARN or a logical-id prefix. ``send``, ``publish`` and
``put-events`` stamp eventweave's trace metadata and print the correlation id; ``trace ID`` shows every invocation
that carried it, in order, across the whole topology.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["main"]

STATE_FILE = Path(".eventweave") / "local.json"
JOURNAL_FILE = Path(".eventweave") / "invocations.jsonl"


@contextmanager
def _progress(what: str) -> Iterator[None]:
    """One status line on stderr while ``what`` runs: a ticking clock on a terminal, start and end lines otherwise."""
    start = time.monotonic()
    done = threading.Event()
    tty = sys.stderr.isatty()

    def tick() -> None:
        frames = "|/-\\"
        i = 0
        while not done.wait(0.1):
            sys.stderr.write(f"\r{frames[i % 4]} {what} ({time.monotonic() - start:4.1f} s)")
            sys.stderr.flush()
            i += 1

    thread = threading.Thread(target=tick, daemon=True) if tty else None
    if thread is not None:
        thread.start()
    else:
        print(f"{what} ...", file=sys.stderr, flush=True)
    try:
        yield
    except BaseException:
        done.set()
        print(f"\r✗ {what} failed after {time.monotonic() - start:.1f} s", file=sys.stderr, flush=True)
        raise
    done.set()
    if thread is not None:
        thread.join()
    print(f"\r✓ {what} ({time.monotonic() - start:.1f} s)      ", file=sys.stderr, flush=True)


def _up(args: argparse.Namespace) -> int:
    from eventweave.local.cloud import LocalCloud
    from eventweave.testing.stack import synthesize

    app_dir = Path(args.app).resolve()
    with tempfile.TemporaryDirectory(prefix="eventweave-local-") as tmp:
        if args.assembly:
            assembly = Path(args.assembly).resolve()
        else:
            with _progress(f"synthesizing {app_dir / 'app.py'}"):
                assembly = synthesize(app_dir, Path(tmp) / "cdk.out")
        from eventweave.local.assembly import CloudAssembly

        started = time.monotonic()
        cloud_assembly = CloudAssembly.load(assembly)
        names = args.stack or [stack.name for stack in cloud_assembly.stacks]
        cloud = LocalCloud(
            port=args.port, log=_log_line, journal_path=JOURNAL_FILE, skip_unsupported=args.skip_unsupported or ()
        )
        with _progress("starting the local cloud"):
            endpoint = cloud.start()
        try:
            state: dict[str, Any] = {"endpoint": endpoint, "region": cloud.region, "stacks": {}}
            # Stacks deploy side by side (each is a few hundred data-plane calls); the summary keeps the app's order.
            with _progress(f"deploying {len(names)} stack(s): {', '.join(names)}"), ThreadPoolExecutor(4) as pool:
                stacks = list(pool.map(lambda name: cloud.deploy(cloud_assembly, name, stack_name=name), names))
            for name, stack in zip(names, stacks, strict=True):
                deployment = stack.deployment
                state["stacks"][name] = {
                    "outputs": dict(deployment.outputs),
                    "resources": {k: _plain(v) for k, v in deployment.resources.items()},
                    "functions": {spec.logical_id: spec.name for spec in deployment.functions},
                    "urls": stack.urls,
                    "skipped": [str(skipped) for skipped in deployment.skipped],
                }
                for skipped in deployment.skipped:
                    print(f"{name}: skipped {skipped} (--skip-unsupported)", flush=True)
            STATE_FILE.parent.mkdir(exist_ok=True)
            STATE_FILE.write_text(json.dumps(state, indent=2))
            _print_summary(state)
            ready = time.monotonic() - started
            print(f"\nready {ready:.1f} s after synth; invocations are journaled to {JOURNAL_FILE}")
            print(f"\nexport AWS_ENDPOINT_URL={endpoint}   # boto3 and the AWS CLI then talk to the local cloud")
            print("Ctrl-C to stop.", flush=True)
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            try:
                while not stop.wait(1):
                    pass
            except KeyboardInterrupt:
                pass
        finally:
            with _progress("stopping"):
                cloud.stop()
            STATE_FILE.unlink(missing_ok=True)
    return 0


def _plain(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | type(None) | list | dict) else str(value)


def _log_line(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _print_summary(state: dict[str, Any]) -> None:
    print(f"\nlocal cloud at {state['endpoint']} ({state['region']})")
    for name, stack in state["stacks"].items():
        print(f"\nstack {name}")
        for key, value in sorted(stack["outputs"].items()):
            print(f"  output   {key} = {value}")
        for _logical, function in sorted(stack["functions"].items()):
            url = stack["urls"].get(function)
            print(f"  function {function}" + (f"  {url}" if url else ""))
        queues = sorted(v for v in stack["resources"].values() if isinstance(v, str) and "://" in v and "/queue" in v)
        for queue in queues:
            print(f"  queue    {queue}")


def _state() -> dict[str, Any]:
    if not STATE_FILE.is_file():
        raise SystemExit(f"no {STATE_FILE}: start the local cloud first with `eventweave local up` in this folder")
    state: dict[str, Any] = json.loads(STATE_FILE.read_text())
    return state


def _resolve(state: dict[str, Any], name: str, pick: Callable[[dict[str, Any]], dict[str, Any]], kind: str) -> str:
    """A physical name/URL/ARN from itself, or from a unique logical-id prefix across the running stacks."""
    found: list[str] = []
    for stack in state["stacks"].values():
        for logical, physical in pick(stack).items():
            if physical == name:
                return name
            if isinstance(physical, str) and logical.startswith(name):
                found.append(physical)
    if len(found) == 1:
        return found[0]
    if not found and (":" in name or "://" in name):
        return name  # a URL or ARN of something not deployed by `up`: let the service answer
    raise SystemExit(f"{kind} {name!r}: {len(found)} matches; give the physical name or a longer logical-id prefix")


def _client(state: dict[str, Any], service: str) -> Any:
    import boto3

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    factory: Any = boto3.client  # typed per service literal; the service here is a runtime string
    return factory(service, endpoint_url=state["endpoint"], region_name=state["region"])


def _trace_id(args: argparse.Namespace) -> str:
    import uuid

    return str(args.correlation_id or uuid.uuid4())


def _attributes(pairs: Sequence[str], correlation: str) -> dict[str, dict[str, str]]:
    from eventweave.wire.trace import ATTR_CORRELATION, ATTR_HOPS

    out: dict[str, dict[str, str]] = {
        ATTR_CORRELATION: {"DataType": "String", "StringValue": correlation},
        ATTR_HOPS: {"DataType": "Number", "StringValue": "0"},
    }
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--attribute {pair!r}: write NAME=VALUE")
        out[key] = {"DataType": "String", "StringValue": value}
    return out


def _payload(text: str) -> str:
    if text.startswith("@"):
        return Path(text[1:]).read_text()
    return text


def _invoke(args: argparse.Namespace) -> int:
    state = _state()
    name = _resolve(state, args.function, lambda s: s["functions"], "function")
    response = _client(state, "lambda").invoke(
        FunctionName=name,
        InvocationType="Event" if args.event else "RequestResponse",
        Payload=_payload(args.payload).encode(),
    )
    if args.event:
        print(f"queued (HTTP {response['StatusCode']})")
        return 0
    print(response["Payload"].read().decode())
    return 1 if response.get("FunctionError") else 0


def _send(args: argparse.Namespace) -> int:
    state = _state()
    url = _resolve(state, args.queue, lambda s: s["resources"], "queue")
    extra: dict[str, Any] = {}
    if args.group:
        extra["MessageGroupId"] = args.group
    correlation = _trace_id(args)
    extra["MessageAttributes"] = _attributes(args.attribute, correlation)
    response = _client(state, "sqs").send_message(QueueUrl=url, MessageBody=_payload(args.body), **extra)
    print(f"{response['MessageId']} correlation={correlation}")
    return 0


def _publish(args: argparse.Namespace) -> int:
    state = _state()
    arn = _resolve(state, args.topic, lambda s: s["resources"], "topic")
    extra: dict[str, Any] = {}
    if args.subject:
        extra["Subject"] = args.subject
    if args.group:
        extra["MessageGroupId"] = args.group
    correlation = _trace_id(args)
    extra["MessageAttributes"] = _attributes(args.attribute, correlation)
    response = _client(state, "sns").publish(TopicArn=arn, Message=_payload(args.message), **extra)
    print(f"{response['MessageId']} correlation={correlation}")
    return 0


def _put_events(args: argparse.Namespace) -> int:
    state = _state()
    bus = _resolve(state, args.bus, lambda s: s["resources"], "event bus") if args.bus != "default" else "default"
    from eventweave.wire.trace import CONTEXT_KEY

    detail = json.loads(_payload(args.detail))
    if not isinstance(detail, dict):
        raise SystemExit("--detail: an EventBridge detail is a JSON object")
    correlation = _trace_id(args)
    detail.setdefault(CONTEXT_KEY, {"correlationId": correlation, "causationId": None, "hops": 0})
    entry = {"Source": args.source, "DetailType": args.detail_type, "Detail": json.dumps(detail), "EventBusName": bus}
    response = _client(state, "events").put_events(Entries=[entry])
    print(json.dumps(response["Entries"]) + f" correlation={correlation}")
    return 1 if response.get("FailedEntryCount") else 0


def _trace(args: argparse.Namespace) -> int:
    from eventweave.local.trace import read_failures, read_journal

    if not JOURNAL_FILE.is_file():
        raise SystemExit(f"no {JOURNAL_FILE}: `eventweave local up` in this folder writes it while it runs")
    hops = read_journal(JOURNAL_FILE, args.correlation_id)
    for hop in hops:
        print(hop.line())
    failures = read_failures(JOURNAL_FILE)
    if failures:
        # A failed receive can hold back a message of this chain: say so next to it, never leave it silent.
        print(
            f"warning: {len(failures)} poll(s) of event sources failed while the cloud ran "
            f"(last: {failures[-1].line()}); `eventweave local failures` lists them",
            file=sys.stderr,
        )
    if not hops:
        print(f"no invocation carried correlation id {args.correlation_id} (yet)", file=sys.stderr)
        return 1
    return 0


def _fire_schedule(args: argparse.Namespace) -> int:
    from eventweave.local.schedules import fire

    state = _state()
    delivered = fire(args.name, endpoint_url=state["endpoint"], region=state["region"], group=args.group)
    for target in delivered:
        print(f"fired {args.name} -> {target}")
    return 0


def _failures(args: argparse.Namespace) -> int:
    from eventweave.local.trace import read_failures

    if not JOURNAL_FILE.is_file():
        raise SystemExit(f"no {JOURNAL_FILE}: `eventweave local up` in this folder writes it while it runs")
    failures = read_failures(JOURNAL_FILE)
    for failure in failures:
        print(failure.line())
    print(f"{len(failures)} failed poll(s)", file=sys.stderr)
    return 1 if failures else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eventweave", description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    local = sub.add_parser("local", help="the embedded local cloud").add_subparsers(dest="action", required=True)

    up = local.add_parser("up", help="synthesize, start, deploy; run until Ctrl-C")
    up.add_argument("--app", default=".", help="folder of the CDK app (app.py); default: here")
    up.add_argument("--assembly", help="deploy this cloud assembly (cdk.out) instead of synthesizing")
    up.add_argument("--stack", action="append", help="stack to deploy (repeatable); default: all")
    up.add_argument("--port", type=int, default=4566, help="endpoint port (default 4566; 0 picks a free one)")
    up.add_argument(
        "--skip-unsupported",
        action="append",
        metavar="TYPE",
        help="deploy the rest of a stack holding this resource type (e.g. 'AWS::EC2::*'), listing what was skipped",
    )
    up.set_defaults(run=_up)

    invoke = local.add_parser("invoke", help="invoke a function (RequestResponse, or --event for async)")
    invoke.add_argument("function", help="function name, ARN or logical-id prefix")
    invoke.add_argument("--payload", default="{}", help="JSON, or @file")
    invoke.add_argument("--event", action="store_true", help="InvocationType=Event (retries, destinations)")
    invoke.set_defaults(run=_invoke)

    send = local.add_parser("send", help="send a message to a queue")
    send.add_argument("queue", help="queue URL, name or logical-id prefix")
    send.add_argument("body", help="message body, or @file")
    send.add_argument("--group", help="MessageGroupId (FIFO queues)")
    send.add_argument("--attribute", action="append", default=[], help="NAME=VALUE message attribute")
    send.add_argument("--correlation-id", help="trace id to stamp (default: a new one, printed)")
    send.set_defaults(run=_send)

    publish = local.add_parser("publish", help="publish a message to a topic")
    publish.add_argument("topic", help="topic ARN or logical-id prefix")
    publish.add_argument("message", help="message, or @file")
    publish.add_argument("--subject")
    publish.add_argument("--group", help="MessageGroupId (FIFO topics)")
    publish.add_argument("--attribute", action="append", default=[], help="NAME=VALUE message attribute")
    publish.add_argument("--correlation-id", help="trace id to stamp (default: a new one, printed)")
    publish.set_defaults(run=_publish)

    put = local.add_parser("put-events", help="put one event on a bus")
    put.add_argument("--bus", default="default", help="bus name, ARN or logical-id prefix (default: default)")
    put.add_argument("--source", required=True)
    put.add_argument("--detail-type", required=True)
    put.add_argument("--detail", default="{}", help="JSON, or @file")
    put.add_argument("--correlation-id", help="trace id to stamp (default: a new one, printed)")
    put.set_defaults(run=_put_events)

    trace = local.add_parser("trace", help="every invocation that carried a correlation id, in order")
    trace.add_argument("correlation_id")
    trace.set_defaults(run=_trace)

    fire = local.add_parser("fire-schedule", help="fire an EventBridge Scheduler schedule or scheduled rule now")
    fire.add_argument("name")
    fire.add_argument("--group", help="the schedule group (default: the default group)")
    fire.set_defaults(run=_fire_schedule)

    failures = local.add_parser("failures", help="every poll of an event source that failed (exit 1 if any)")
    failures.set_defaults(run=_failures)

    check = sub.add_parser("check", help="synthesize the app and check the wiring between its resources")
    check.add_argument("--app", default=".", help="folder of the CDK app (app.py); default: here")
    check.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or json, for CI")
    check.add_argument("--cdk-nag", action="store_true", help="also run cdk-nag's AwsSolutions and Serverless packs")
    check.set_defaults(run=_check)
    return parser


def _check(args: argparse.Namespace) -> int:
    from eventweave.nag.check import main as check_main

    return check_main(args.app, fmt=args.format, cdk_nag=args.cdk_nag)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``eventweave`` console script."""
    args = _parser().parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())

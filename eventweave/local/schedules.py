"""Schedules that fire: EventBridge Scheduler schedules and scheduled EventBridge rules, on their ``rate()``,
``cron()`` or ``at()`` expression, and one of them at once on request.

moto stores schedules (``CreateSchedule``) and scheduled rules (``PutRule`` with ``ScheduleExpression``) but fires
neither. :class:`Scheduler` polls their definitions from the data plane (so one changed or disabled through the API
fires as changed) and fires each when due:

* a Scheduler schedule delivers its target's ``Input`` (context attributes such as ``<aws.scheduler.scheduled-time>``
  filled in; ``{}`` without one) to a templated target: Lambda (an asynchronous invocation), SQS (``SendMessage``,
  with ``SqsParameters.MessageGroupId`` for FIFO queues), SNS (``Publish``), an EventBridge bus (``PutEvents`` with
  ``EventBridgeParameters``) or Kinesis (``PutRecord``). A failed delivery goes to the target's
  ``DeadLetterConfig`` queue when it has one. ``at()`` schedules fire once.
* a scheduled rule sends the ``Scheduled Event`` (``source: aws.events``, ``detail: {}``) to each of its targets,
  through the same paths as a matched event: SQS targets with ``Input`` / ``InputPath`` / ``InputTransformer``
  applied, Lambda and SNS targets through their push relay (retry policy, dead-letter queue).

Local simplifications: a ``FLEXIBLE`` time window fires at the window's start; a rate schedule's first run is one
period after its creation (or its ``StartDate``); ``cron`` day-of-month ``W`` is not supported (such a schedule only
fires through :meth:`Scheduler.fire_now`).

Example::

    scheduler = Scheduler(endpoint_url=cloud.endpoint, invoker=cloud.async_invoker, log=print)
    scheduler.start()
    scheduler.fire_now("nightly-report")        # ["lambda arn:aws:lambda:...:function:report"]
    scheduler.stop()

or, from another process, against a running cloud: ``fire(name, endpoint_url=endpoint)``.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from eventweave.wire.eventbridge import event as eventbridge_event

from .aws import client
from .invocations import transform_input
from .model import LogSink

__all__ = ["AsyncSubmitter", "Scheduler", "fire", "next_fire"]

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_CRON = re.compile(r"^cron\((.*)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {name: i for i, name in enumerate(calendar.month_abbr) if name}
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_RELAY_PREFIX = "eventweave-relay-"


class AsyncSubmitter(Protocol):
    """What the scheduler needs of the async queue (:class:`eventweave.local.invocations.AsyncInvoker`)."""

    def submit(self, function_name: str, payload: bytes, *, source: str = "async") -> str: ...


# -- expressions ---------------------------------------------------------------------------------------------------


class _Cron:
    """An EventBridge cron expression: minutes hours day-of-month month day-of-week year (day-of-week 1 = SUN)."""

    def __init__(self, text: str) -> None:
        fields = text.split()
        if len(fields) != 6:
            raise ValueError(f"cron({text}): six fields expected")
        minutes, hours, self.dom, months, self.dow, years = fields
        self.minutes = sorted(_values(minutes, 0, 59, {}))
        self.hours = sorted(_values(hours, 0, 23, {}))
        self.months = _values(months, 1, 12, {k.upper(): v for k, v in _MONTHS.items()})
        self.years = _values(years, 1970, 2199, {})
        if "W" in self.dom.upper():
            raise ValueError(f"cron({text}): the W (nearest weekday) day-of-month is not supported locally")

    def day_matches(self, day: dt.date) -> bool:
        if day.month not in self.months or day.year not in self.years:
            return False
        return self._dom(day) and self._dow(day)

    def _dom(self, day: dt.date) -> bool:
        spec = self.dom.upper()
        if spec in ("*", "?"):
            return True
        last = calendar.monthrange(day.year, day.month)[1]
        if spec == "L":
            return day.day == last
        return day.day in _values(spec, 1, 31, {})

    def _dow(self, day: dt.date) -> bool:
        spec = self.dow.upper()
        if spec in ("*", "?"):
            return True
        weekday = (day.isoweekday() % 7) + 1  # SUN = 1 ... SAT = 7
        if spec.endswith("L") and spec != "L":
            wanted = _name(spec[:-1], _DAYS)
            last = calendar.monthrange(day.year, day.month)[1]
            return weekday == wanted and day.day + 7 > last
        if "#" in spec:
            name, nth = spec.split("#", 1)
            return weekday == _name(name, _DAYS) and (day.day - 1) // 7 + 1 == int(nth)
        if spec == "L":
            return weekday == 7
        return weekday in _values(spec, 1, 7, _DAYS)

    def next_after(self, after: dt.datetime, zone: ZoneInfo) -> dt.datetime | None:
        local = after.astimezone(zone)
        day = local.date()
        for _ in range(366 * 5):
            if self.day_matches(day):
                for hour in self.hours:
                    for minute in self.minutes:
                        candidate = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
                        if candidate > local:
                            return candidate.astimezone(dt.UTC)
            day += dt.timedelta(days=1)
        return None


def _name(token: str, names: dict[str, int]) -> int:
    return names[token] if token in names else int(token)


def _values(spec: str, low: int, high: int, names: dict[str, int]) -> set[int]:
    out: set[int] = set()
    for item in spec.upper().split(","):
        step = 1
        part = item
        if "/" in item:
            part, step_text = item.split("/", 1)
            step = int(step_text)
        if part in ("*", "?", ""):
            start, stop = low, high
        elif "-" in part:
            first, last = part.split("-", 1)
            start, stop = _name(first, names), _name(last, names)
        else:
            start = _name(part, names)
            stop = high if step > 1 else start
        out.update(range(start, stop + 1, step))
    return {v for v in out if low <= v <= high}


def next_fire(
    expression: str,
    after: dt.datetime,
    *,
    timezone: str = "UTC",
    anchor: dt.datetime | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> dt.datetime | None:
    """When ``expression`` next fires strictly after ``after`` (UTC), or ``None`` if never again.

    ``rate(n unit)`` fires every period from ``anchor`` (its creation; ``start`` when given); ``cron(...)`` at the
    matching minutes in ``timezone``; ``at(...)`` once, in ``timezone``. ``start`` / ``end`` bound the result.

    Example::

        next_fire("cron(0 12 ? * MON-FRI *)", dt.datetime(2026, 1, 2, 13, tzinfo=dt.UTC))   # Monday 12:00 UTC
    """
    after = after.astimezone(dt.UTC)
    floor = max(after, start - dt.timedelta(microseconds=1)) if start is not None else after
    text = expression.strip()
    zone = ZoneInfo(timezone or "UTC")
    result: dt.datetime | None
    rate = _RATE.match(text)
    at = _AT.match(text)
    cron = _CRON.match(text)
    if rate:
        period = int(rate.group(1)) * _UNIT_SECONDS[rate.group(2).rstrip("s")]
        origin = (start or anchor or after).astimezone(dt.UTC)
        if floor < origin:
            result = origin if start is not None else origin + dt.timedelta(seconds=period)
        else:
            steps = int((floor - origin).total_seconds() // period) + 1
            result = origin + dt.timedelta(seconds=steps * period)
    elif at:
        when = dt.datetime.fromisoformat(at.group(1)).replace(tzinfo=zone).astimezone(dt.UTC)
        result = when if when > floor else None
    elif cron:
        result = _Cron(cron.group(1)).next_after(floor, zone)
    else:
        raise ValueError(f"not a schedule expression: {expression!r}")
    if result is not None and end is not None and result > end:
        return None
    return result


# -- firing --------------------------------------------------------------------------------------------------------


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Delivery:
    """Clients and the async queue for one firing."""

    endpoint_url: str
    region: str
    account_id: str
    invoker: AsyncSubmitter | None = None
    log: LogSink | None = None
    _clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = client(service, self.endpoint_url, self.region)
        return self._clients[service]

    def queue_url(self, arn: str) -> str:
        url: str = self.client("sqs").get_queue_url(
            QueueName=arn.rsplit(":", 1)[-1], QueueOwnerAWSAccountId=arn.split(":")[4]
        )["QueueUrl"]
        return url

    def invoke_async(self, arn: str, payload: bytes, source: str) -> None:
        if self.invoker is not None:
            self.invoker.submit(arn.split(":")[6], payload, source=source)
        else:
            self.client("lambda").invoke(FunctionName=arn, InvocationType="Event", Payload=payload)

    def fire_schedule(self, schedule: dict[str, Any], scheduled: dt.datetime) -> list[str]:
        """Deliver a Scheduler schedule's target once; what was done, one line."""
        target = schedule.get("Target") or {}
        arn = str(target.get("Arn", ""))
        execution = uuid.uuid4().hex[:16]
        text = str(target.get("Input") if target.get("Input") is not None else "{}")
        for name, value in (
            ("aws.scheduler.schedule-arn", str(schedule.get("Arn", ""))),
            ("aws.scheduler.scheduled-time", _iso(scheduled)),
            ("aws.scheduler.execution-id", execution),
            ("aws.scheduler.attempt-number", "1"),
        ):
            text = text.replace(f"<{name}>", value)
        service = arn.split(":")[2] if arn.count(":") >= 5 else ""
        try:
            if service == "lambda":
                self.invoke_async(arn, text.encode(), "scheduler")
            elif service == "sqs":
                extra: dict[str, Any] = {}
                group = (target.get("SqsParameters") or {}).get("MessageGroupId")
                if arn.endswith(".fifo"):
                    extra = {"MessageGroupId": group or "default", "MessageDeduplicationId": execution}
                self.client("sqs").send_message(QueueUrl=self.queue_url(arn), MessageBody=text, **extra)
            elif service == "sns":
                self.client("sns").publish(TopicArn=arn, Message=text)
            elif service == "events":
                params = target.get("EventBridgeParameters") or {}
                entry = {
                    "EventBusName": arn,
                    "Source": str(params.get("Source", "aws.scheduler")),
                    "DetailType": str(params.get("DetailType", "Scheduled Event")),
                    "Detail": text,
                    "Resources": [str(schedule.get("Arn", ""))],
                }
                self.client("events").put_events(Entries=[entry])
            elif service == "kinesis":
                key = (target.get("KinesisParameters") or {}).get("PartitionKey") or execution
                self.client("kinesis").put_record(StreamARN=arn, Data=text.encode(), PartitionKey=str(key))
            else:
                raise ValueError(f"the local scheduler cannot deliver to {arn or 'a target without an ARN'}")
        except Exception as error:
            self._dead_letter(schedule, target, text, error)
            return [f"{service or '?'} {arn}: FAILED ({error})"]
        return [f"{service} {arn}"]

    def _dead_letter(self, schedule: dict[str, Any], target: dict[str, Any], text: str, error: Exception) -> None:
        queue = (target.get("DeadLetterConfig") or {}).get("Arn")
        if self.log is not None:
            where = f"sent to {queue}" if queue else "DISCARDED, no dead-letter queue"
            self.log(f"schedule {schedule.get('Name')}: delivery to {target.get('Arn')} failed ({error}); {where}")
        if not queue:
            return
        attributes = {
            "ERROR_CODE": {"DataType": "String", "StringValue": type(error).__name__},
            "ERROR_MESSAGE": {"DataType": "String", "StringValue": str(error)[:1024] or "delivery failed"},
            "TARGET_ARN": {"DataType": "String", "StringValue": str(target.get("Arn", ""))},
        }
        self.client("sqs").send_message(
            QueueUrl=self.queue_url(str(queue)), MessageBody=text, MessageAttributes=attributes
        )

    def fire_rule(self, rule: dict[str, Any], scheduled: dt.datetime) -> list[str]:
        """Send a scheduled rule's ``Scheduled Event`` to each of its targets once."""
        arn = str(rule["Arn"])
        envelope = eventbridge_event(
            {},
            detail_type="Scheduled Event",
            source="aws.events",
            account=arn.split(":")[4] or self.account_id,
            region=arn.split(":")[3] or self.region,
            resources=[arn],
            time=_iso(scheduled),
        )
        events = self.client("events")
        bus = str(rule.get("EventBusName") or "default")
        done: list[str] = []
        for target in events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus).get("Targets", []):
            target_arn = str(target["Arn"])
            if target_arn.split(":")[2] != "sqs":
                done.append(f"{target_arn}: not an SQS or relay target, not fired locally")
                continue
            if target_arn.rsplit(":", 1)[-1].startswith(_RELAY_PREFIX):
                body = json.dumps(envelope)  # the push relay applies the target's transform, retries, DLQ
            else:
                transform = {k: target[k] for k in ("Input", "InputPath", "InputTransformer") if k in target}
                body = transform_input(envelope, transform or None, arn)
            extra: dict[str, Any] = {}
            if target_arn.endswith(".fifo"):
                group = (target.get("SqsParameters") or {}).get("MessageGroupId") or "default"
                extra = {"MessageGroupId": group, "MessageDeduplicationId": envelope["id"]}
            self.client("sqs").send_message(QueueUrl=self.queue_url(target_arn), MessageBody=body, **extra)
            done.append(f"sqs {target_arn}")
        return done


def _find(delivery: _Delivery, name: str, group: str | None) -> tuple[str, dict[str, Any]]:
    """``("scheduler", schedule)`` or ``("rule", rule)`` named ``name``; ``LookupError`` if none or several are."""
    found: list[tuple[str, dict[str, Any]]] = []
    scheduler = delivery.client("scheduler")
    groups = [group] if group else [g["Name"] for g in scheduler.list_schedule_groups().get("ScheduleGroups", [])]
    for each in groups or ["default"]:
        try:
            found.append(("scheduler", scheduler.get_schedule(Name=name, GroupName=each)))
        except Exception as error:
            if "NotFound" not in str(error) and "not found" not in str(error).lower():
                raise
    if group in (None, "default"):
        try:
            rule = delivery.client("events").describe_rule(Name=name, EventBusName="default")
        except Exception as error:
            if "NotFound" not in str(error) and "does not exist" not in str(error):
                raise
        else:
            if rule.get("ScheduleExpression"):
                found.append(("rule", rule))
    if not found:
        raise LookupError(f"no schedule or scheduled rule named {name!r}" + (f" in group {group}" if group else ""))
    if len(found) > 1:
        where = ", ".join(f"{kind} in {d.get('GroupName') or d.get('EventBusName')}" for kind, d in found)
        raise LookupError(f"{name!r} names several schedules ({where}); say which group")
    return found[0]


def fire(
    name: str,
    *,
    endpoint_url: str,
    region: str = "us-east-1",
    account_id: str = "123456789012",
    group: str | None = None,
    invoker: AsyncSubmitter | None = None,
    log: LogSink | None = None,
) -> list[str]:
    """Fire the schedule (or scheduled rule) ``name`` now, whatever its expression or state; what was delivered.

    Works against any running local cloud: a Lambda target is invoked asynchronously through the endpoint unless
    ``invoker`` (the cloud's async queue) is given. For ``eventweave local fire-schedule NAME``.
    """
    delivery = _Delivery(endpoint_url, region, account_id, invoker, log)
    kind, definition = _find(delivery, name, group)
    now = dt.datetime.now(dt.UTC)
    return delivery.fire_schedule(definition, now) if kind == "scheduler" else delivery.fire_rule(definition, now)


@dataclass
class _Entry:
    kind: str
    definition: dict[str, Any]
    version: Any
    due: dt.datetime | None
    fired: int = 0
    last_error: str | None = None


class Scheduler:
    """Fires every enabled schedule and scheduled rule of the data plane when it is due.

    ``clock`` returns epoch seconds (tests pass a fake one and call :meth:`tick`); ``poll_seconds`` is how often the
    definitions are re-read and due schedules fired, so a schedule fires up to that late.
    """

    def __init__(
        self,
        *,
        endpoint_url: str,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        invoker: AsyncSubmitter | None = None,
        log: LogSink | None = None,
        poll_seconds: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.delivery = _Delivery(endpoint_url, region, account_id, invoker, log)
        self.log = log
        self.poll_seconds = poll_seconds
        self.clock = clock
        self._entries: dict[tuple[str, str, str], _Entry] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="eventweave-scheduler", daemon=True)
        self._thread.start()

    def stop(self, *, wait: bool = True) -> None:
        self._stop.set()
        if wait and self._thread is not None:
            self._thread.join(timeout=30)
        self._thread = None

    def status(self) -> list[dict[str, Any]]:
        """Each schedule seen: ``{"name", "kind", "group", "expression", "next", "fired", "last_error"}``."""
        with self._lock:
            return [
                {
                    "name": name,
                    "kind": kind,
                    "group": group,
                    "expression": entry.definition.get("ScheduleExpression"),
                    "next": _iso(entry.due) if entry.due else None,
                    "fired": entry.fired,
                    "last_error": entry.last_error,
                }
                for (kind, group, name), entry in self._entries.items()
            ]

    def fire_now(self, name: str, *, group: str | None = None) -> list[str]:
        """Fire one schedule (or scheduled rule) at once, whatever its expression or state; what was delivered."""
        kind, definition = _find(self.delivery, name, group)
        now = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        if kind == "scheduler":
            return self.delivery.fire_schedule(definition, now)
        return self.delivery.fire_rule(definition, now)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception as error:  # a moto hiccup must not end the scheduler: logged, tried again
                if self.log is not None:
                    self.log(f"scheduler: {type(error).__name__}: {error}")
            self._stop.wait(self.poll_seconds)

    def tick(self) -> list[str]:
        """Re-read the definitions and fire what is due now; what was fired, one line each."""
        now = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        self._refresh(now)
        fired: list[str] = []
        with self._lock:
            due = [(key, entry) for key, entry in self._entries.items() if entry.due is not None and entry.due <= now]
        for (kind, group, name), entry in due:
            scheduled = entry.due or now
            try:
                if kind == "scheduler":
                    lines = self.delivery.fire_schedule(entry.definition, scheduled)
                else:
                    lines = self.delivery.fire_rule(entry.definition, scheduled)
                entry.last_error = next((line for line in lines if "FAILED" in line), None)
            except Exception as error:
                lines = [f"FAILED ({error})"]
                entry.last_error = str(error)
            entry.fired += 1
            entry.due = self._next(kind, entry.definition, now)
            fired.extend(f"{kind} {group}/{name}: {line}" for line in lines)
            if self.log is not None:
                for line in lines:
                    self.log(f"schedule {group}/{name} ({entry.definition.get('ScheduleExpression')}): {line}")
            if entry.due is None and kind == "scheduler" and entry.definition.get("ActionAfterCompletion") == "DELETE":
                self.delivery.client("scheduler").delete_schedule(Name=name, GroupName=group)
        return fired

    def _refresh(self, now: dt.datetime) -> None:
        seen: set[tuple[str, str, str]] = set()
        scheduler = self.delivery.client("scheduler")
        token: str | None = None
        while True:
            page = scheduler.list_schedules(**({"NextToken": token} if token else {}))
            for item in page.get("Schedules", []):
                key = ("scheduler", str(item.get("GroupName") or "default"), str(item["Name"]))
                seen.add(key)
                version = (item.get("LastModificationDate"), item.get("State"))
                current = self._entries.get(key)
                if current is not None and current.version == version:
                    continue
                definition = scheduler.get_schedule(Name=key[2], GroupName=key[1])
                self._set(key, definition, version, now)
            token = page.get("NextToken")
            if not token:
                break
        for rule in self.delivery.client("events").list_rules(EventBusName="default").get("Rules", []):
            if not rule.get("ScheduleExpression"):
                continue
            key = ("rule", "default", str(rule["Name"]))
            seen.add(key)
            version = (rule.get("ScheduleExpression"), rule.get("State"))
            current = self._entries.get(key)
            if current is None or current.version != version:
                self._set(key, {**rule, "EventBusName": "default"}, version, now)
        with self._lock:
            for key in [k for k in self._entries if k not in seen]:
                del self._entries[key]

    def _set(self, key: tuple[str, str, str], definition: dict[str, Any], version: Any, now: dt.datetime) -> None:
        entry = _Entry(key[0], definition, version, None)
        entry.due = self._next(key[0], definition, now)
        with self._lock:
            previous = self._entries.get(key)
            if previous is not None:
                entry.fired = previous.fired
            self._entries[key] = entry

    def _next(self, kind: str, definition: dict[str, Any], now: dt.datetime) -> dt.datetime | None:
        if definition.get("State", "ENABLED") != "ENABLED":
            return None
        try:
            return next_fire(
                str(definition.get("ScheduleExpression", "")),
                now,
                timezone=str(definition.get("ScheduleExpressionTimezone") or "UTC"),
                anchor=_when(definition.get("CreationDate")) or now,
                start=_when(definition.get("StartDate")),
                end=_when(definition.get("EndDate")),
            )
        except ValueError as error:
            if self.log is not None:
                self.log(f"schedule {definition.get('Name')}: {error}; fires only through fire_now")
            return None


def _when(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, str) and value:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    return None

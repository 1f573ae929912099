"""Heartbeats at scale: N live sandbox sessions kept alive by one beat and one worker.

    .venv/bin/python bench/heartbeats.py [--sessions 3000] [--ticks 3] [--interval 60]
    .venv/bin/python bench/heartbeats.py --quick          # 300 sessions, 10 s interval

The sandbox adds --latency-ms (50) to every vendor call, as a vendor off loopback would.
Consoles are open on --watched rooms (subscribers on their channel-layer groups), so the
fragments of those rooms are rendered and pushed as they would be for hosts watching them.
Prints each session's largest heartbeat gap as a multiple of the interval, the work time
per tick, and CPU seconds of the worker per 1000 heartbeats; then the same sessions get
one heartbeat each the naive way (one Celery task per session, bench/one_task_per_session.py)
in the same run, and the two are compared. Goals are printed with PASS/MISS; nothing fails
the run on speed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    LogTail,
    TreeCPU,
    World,
    goal,
    header,
    ratio,
    spread,
)

BATCH_LINE = r"heartbeats: (\d+) sent, (\d+) failed, (\d+) closed in ([\d.]+)s"
BEAT_LINE = r"Sending due task (\S+) \((\S+)\)"
CREATE_CONCURRENCY = 100


HEARTBEAT_TASK = "rooms.tasks.heartbeats_send_due"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=3000)
    parser.add_argument("--ticks", type=int, default=3, help="heartbeat intervals to run the batch path for")
    parser.add_argument("--interval", type=float, default=60.0, help="HEARTBEAT_INTERVAL, seconds")
    parser.add_argument("--scan", type=float, default=None, help="HEARTBEAT_SCAN_SECONDS (default: settings)")
    parser.add_argument("--jitter", type=float, default=None, help="HEARTBEAT_JITTER (default: settings)")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="added by the sandbox to each call")
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes, both paths")
    parser.add_argument("--watched", type=int, default=30, help="rooms with a console open on them")
    parser.add_argument(
        "--baseline-sessions", type=int, default=None, help="sessions for the one-task-per-session tick"
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 300 sessions, 10 s interval")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs, database)")
    args = parser.parse_args()
    if args.quick:
        args.sessions = min(args.sessions, 300)
        args.interval = 10.0 if args.interval == 60.0 else args.interval
        args.scan = 1.0 if args.scan is None else args.scan
        args.jitter = 0.5 if args.jitter is None else args.jitter
    args.baseline_sessions = min(args.baseline_sessions or args.sessions, args.sessions)
    return args


def main() -> None:
    args = parse_args()
    env = {"HEARTBEAT_INTERVAL": str(args.interval)}
    if args.scan is not None:
        env["HEARTBEAT_SCAN_SECONDS"] = str(args.scan)
    if args.jitter is not None:
        env["HEARTBEAT_JITTER"] = str(args.jitter)
    baseline_limit = max(5 * args.interval, 120.0)
    budget = 240 + args.sessions * 0.03 + (args.ticks + 1) * args.interval + 60 + baseline_limit + 60
    with World("heartbeats", budget=budget, env=env, keep=args.keep) as world:
        run(world, args, baseline_limit)


def run(world: World, args: argparse.Namespace, baseline_limit: float) -> None:
    from django.conf import settings

    from config.celery import app as celery_app

    stack = world.stack
    assert stack is not None
    header(
        "heartbeats",
        [
            ("sessions", args.sessions),
            ("interval", f"{settings.HEARTBEAT_INTERVAL:g}s"),
            ("scan", f"{settings.HEARTBEAT_SCAN_SECONDS:g}s"),
            ("jitter", f"{settings.HEARTBEAT_JITTER:g}s"),
            ("ticks", args.ticks),
            ("vendor latency", f"{args.latency_ms:g}ms"),
            ("worker concurrency", args.concurrency),
            ("rooms watched", args.watched),
            ("budget", f"{world.budget:.0f}s"),
        ],
    )

    # The beat entries, as Celery builds them: add_periodic_task runs on finalize.
    celery_app.finalize(auto=True)
    schedule = dict(celery_app.conf.beat_schedule)

    # The world: sandbox, N sessions open on it and in the database ------------------------
    import httpx

    sandbox = stack.start_sandbox()
    control = httpx.Client(base_url=sandbox, timeout=30)
    control.put(
        "/_sandbox/config",
        json={
            "create_delay": 0,
            "capacity": args.sessions + 100,
            "heartbeat_threshold": max(180.0, 3 * args.interval),
        },
    ).raise_for_status()
    _account, session_ids = open_sessions(sandbox, control, args.sessions)
    control.put("/_sandbox/faults", json={"latency_ms": args.latency_ms}).raise_for_status()
    consoles = Consoles(session_ids[: args.watched])

    # The batch path: one worker, one beat, `ticks` intervals -----------------------------
    stack.env["LOG_LEVEL"] = "INFO"  # rooms.tasks logs each batch at INFO
    worker = stack.start_worker(concurrency=args.concurrency, name="batch")
    stack.env["LOG_LEVEL"] = "WARNING"
    spread_due(session_ids, settings.HEARTBEAT_INTERVAL)
    tail = LogTail(worker.log_path, BATCH_LINE).start()  # type: ignore[attr-defined]
    cpu = TreeCPU(worker.pid)
    cpu_start = cpu.sample()
    started = time.monotonic()
    beat = stack.start_beat()
    window = args.ticks * settings.HEARTBEAT_INTERVAL
    print(f"-- batch path: running {args.ticks} ticks ({window:.0f}s) ...", flush=True)
    while time.monotonic() - started < window:
        time.sleep(1)
    stack.kill(beat, signal.SIGTERM)
    # Let a batch the beat already queued finish, then stop counting.
    quiet = settings.HEARTBEAT_SCAN_SECONDS + 3
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        last = tail.matches[-1][0] if tail.matches else started
        if time.monotonic() - last > quiet:
            break
        time.sleep(0.5)
    ended = time.monotonic()
    cpu_used = cpu.sample() - cpu_start
    tail.stop()
    gaps = control.get("/_sandbox/softsugar/heartbeat-gaps").json()
    pushed = consoles.stop()
    stack.kill(worker, signal.SIGTERM)
    beat_tasks = {m.group(2) for m in log_matches(beat.log_path, BEAT_LINE)}  # type: ignore[attr-defined]

    batches = [
        (at - started, int(m.group(1)), int(m.group(2)), int(m.group(3)), float(m.group(4)))
        for at, m in tail.matches
    ]
    sent = sum(b[1] for b in batches)
    failed = sum(b[2] for b in batches)
    ticks = per_tick(batches, settings.HEARTBEAT_INTERVAL, args.ticks)
    from rooms.models import LiveSession

    vendor_ids = dict(LiveSession.objects.filter(pk__in=session_ids).values_list("vendor_session_id", "pk"))
    ours = {sid: gap for sid, gap in gaps.items() if sid in vendor_ids}
    max_gaps = [g["maxGap"] / settings.HEARTBEAT_INTERVAL for g in ours.values() if g["count"] >= 2]
    no_gap = sum(1 for g in ours.values() if g["count"] < 2)
    vendor_count = sum(g["count"] for g in ours.values())
    batch_cpu_per_1000 = 1000 * cpu_used / sent if sent else float("nan")

    # The baseline: one Celery task per session, one tick ---------------------------------
    baseline = run_baseline(
        stack, session_ids[: args.baseline_sessions], args.concurrency, baseline_limit, celery_app
    )

    # Report -----------------------------------------------------------------------------
    interval = settings.HEARTBEAT_INTERVAL
    print()
    print(f"batch path ({len(batches)} batches in {ended - started:.0f}s, worker CPU {cpu_used:.1f}s)")
    print(f"  heartbeats sent {sent} ({failed} failed); the sandbox counted {vendor_count}")
    for index, tick in enumerate(ticks):
        print(
            f"  window {index + 1}: {tick['sent']:5d} heartbeats in {tick['batches']:3d} batches, "
            f"work {tick['work']:6.2f}s of {interval:g}s (largest batch {tick['largest']:.2f}s "
            f"for {tick['largest_n']} sessions)"
        )
    gap = spread(max_gaps)
    print(
        f"  largest gap per session, x interval: p50 {gap['p50']:.3f}  p99 {gap['p99']:.3f}  "
        f"max {gap['max']:.3f}   ({len(max_gaps)} sessions; {no_gap} with fewer than 2 heartbeats)"
    )
    print(f"  CPU per 1000 heartbeats: {batch_cpu_per_1000:.3f}s")
    watched_beats = sum(ours[consoles.vendor_ids[pk]]["count"] for pk in consoles.vendor_ids)
    print(
        f"  consoles on {len(consoles.vendor_ids)} rooms: {pushed} fragments pushed to them, "
        f"for {watched_beats} heartbeats of their sessions"
    )
    print(
        f"  beat schedule: {len(schedule)} entr{'y' if len(schedule) == 1 else 'ies'} "
        f"{sorted(schedule)} (config.celery after finalize, {args.sessions} rooms in the database); "
        f"tasks the beat sent: {sorted(beat_tasks)}"
    )
    print()
    b_rate = baseline["done"] / baseline["wall"] if baseline["wall"] else 0.0
    # The naive path's time for a whole tick, extrapolated when it did not finish in time.
    b_tick = args.sessions / b_rate if b_rate else float("inf")
    print(
        f"baseline, one task per session ({baseline['n']} enqueued, {baseline['done']} done in "
        f"{baseline['wall']:.1f}s{'' if baseline['finished'] else ', gave up waiting'}; "
        f"enqueueing took {baseline['enqueue']:.1f}s)"
    )
    print(f"  {b_rate:.1f} heartbeats/s -> {b_tick:.1f}s for {args.sessions} sessions")
    b_cpu = 1000 * baseline["cpu"] / baseline["done"] if baseline["done"] else float("nan")
    print(f"  CPU per 1000 heartbeats: {b_cpu:.3f}s")
    work = max((t["work"] for t in ticks), default=float("nan"))
    full_ticks = [t for t in ticks if t["sent"]]
    mean_work = sum(t["work"] for t in full_ticks) / len(full_ticks) if full_ticks else float("nan")
    # Work per session, so that a tick that started mid-way compares fairly.
    per_session = sum(t["work"] for t in ticks) / sent if sent else float("nan")
    speedup = ratio(b_tick / args.sessions, per_session)
    cpu_ratio = ratio(b_cpu, batch_cpu_per_1000)
    print()
    print("ratios (baseline / batch, same run)")
    print(f"  work time per heartbeat: {speedup:.1f}x   CPU per heartbeat: {cpu_ratio:.1f}x")
    b_ms = 1000 * b_tick / args.sessions
    print(f"  (batch path {1000 * per_session:.2f} ms of work per heartbeat, baseline {b_ms:.2f} ms)")
    print()
    print("goals")
    budget = interval / 4
    per_n = args.sessions
    # A 60 s window holds more than N heartbeats (each session is due a little early), so
    # the goal is judged on the work per N heartbeats.
    work_per_n = per_session * per_n
    print(
        goal(
            f"{per_n} sessions per tick done in at most {budget:g}s of a {interval:g}s interval",
            work_per_n <= budget,
            f"{work_per_n:.2f}s per {per_n} heartbeats (largest window {work:.2f}s, mean {mean_work:.2f}s)",
        )
    )
    print(goal("max gap at most 1.05 x interval", gap["max"] <= 1.05 and no_gap == 0, f"{gap['max']:.3f} x"))
    print(goal("at least 5x faster than one task per session", speedup >= 5, f"{speedup:.1f}x"))
    # Other periodic work (the catalog sync) has entries of its own; what must not grow is the
    # heartbeat side: one entry, whatever the number of rooms.
    heartbeat_entries = [name for name, entry in schedule.items() if entry["task"] == HEARTBEAT_TASK]
    heartbeat_sent = {task for task in beat_tasks if task.startswith("rooms.")}
    print(
        goal(
            "heartbeats stay a single beat entry",
            len(heartbeat_entries) == 1 and heartbeat_sent <= {HEARTBEAT_TASK},
            f"{heartbeat_entries}",
        )
    )
    print(
        "\nraw:",
        json.dumps(
            {
                "sessions": args.sessions,
                "interval": interval,
                "ticks": ticks,
                "gap": gap,
                "batch_cpu_per_1000": batch_cpu_per_1000,
                "pushed_to_consoles": pushed,
                "baseline": baseline,
                "baseline_cpu_per_1000": b_cpu,
            },
            default=str,
        ),
    )


def log_matches(path: Path, pattern: str) -> list[re.Match[str]]:
    rx = re.compile(pattern)
    text = path.read_text(errors="replace") if path.exists() else ""
    return [m for m in (rx.search(line) for line in text.splitlines()) if m]


def open_sessions(sandbox: str, control: Any, n: int) -> tuple[Any, list[int]]:
    """N rooms, each with a session open on the sandbox and LIVE in the database."""
    import secrets

    from django.utils import timezone

    from rooms.models import LiveSession, Room
    from rooms.platforms.base import LiveState
    from tests.factories import AccountFactory, ScriptFactory

    token = secrets.token_urlsafe(16)
    control.put(f"/_sandbox/softsugar/accounts/{token}", json={"callbackUrl": "", "maxSessions": n + 100})
    account = AccountFactory(name="Bench heartbeats", base_url=sandbox, credentials={"token": token})
    script = ScriptFactory()
    Room.objects.bulk_create(
        [Room(name=f"Bench room {i:05d}", account=account, script=script) for i in range(n)], batch_size=500
    )
    rooms = list(Room.objects.filter(account=account).order_by("pk"))
    now = timezone.now()
    sessions = LiveSession.objects.bulk_create(
        [
            LiveSession(room=room, account=account, state=LiveState.CREATING, auto_start=False)
            for room in rooms
        ],
        batch_size=500,
    )
    for room in rooms:
        room.script = script
        room.account = account
    started = time.monotonic()
    infos = asyncio.run(_open_all(account, rooms, sessions))
    refused = [info for info in infos if info.status.state not in (LiveState.READY, LiveState.LIVE)]
    if refused:
        raise RuntimeError(f"the sandbox refused {len(refused)} sessions: {refused[0]}")
    for session, info in zip(sessions, infos, strict=True):
        session.vendor_session_id = info.vendor_session_id
        session.session_token = info.session_token
        session.state = LiveState.LIVE
        session.ready_at = session.live_at = now
    LiveSession.objects.bulk_update(
        sessions, ["vendor_session_id", "session_token", "state", "ready_at", "live_at"], batch_size=500
    )
    print(f"-- opened {n} sessions on the sandbox in {time.monotonic() - started:.1f}s", flush=True)
    return account, [s.pk for s in sessions]


async def _open_all(account: Any, rooms: list[Any], sessions: list[Any]) -> list[Any]:
    from rooms.platforms import driver_class, new_client

    limit = asyncio.Semaphore(CREATE_CONCURRENCY)
    async with new_client(max_connections=CREATE_CONCURRENCY) as client:
        driver = driver_class(account.kind)(account, client)

        async def one(room: Any, session: Any) -> Any:
            async with limit:
                return await driver.open_session(room, session)

        return list(await asyncio.gather(*(one(r, s) for r, s in zip(rooms, sessions, strict=True))))


class Consoles:
    """Consoles open on the rooms of some sessions, as LiveDeck sees them: with the Pub/Sub
    channel layer a room's group is a Redis channel that the web process of a console
    subscribes to. Counts the fragments pushed to them."""

    def __init__(self, session_ids: list[int]) -> None:
        import redis
        from django.conf import settings

        from rooms.models import LiveSession, Room

        rows = list(
            LiveSession.objects.filter(pk__in=session_ids).values_list("pk", "room_id", "vendor_session_id")
        )
        self.vendor_ids = {pk: vendor_id for pk, _room, vendor_id in rows}
        self.pushed = 0
        self.pubsub = redis.Redis.from_url(settings.REDIS_URL).pubsub(ignore_subscribe_messages=True)
        self.thread = None
        if rows:
            prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
            groups = [Room(pk=room).group_name for _pk, room, _vendor in rows]
            self.pubsub.subscribe(**{f"{prefix}__group__{group}": self._count for group in groups})
            self.thread = self.pubsub.run_in_thread(sleep_time=0.05, daemon=True)

    def _count(self, message: dict[str, Any]) -> None:
        self.pushed += 1

    def stop(self) -> int:
        if self.thread is not None:
            self.thread.stop()
            self.thread.join(5)
        self.pubsub.close()
        return self.pushed


def spread_due(session_ids: list[int], interval: float) -> None:
    """First heartbeats due evenly over the first interval, as sessions that went live at
    different moments would be."""
    from datetime import timedelta

    from django.utils import timezone

    from rooms.models import LiveSession

    now = timezone.now()
    sessions = list(LiveSession.objects.filter(pk__in=session_ids).order_by("pk"))
    for index, session in enumerate(sessions):
        session.next_heartbeat_at = now + timedelta(seconds=interval * index / len(sessions))
    LiveSession.objects.bulk_update(sessions, ["next_heartbeat_at"], batch_size=500)


def per_tick(batches: list[tuple[float, int, int, int, float]], interval: float, count: int) -> list[dict]:
    ticks = [{"sent": 0, "batches": 0, "work": 0.0, "largest": 0.0, "largest_n": 0} for _ in range(count)]
    for at, sent, _failed, _closed, seconds in batches:
        # A batch belongs to the tick it started in; the log line comes when it ends.
        index = min(max(int((at - seconds) // interval), 0), count - 1)
        tick = ticks[index]
        tick["sent"] += sent
        tick["batches"] += 1
        tick["work"] += seconds
        if seconds > tick["largest"]:
            tick["largest"], tick["largest_n"] = seconds, sent
    return ticks


def run_baseline(stack: Any, session_ids: list[int], concurrency: int, limit: float, celery_app: Any) -> dict:
    """One heartbeat per session, one Celery task each; wall time until all are recorded."""
    from django.db.models import Sum

    from rooms.models import LiveSession

    # Whatever the beat queued and the batch worker did not take must not run here.
    celery_app.control.purge()
    argv = [str(Path(sys.executable).parent / "celery"), "-A", "config", "worker", "-l", "warning"]
    argv += ["-I", "bench.one_task_per_session", "-n", "baseline@bench", "--concurrency", str(concurrency)]
    argv += ["--without-gossip", "--without-mingle"]
    # At -l warning (as the Procfile runs workers) nothing is logged per task, nor "ready":
    # a ping answered says the worker consumes.
    worker = stack._spawn("baseline-worker", argv)
    deadline = time.monotonic() + 60
    while not celery_app.control.ping(destination=["baseline@bench"], timeout=0.5):
        if worker.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the baseline worker did not come up: {worker.log_path}")
    cpu = TreeCPU(worker.pid)

    def total() -> int:
        return LiveSession.objects.filter(pk__in=session_ids).aggregate(n=Sum("heartbeats_sent"))["n"] or 0

    before = total()
    cpu_start = cpu.sample()
    print(f"-- baseline: one task per session for {len(session_ids)} sessions ...", flush=True)
    started = time.monotonic()
    for pk in session_ids:
        celery_app.send_task("bench.one_task_per_session.heartbeat_one", args=[pk])
    enqueued = time.monotonic() - started
    done = 0
    while time.monotonic() - started < limit:
        done = total() - before
        if done >= len(session_ids):
            break
        time.sleep(0.25)
    wall = time.monotonic() - started
    cpu_used = cpu.sample() - cpu_start
    stack.kill(worker, signal.SIGTERM)
    return {
        "n": len(session_ids),
        "done": done,
        "wall": wall,
        "finished": done >= len(session_ids),
        "enqueue": enqueued,
        "cpu": cpu_used,
    }


if __name__ == "__main__":
    sys.exit(main())

"""Fan-out to room consoles: 10, 100 and 1000 consoles on one daphne; vendor callbacks posted.

    .venv/bin/python bench/fanout.py [--consoles 10,100,1000] [--rounds 20] [--burst 300]
    .venv/bin/python bench/fanout.py --quick          # 10 and 100 consoles, 10 rounds

Consoles are WebSocket clients of `ws/rooms/<id>/`, logged in as a host of the room. Each
round opens a fresh session row for the room (CREATING) and POSTs the vendor's 35 callback
for it to `/callbacks/softsugar/<key>/`; every console should then be pushed the room's
fragment naming that session. Prints the time from the POST being sent to each console
having the fragment (p50/p99/max) and what was lost, against a plain channel-layer round
trip (the same Pub/Sub layer, group_send from this process to as many receivers in another
process) with the same counts and payload size. Then bursts of 300 events to 10 consoles:
callbacks back to back, and `room_broadcast` back to back (the heartbeat path); lost and
out-of-order are counted. Goals are printed with PASS/MISS; nothing fails the run on speed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import World, goal, header, raise_open_files, ratio, spread

SESSION_RX = re.compile(r"<dt>Session</dt><dd><code>([^<]*)</code>")
SENT_RX = re.compile(r'class="heartbeats-sent">(\d+)<')
WAIT = 10.0  # seconds an event may take before it counts as lost (late arrivals are reported)
CONNECT_CONCURRENCY = 50
PASSWORD = "pass-word-123"  # tests.factories.UserFactory's


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--consoles", default="10,100,1000", help="console counts, comma-separated")
    parser.add_argument("--rounds", type=int, default=20, help="callbacks per console count")
    parser.add_argument("--burst", type=int, default=300, help="events in each burst")
    parser.add_argument("--burst-consoles", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="smoke run: 10 and 100 consoles, 10 rounds")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs, database)")
    # Internal: the baseline's receiving process.
    parser.add_argument("--receivers", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    parser.add_argument("--group", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.consoles = "10,100"
        args.rounds = min(args.rounds, 10)
    args.counts = sorted({int(c) for c in str(args.consoles).split(",") if c.strip()})
    return args


def main() -> None:
    args = parse_args()
    if args.receivers:
        asyncio.run(serve_receivers(args))
        return
    # Before anything is started: daphne inherits the limit, and needs a socket per console.
    limit = raise_open_files(max([*args.counts, args.burst_consoles]) * 3 + 1024)
    budget = 300 + sum(60 + c * 0.05 + args.rounds * 2 for c in args.counts) * 2 + 240
    with World("fanout", budget=budget, keep=args.keep) as world:
        # This process's ORM calls run between awaits on purpose (never while timing).
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
        results = asyncio.run(run(world, args, limit))
    report(args, results)


# The world ---------------------------------------------------------------------------------


def build_room() -> tuple[Any, Any, Any]:
    from rooms.models import LiveSession
    from rooms.platforms.base import LiveState
    from tests.factories import AccountFactory, RoomFactory, UserFactory

    host = UserFactory(roles=["host"])
    account = AccountFactory(name="Bench fanout")
    room = RoomFactory(account=account, hosts=[host])
    LiveSession.objects.create(
        room=room, account=account, state=LiveState.LIVE, vendor_session_id="fan-first", auto_start=False
    )
    return host, account, room


def log_in(web: str, username: str) -> str:
    import httpx

    with httpx.Client(base_url=web, timeout=30) as client:
        page = client.get("/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token, "no CSRF token on the login page"
        answer = client.post(
            "/login/",
            data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token.group(1)},
        )
        assert answer.status_code == 302, f"login failed: {answer.status_code}"
        return str(client.cookies["sessionid"])


def new_session(room: Any, account: Any, vendor_session_id: str) -> None:
    """The room's next session, CREATING, written directly: the callback is what is timed."""
    from django.utils import timezone

    from rooms.models import LiveSession
    from rooms.platforms.base import LiveState

    LiveSession.objects.filter(room=room).open().update(state=LiveState.ENDED, ended_at=timezone.now())
    LiveSession.objects.create(
        room=room,
        account=account,
        state=LiveState.CREATING,
        vendor_session_id=vendor_session_id,
        auto_start=False,
    )


def callback_body(vendor_session_id: str) -> dict[str, Any]:
    # Live Streaming Status Callback Parameters: 35 carries the RTC details.
    return {
        "sessionId": vendor_session_id,
        "status": 35,
        "rtcAppId": "bench-app",
        "rtcChannelId": f"ch-{vendor_session_id}",
        "rtcUid": "1234",
        "rtcToken": "token",
    }


# Consoles ----------------------------------------------------------------------------------


class Tracker:
    """Counts, per event key, how many consoles have it; wakes whoever waits for all of them."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.waiting: dict[str, tuple[int, asyncio.Event]] = {}

    def expect(self, key: str, n: int) -> asyncio.Event:
        event = asyncio.Event()
        self.waiting[key] = (n, event)
        if self.counts.get(key, 0) >= n:
            event.set()
        return event

    def seen(self, key: str) -> None:
        count = self.counts[key] = self.counts.get(key, 0) + 1
        wanted = self.waiting.get(key)
        if wanted and count >= wanted[0]:
            wanted[1].set()


class Console:
    """One room console: records when each state (session id # heartbeats sent) first arrives."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker
        self.got: dict[str, float] = {}
        self.order: list[str] = []
        self.ws: Any = None
        self.task: asyncio.Task[None] | None = None

    async def connect(self, url: str, origin: str, cookie: str) -> None:
        from websockets.asyncio.client import connect

        self.ws = await connect(
            url,
            origin=origin,  # type: ignore[arg-type]
            additional_headers={"Cookie": f"sessionid={cookie}"},
            max_size=None,
            ping_interval=None,
            open_timeout=60,
            close_timeout=2,
        )
        first = await asyncio.wait_for(self.ws.recv(), 30)
        self.note(first, time.monotonic())
        self.task = asyncio.create_task(self.listen())

    async def listen(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for message in self.ws:
                self.note(message, time.monotonic())
        except ConnectionClosed:
            pass

    def note(self, html: str | bytes, at: float) -> None:
        text = html if isinstance(html, str) else html.decode()
        session = SESSION_RX.search(text)
        sent = SENT_RX.search(text)
        key = f"{session.group(1) if session else '?'}#{sent.group(1) if sent else '-'}"
        self.order.append(key)
        if key not in self.got:
            self.got[key] = at
            self.tracker.seen(key)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.task:
            self.task.cancel()


# The run -----------------------------------------------------------------------------------


async def run(world: World, args: argparse.Namespace, limit: int) -> dict[str, Any]:
    import httpx
    from asgiref.sync import sync_to_async

    stack = world.stack
    assert stack is not None
    header(
        "fanout",
        [
            ("consoles", ",".join(map(str, args.counts))),
            ("rounds", args.rounds),
            ("burst", f"{args.burst} to {args.burst_consoles} consoles"),
            ("open files", limit),
            ("budget", f"{world.budget:.0f}s"),
        ],
    )
    host, account, room = build_room()
    web = stack.start_web()
    cookie = log_in(web, host.username)
    ws_url = web.replace("http://", "ws://") + f"/ws/rooms/{room.pk}/"
    callback_url = web + account.callback_path()
    tracker = Tracker()
    consoles: list[Console] = []
    results: dict[str, Any] = {"path": {}, "layer": {}, "burst": {}}
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def add_console() -> Console:
        console = Console(tracker)
        async with gate:
            await console.connect(ws_url, web, cookie)
        return console

    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=4)) as http:
        for n in args.counts:
            started = time.monotonic()
            consoles += await asyncio.gather(*(add_console() for _ in range(n - len(consoles))))
            print(
                f"-- {n} consoles connected ({time.monotonic() - started:.1f}s); {args.rounds} callbacks",
                flush=True,
            )
            latencies: list[float] = []
            lost = 0
            for index in range(-1, args.rounds):  # round -1 warms up, and is not counted
                sid = f"fan-{n}-{index}"
                key = f"{sid}#0"
                new_session(room, account, sid)
                done = tracker.expect(key, n)
                sent_at = time.monotonic()
                answer = await http.post(callback_url, json=callback_body(sid))
                answer.raise_for_status()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done.wait(), WAIT)
                got = [c.got[key] - sent_at for c in consoles[:n] if key in c.got]
                if index >= 0:
                    latencies += got
                    lost += n - len(got)
                await asyncio.sleep(0.05)
            results["path"][n] = {"lat": latencies, "lost": lost, "events": args.rounds * n}
        # The payload the baseline sends: a real fragment of this room.
        from rooms import fragments
        from rooms.selectors import room_current_session

        sample_html = await sync_to_async(
            lambda: fragments.room_live_html(room, room_current_session(room))
        )()

        # Bursts to the first `burst_consoles` consoles: drop the others first.
        keep = args.burst_consoles
        for console in consoles[keep:]:
            await console.close()
        consoles = consoles[:keep]
        await asyncio.sleep(1)
        results["burst"]["callbacks"] = await burst_callbacks(
            args, http, callback_url, room, account, consoles
        )
        results["burst"]["room_broadcast"] = await burst_broadcasts(args, room, account, consoles)
        results["burst"]["group_send"] = await burst_group_send(args, room, sample_html, consoles)
        for console in consoles:
            await console.close()

    # The baseline: the channel layer alone, same counts, same payload.
    for n in args.counts:
        print(f"-- baseline: channel layer to {n} receivers", flush=True)
        results["layer"][n] = await layer_rounds(stack.redis_url, n, args.rounds, sample_html)
    print(f"-- baseline: channel layer burst of {args.burst} to {args.burst_consoles} receivers", flush=True)
    results["burst"]["layer"] = await layer_burst(
        stack.redis_url, args.burst_consoles, args.burst, sample_html
    )
    results["payload_bytes"] = len(sample_html.encode())
    return results


async def burst_callbacks(
    args: argparse.Namespace, http: Any, url: str, room: Any, account: Any, consoles: list[Console]
) -> dict[str, Any]:
    """Callbacks back to back, each for the room's next session; not waiting for delivery."""
    print(f"-- burst: {args.burst} callbacks to {len(consoles)} consoles", flush=True)
    keys = [f"burst-cb-{i}#0" for i in range(args.burst)]
    started = time.monotonic()
    for index, key in enumerate(keys):
        sid = key.split("#")[0]
        new_session(room, account, sid)
        answer = await http.post(url, json=callback_body(sid))
        answer.raise_for_status()
        if index % 20 == 0:
            await asyncio.sleep(0)
    sent = time.monotonic() - started
    return await burst_outcome(keys, consoles, started, sent)


async def burst_broadcasts(
    args: argparse.Namespace, room: Any, account: Any, consoles: list[Console]
) -> dict[str, Any]:
    """`room_broadcast` back to back from another thread, each after a visible change (the
    heartbeat count), as heartbeat batches and tasks push it."""
    from rooms import services
    from rooms.models import LiveSession
    from rooms.platforms.base import LiveState

    print(f"-- burst: {args.burst} room_broadcast calls to {len(consoles)} consoles", flush=True)
    LiveSession.objects.filter(room=room).open().update(state=LiveState.ENDED)
    session = LiveSession.objects.create(
        room=room, account=account, state=LiveState.LIVE, vendor_session_id="burst-rb", auto_start=False
    )
    keys = [f"burst-rb#{i + 1}" for i in range(args.burst)]

    def push() -> None:
        for index in range(1, args.burst + 1):
            LiveSession.objects.filter(pk=session.pk).update(heartbeats_sent=index)
            services.room_broadcast(room_id=room.pk)
        from django.db import connection

        connection.close()

    started = time.monotonic()
    await asyncio.to_thread(push)
    sent = time.monotonic() - started
    return await burst_outcome(keys, consoles, started, sent)


async def burst_group_send(
    args: argparse.Namespace, room: Any, html: str, consoles: list[Console]
) -> dict[str, Any]:
    """The delivery half alone, at full speed: fragments rendered beforehand, published back
    to back on the room's group through the project's channel layer; daphne's consumers
    push them to the consoles."""
    from channels.layers import get_channel_layer

    print(f"-- burst: {args.burst} group_send calls to {len(consoles)} consoles", flush=True)
    layer = get_channel_layer()
    assert layer is not None
    session = SESSION_RX.search(html)
    assert session and SENT_RX.search(html), "the fragment shows no session or heartbeat count"
    keys, pages = [], []
    for index in range(1, args.burst + 1):
        page = SESSION_RX.sub("<dt>Session</dt><dd><code>burst-gs</code>", html)
        pages.append(SENT_RX.sub(f'class="heartbeats-sent">{index}<', page))
        keys.append(f"burst-gs#{index}")
    started = time.monotonic()
    for page in pages:
        await layer.group_send(room.group_name, {"type": "room.state", "html": page})
    sent = time.monotonic() - started
    return await burst_outcome(keys, consoles, started, sent)


async def burst_outcome(
    keys: list[str], consoles: list[Console], started: float, sent: float
) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline and not all(k in c.got for c in consoles for k in keys):
        await asyncio.sleep(0.05)
    wanted = set(keys)
    rank = {k: i for i, k in enumerate(keys)}
    lost = sum(1 for c in consoles for k in keys if k not in c.got)
    disorder = 0
    for console in consoles:
        last = -1
        for key in console.order:
            if key in wanted:
                disorder += rank[key] < last
                last = max(last, rank[key])
    arrived = [c.got[k] for c in consoles for k in keys if k in c.got]
    return {
        "events": len(keys),
        "consoles": len(consoles),
        "send_seconds": sent,
        "all_in_seconds": (max(arrived) - started) if arrived else float("nan"),
        "lost": lost,
        "out_of_order": disorder,
    }


# The baseline: the channel layer on its own ------------------------------------------------------


async def serve_receivers(args: argparse.Namespace) -> None:
    """In its own process: N channels in one group, each with a receiving task, like N consumers."""
    from channels_redis.pubsub import RedisPubSubChannelLayer

    layer = RedisPubSubChannelLayer(hosts=[args.redis_url], prefix=args.prefix)
    n = args.receivers
    channels = [await layer.new_channel() for _ in range(n)]
    for channel in channels:
        await layer.group_add(args.group, channel)
    got: list[dict[str, float]] = [{} for _ in range(n)]
    order: list[list[str]] = [[] for _ in range(n)]
    counts: dict[str, int] = {}

    async def receive(index: int) -> None:
        while True:
            message = await layer.receive(channels[index])
            at = time.monotonic()
            key = message["key"]
            order[index].append(key)
            if key not in got[index]:
                got[index][key] = at
                counts[key] = counts.get(key, 0) + 1
                if counts[key] == n:
                    print(f"ALL {key}", flush=True)

    tasks = [asyncio.create_task(receive(i)) for i in range(n)]
    print("READY", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)
    for task in tasks:
        task.cancel()
    print("RESULT " + json.dumps({"got": got, "order": order}), flush=True)
    await layer.flush()


class Receivers:
    """The receiving process, driven from this one."""

    def __init__(self, redis_url: str, n: int) -> None:
        self.redis_url = redis_url
        self.n = n
        self.group = f"bench.{n}.{time.monotonic_ns()}"
        self.prefix = "bench-fanout-layer"
        self.done: dict[str, asyncio.Event] = {}
        self.result: dict[str, Any] = {}
        self._ready = asyncio.Event()
        self._finished = asyncio.Event()

    async def __aenter__(self) -> Receivers:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--receivers",
            str(self.n),
            "--redis-url",
            self.redis_url,
            "--prefix",
            self.prefix,
            "--group",
            self.group,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=2**28,
        )
        self.reader = asyncio.create_task(self._read())
        await asyncio.wait_for(self._ready.wait(), 60)
        return self

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            line = raw.decode().rstrip("\n")
            if line == "READY":
                self._ready.set()
            elif line.startswith("ALL "):
                self.event(line[4:]).set()
            elif line.startswith("RESULT "):
                self.result = json.loads(line[7:])
                self._finished.set()

    def event(self, key: str) -> asyncio.Event:
        return self.done.setdefault(key, asyncio.Event())

    async def finish(self) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"stop\n")
        await self.proc.stdin.drain()
        await asyncio.wait_for(self._finished.wait(), 60)
        return self.result

    async def __aexit__(self, *exc: object) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()
        self.reader.cancel()


async def layer_rounds(redis_url: str, n: int, rounds: int, html: str) -> dict[str, Any]:
    from channels_redis.pubsub import RedisPubSubChannelLayer

    async with Receivers(redis_url, n) as receivers:
        layer = RedisPubSubChannelLayer(hosts=[redis_url], prefix=receivers.prefix)
        sent: dict[str, float] = {}
        for index in range(-1, rounds):  # round -1 warms up, and is not counted
            key = f"layer-{n}-{index}"
            done = receivers.event(key)
            if index >= 0:
                sent[key] = time.monotonic()
            await layer.group_send(receivers.group, {"type": "room.state", "html": html, "key": key})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), WAIT)
            await asyncio.sleep(0.05)
        result = await receivers.finish()
        await layer.flush()
    latencies = [got[k] - at for got in result["got"] for k, at in sent.items() if k in got]
    return {"lat": latencies, "lost": n * rounds - len(latencies), "events": n * rounds}


async def layer_burst(redis_url: str, n: int, burst: int, html: str) -> dict[str, Any]:
    from channels_redis.pubsub import RedisPubSubChannelLayer

    async with Receivers(redis_url, n) as receivers:
        layer = RedisPubSubChannelLayer(hosts=[redis_url], prefix=receivers.prefix)
        keys = [f"layer-burst-{i}" for i in range(burst)]
        started = time.monotonic()
        for key in keys:
            await layer.group_send(receivers.group, {"type": "room.state", "html": html, "key": key})
        send_seconds = time.monotonic() - started
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(receivers.event(keys[-1]).wait(), WAIT)
        await asyncio.sleep(0.5)
        result = await receivers.finish()
        await layer.flush()
    rank = {k: i for i, k in enumerate(keys)}
    lost = sum(1 for got in result["got"] for k in keys if k not in got)
    disorder = 0
    for order in result["order"]:
        last = -1
        for key in order:
            disorder += rank[key] < last
            last = max(last, rank[key])
    arrived = [at for got in result["got"] for at in got.values()]
    return {
        "events": burst,
        "consoles": n,
        "send_seconds": send_seconds,
        "all_in_seconds": (max(arrived) - started) if arrived else float("nan"),
        "lost": lost,
        "out_of_order": disorder,
    }


# Report ------------------------------------------------------------------------------------


def report(args: argparse.Namespace, results: dict[str, Any]) -> None:
    ms = 1000
    print()
    print(
        f"time from callback POST to every console having the new state, ms "
        f"(baseline: bare channel-layer group_send, {results['payload_bytes']} B payload)"
    )
    print(f"  {'consoles':>8}  {'path':<22} {'p50':>8} {'p99':>8} {'max':>8} {'lost':>10}")
    for n in args.counts:
        for name, data in (
            ("callback -> consoles", results["path"][n]),
            ("channel layer alone", results["layer"][n]),
        ):
            s = spread(data["lat"])
            print(
                f"  {n:>8}  {name:<22} {s['p50'] * ms:8.1f} {s['p99'] * ms:8.1f} {s['max'] * ms:8.1f} "
                f"{data['lost']:>5}/{data['events']}"
            )
        path, layer = spread(results["path"][n]["lat"]), spread(results["layer"][n]["lat"])
        print(
            f"  {'':>8}  {'ratio path / layer':<22} {ratio(path['p50'], layer['p50']):7.1f}x "
            f"{ratio(path['p99'], layer['p99']):7.1f}x {ratio(path['max'], layer['max']):7.1f}x"
        )
    print()
    print("bursts")
    for name, label in (
        ("callbacks", "callbacks, back to back"),
        ("room_broadcast", "room_broadcast, back to back"),
        ("group_send", "group_send to daphne, prerendered"),
        ("layer", "channel layer alone"),
    ):
        b = results["burst"][name]
        print(
            f"  {label:<34} {b['events']} events to {b['consoles']}: sent in {b['send_seconds']:.2f}s "
            f"({b['events'] / b['send_seconds']:.0f}/s), all in after {b['all_in_seconds']:.2f}s; "
            f"lost {b['lost']}, out of order {b['out_of_order']}"
        )
    print()
    print("goals")
    if 100 in results["path"]:
        s = spread(results["path"][100]["lat"])
        lost = results["path"][100]["lost"]
        print(
            goal(
                "p99 at most 150 ms at 100 consoles with nothing lost",
                s["p99"] <= 0.150 and lost == 0,
                f"p99 {s['p99'] * ms:.1f} ms, lost {lost}",
            )
        )
    else:
        print("  [----] p99 at most 150 ms at 100 consoles: 100 consoles not measured")
    bursts = [results["burst"][name] for name in ("callbacks", "room_broadcast", "group_send")]
    lost = sum(b["lost"] for b in bursts)
    print(
        goal(
            f"a burst of {args.burst} events to {args.burst_consoles} consoles loses nothing",
            lost == 0,
            f"lost {bursts[0]['lost']} (callbacks), {bursts[1]['lost']} (room_broadcast), "
            f"{bursts[2]['lost']} (group_send)",
        )
    )
    if 1000 in results["path"]:
        s = spread(results["path"][1000]["lat"])
        print(
            f"  [info] 1000 consoles: p50 {s['p50'] * ms:.1f} ms, p99 {s['p99'] * ms:.1f} ms, "
            f"max {s['max'] * ms:.1f} ms, lost {results['path'][1000]['lost']}"
        )
    raw = {
        "path": {n: {**spread(d["lat"]), "lost": d["lost"]} for n, d in results["path"].items()},
        "layer": {n: {**spread(d["lat"]), "lost": d["lost"]} for n, d in results["layer"].items()},
        "burst": results["burst"],
    }
    print("\nraw:", json.dumps(raw, default=str))


if __name__ == "__main__":
    sys.exit(main())

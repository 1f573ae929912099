"""The sandbox: an in-memory emulator of the vendor platforms LiveDeck drives.

It is written from the vendor documents alone and shares no code with ``rooms.platforms`` (neither
imports the other), so a misreading in a driver is caught here instead of being copied. It needs
neither Django nor a database: ``serve()`` runs it under daphne, ``python -m rooms.sandbox`` and
``manage.py run_sandbox`` both call it. Guiji sessions also speak MQTT: given a broker URL
(``--mqtt-url``), the sandbox subscribes ``live-proxy-0`` there; without one, Guiji HTTP works but
no session can be made.

Control and inspection (loopback only, no token, never subject to faults; errors are plain HTTP
statuses with ``{"code", "message"}``):

* ``GET /_sandbox/health`` -> ``{"ok": true}``
* ``GET|PUT /_sandbox/config``: partial update of ``create_delay``, ``heartbeat_threshold``,
  ``capacity``, ``prepare_delay``, ``prepare_threshold``, ``speech_seconds_per_char``,
  ``min_sentence_seconds``, ``default_audio_seconds``; answers the whole config.
* ``GET|PUT|DELETE /_sandbox/faults``: PUT replaces the set (``latency_ms``, ``error_rate``,
  ``timeout_paths``, ``drop_websockets``, ``expired_token``), DELETE switches everything off.
* ``POST /_sandbox/reset``: forget sessions, callbacks, Q&A libraries, faults and config changes.
* ``PUT /_sandbox/softsugar/accounts/{token}`` ``{"callbackUrl", "maxSessions"}``;
  ``GET /_sandbox/softsugar/accounts``.
* ``PUT /_sandbox/softsugar/qa/{appId}`` ``{"pairs": [{"question", "answer"}]}``.
* ``GET /_sandbox/softsugar/sessions/{id}`` (full state), ``.../monitor`` (owner's Bearer token),
  ``POST .../kill`` (optional ``{"status": 50|9|99, "reason": "..."}``).
* ``GET /_sandbox/softsugar/heartbeat-gaps`` -> ``{sessionId: {"count", "maxGap"}}``.
* ``PUT /_sandbox/guiji/accounts/{appId}`` ``{"appSecret", "mqttUser"?, "mqttPassword"?,
  "keyStart"?, "keyEnd"?}`` (key times: Unix seconds or "YYYY-MM-DD HH:MM:SS" China time);
  ``GET /_sandbox/guiji/accounts``.
* ``GET /_sandbox/guiji/sessions/{sessionId}`` (full state: made, state, playlist, now playing,
  played items, resList, anchor, draw options, push urls, heartbeats, cause),
  ``POST .../kill`` (optional ``{"cause"}``: SessionState Destroy now).
* ``GET /_sandbox/guiji/heartbeats`` -> ``{sessionId: {"sent", "answered", "maxGap"}}``.
* ``GET /_sandbox/guiji/mqtt`` -> ``{"url", "connected", "subscribed", "topicPub"}``.

* ``PUT /_sandbox/metastudio/accounts/{ak}`` ``{"sk", "project_id", "token"?}``;
  ``GET /_sandbox/metastudio/accounts``. Preloaded: AK ``sandbox-ak``, SK ``sandbox-sk``, project
  ``sandbox-project``, IAM token ``sandbox-iam-token``.
* ``GET /_sandbox/metastudio/jobs/{job_id}`` (the program monitor: state, anchor, background,
  subtitle, paragraph on air, the last 200 sentences aired in order (a sentence cut and resumed
  is aired twice), inserts queued and played, RTMP outputs, layers, events counted,
  rule hits, callbacks sent), ``POST .../kill`` (``{"state": "FAILED"|"BLOCKED", ...}``),
  ``POST .../rtmp`` (``{"state"}``: every RTMP link of the job in that state).

Config keys for Guiji: ``guiji_token_seconds``, ``guiji_session_seconds``, ``guiji_show_delay``,
``guiji_heartbeat_interval``, ``guiji_heartbeat_threshold``, ``guiji_silence_seconds``; it also
uses ``create_delay`` and the speech timings. MetaStudio (``/v1/{project_id}/...``, AK/SK or IAM
token): ``metastudio_rtmp_connect_seconds``, ``metastudio_exit_time_scale``,
``metastudio_report_url_seconds``, and ``create_delay`` and the speech timings.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from pathlib import Path

from pydantic import TypeAdapter

from .app import SandboxApp
from .guiji_models import GuijiAccountFileEntry
from .softsugar_models import AccountFileEntry

__all__ = ["SandboxApp", "build_app", "serve"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8100


logger = logging.getLogger("rooms.sandbox")


def build_app(
    *, accounts_file: str | Path | None = None, verbose: bool = False, mqtt_url: str | None = None
) -> SandboxApp:
    """A fresh application, with the accounts of ``accounts_file`` provisioned."""
    app = SandboxApp(verbose=verbose, mqtt_url=mqtt_url)
    if accounts_file:
        raw = json.loads(Path(accounts_file).read_text(encoding="utf-8"))
        # Each vendor reads its own entries; the others carry other credentials.
        mine = [entry for entry in raw if isinstance(entry, dict) and entry.get("kind") == "softsugar"]
        app.softsugar.provision_all(TypeAdapter(list[AccountFileEntry]).validate_python(mine))
        for entry in raw:
            if isinstance(entry, dict) and entry.get("kind") == "guiji":
                _provision_guiji(app, entry)
            if isinstance(entry, dict) and entry.get("kind") == "metastudio":
                _provision_metastudio(app, entry)
    return app


def _provision_metastudio(app: SandboxApp, entry: dict[str, object]) -> None:
    """A MetaStudio account as LiveDeck's demo data names its credentials (access_key, ...)."""
    fields = {
        "ak": entry.get("access_key"),
        "sk": entry.get("secret_key"),
        "project_id": entry.get("project_id"),
    }
    if entry.get("iam_token"):
        fields["token"] = entry["iam_token"]
    try:
        app.metastudio.provision_all([{"kind": "metastudio", **fields}])
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        logger.warning("skipped a MetaStudio account without usable keys: %s", exc)


def _provision_guiji(app: SandboxApp, entry: dict[str, object]) -> None:
    try:
        account = GuijiAccountFileEntry.model_validate(entry)
        app.guiji.provision_all([account])
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        logger.warning("skipped a Guiji account without usable app_id/app_secret: %s", exc)


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    accounts_file: str | Path | None = None,
    *,
    verbose: bool = False,
    mqtt_url: str | None = None,
) -> None:
    """Serve the sandbox with daphne until interrupted; Guiji speaks MQTT through ``mqtt_url``."""
    from daphne.server import Server

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(asctime)s %(message)s")
    app = build_app(accounts_file=accounts_file, verbose=verbose, mqtt_url=mqtt_url)
    interface = host.replace(":", r"\:")

    def ready() -> None:
        # daphne has made its asyncio loop current; connect before the first request needs it.
        app.startup(asyncio.get_event_loop())
        # Everything loaded so far lives as long as the sandbox: kept out of the collector's full
        # passes, which otherwise took up to 45 ms each while a takeover waited on the sandbox.
        gc.freeze()
        print(f"sandbox listening on http://{host}:{port}", flush=True)

    server = Server(
        application=app,
        endpoints=[f"tcp:port={port}:interface={interface}"],
        verbosity=1 if verbose else 0,
        ready_callable=ready,
    )
    server.run()
    if server.abort_start:
        raise SystemExit(1)

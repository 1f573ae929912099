"""MetaStudio sandbox against the official Python SDK (huaweicloudsdkmetastudio), unmodified.

The SDK signs with AK/SK itself; ``with_endpoint`` takes a plain ``http://`` URL as it is (it only
adds https:// to an endpoint that has no scheme), and no region is needed when an endpoint is given.
"""

from __future__ import annotations

import json

import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkmetastudio.v1 import (
    BackgroundConfigInfo,
    ControlSmartLiveReq,
    CreateSmartLiveRoomReq,
    CreateSmartLiveRoomRequest,
    ExecuteSmartLiveCommandRequest,
    ListInsertCommandsRequest,
    ListSmartLiveJobsRequest,
    LiveEvent,
    LiveEventCallBackConfig,
    LiveEventReportRequest,
    LiveShootScriptItem,
    LiveVideoScriptInfo,
    MetaStudioClient,
    PlayPolicy,
    ReportLiveEventReq,
    ShowSmartLiveRequest,
    ShowSmartLiveRoomRequest,
    StartSmartLiveReq,
    StartSmartLiveRequest,
    StopSmartLiveRequest,
    TextConfig,
    VoiceConfig,
)

from .conftest import wait_until
from .test_metastudio_support import AK, FAST, PROJECT, SK


@pytest.fixture
def client(sandbox_url: str, control: httpx.Client) -> MetaStudioClient:
    control.put("/_sandbox/config", json=FAST)
    credentials = BasicCredentials(AK, SK, PROJECT)
    return MetaStudioClient.new_builder().with_credentials(credentials).with_endpoint(sandbox_url).build()


def _room() -> CreateSmartLiveRoomReq:
    text = "".join(f"第{i}句话。" for i in range(30))
    return CreateSmartLiveRoomReq(
        room_name="SDK 直播间",
        scene_scripts=[
            LiveVideoScriptInfo(
                script_name="场景一",
                model_asset_id="a5d295cdb345c11bd9f36bc22ced3a7a",
                voice_config=VoiceConfig(voice_asset_id="a5d295cdb345c11bd9f36bc22ced3a7a", speed=100),
                background_config=[BackgroundConfigInfo(background_type="IMAGE", background_config="bg-1")],
                shoot_scripts=[
                    LiveShootScriptItem(sequence_no=1, title="开场", text_config=TextConfig(text=text))
                ],
            )
        ],
        play_policy=PlayPolicy(repeat_count=-1, random_play_mode="NONE"),
        live_event_callback_config=LiveEventCallBackConfig(
            live_event_type_callback_url="https://example.com/cb", auth_type="NONE", callback_event_type=[]
        ),
    )


def test_the_official_sdk_runs_a_live_end_to_end(client: MetaStudioClient, control: httpx.Client) -> None:
    room_id = client.create_smart_live_room(CreateSmartLiveRoomRequest(body=_room())).room_id
    room = client.show_smart_live_room(ShowSmartLiveRoomRequest(room_id=room_id))
    assert room.room_name == "SDK 直播间" and room.scene_scripts[0].shoot_scripts[0].title == "开场"

    started = client.start_smart_live(StartSmartLiveRequest(room_id=room_id, body=StartSmartLiveReq()))
    job_id = started.job_id
    assert started.rtc_room_info.users[0].user_type == "PLAYER"
    assert started.live_event_report_url.startswith("http://")
    wait_until(
        lambda: (
            client.show_smart_live(ShowSmartLiveRequest(room_id=room_id, job_id=job_id)).state == "PROCESSING"
        )
    )

    params = {"text_config": {"text": "欢迎新朋友。"}, "play_type": "APPEND"}
    command = client.execute_smart_live_command(
        ExecuteSmartLiveCommandRequest(
            room_id=room_id,
            job_id=job_id,
            body=ControlSmartLiveReq(command="INSERT_PLAY_SCRIPT", params=params),
        )
    )
    assert command.command == "INSERT_PLAY_SCRIPT" and command.result == "SUCCESS" and command.command_id

    listed = client.list_insert_commands(ListInsertCommandsRequest(room_id=room_id, job_id=job_id, limit=10))
    assert listed.count == 1
    assert (listed.insert_commands[0].command_id, listed.insert_commands[0].source) == (
        command.command_id,
        "EXTERNAL",
    )
    assert listed.insert_commands[0].params == params

    playing = client.execute_smart_live_command(
        ExecuteSmartLiveCommandRequest(
            room_id=room_id, job_id=job_id, body=ControlSmartLiveReq(command="GET_CURRENT_PLAYING_SCRIPTS")
        )
    )
    assert json.loads(playing.result)["scene_scripts"][0]["script_name"] == "场景一"

    report = ReportLiveEventReq(
        total=1, events=[LiveEvent(timestamp=1694481224245, type=1, content=json.dumps({"content": "hi"}))]
    )
    reported = client.live_event_report(LiveEventReportRequest(room_id=room_id, job_id=job_id, body=report))
    assert reported.live_event_report_url
    assert control.get(f"/_sandbox/metastudio/jobs/{job_id}").json()["events"]["total"] == 1

    jobs = client.list_smart_live_jobs(ListSmartLiveJobsRequest(state="PROCESSING"))
    assert [job.job_id for job in jobs.smart_live_jobs] == [job_id]

    client.stop_smart_live(StopSmartLiveRequest(room_id=room_id, job_id=job_id))
    ended = client.show_smart_live(ShowSmartLiveRequest(room_id=room_id, job_id=job_id))
    assert ended.state == "SUCCEED" and ended.end_time


def test_sdk_errors_carry_the_vendor_error_code(client: MetaStudioClient) -> None:
    room_id = client.create_smart_live_room(CreateSmartLiveRoomRequest(body=_room())).room_id
    job_id = client.start_smart_live(StartSmartLiveRequest(room_id=room_id, body=StartSmartLiveReq())).job_id
    client.stop_smart_live(StopSmartLiveRequest(room_id=room_id, job_id=job_id))
    with pytest.raises(ClientRequestException) as raised:
        client.stop_smart_live(StopSmartLiveRequest(room_id=room_id, job_id=job_id))
    assert raised.value.status_code == 400
    assert raised.value.error_code == "MSS.00000003" and "already ended" in raised.value.error_msg


def test_the_sdk_with_a_wrong_secret_gets_401(sandbox_url: str, control: httpx.Client) -> None:
    credentials = BasicCredentials(AK, "wrong", PROJECT)
    client = MetaStudioClient.new_builder().with_credentials(credentials).with_endpoint(sandbox_url).build()
    with pytest.raises(ClientRequestException) as raised:
        client.list_smart_live_jobs(ListSmartLiveJobsRequest())
    assert (raised.value.status_code, raised.value.error_code) == (401, "MSS.00000001")

"""MetaStudio in the producer's forms: the document's ranges are form errors, not vendor 400s."""

from __future__ import annotations

from typing import Any

import pytest
from django.forms.models import model_to_dict
from django.urls import reverse

from rooms.forms import LayerFormSet, ParagraphFormSet, RoomForm, RuleFormSet, ScriptForm
from rooms.models import InteractionRule, PlatformAccount, Room, ScriptLayer
from tests.factories import AccountFactory, RoomFactory, ScriptFactory, UserFactory
from tests.rooms.test_views import formset_management

pytestmark = pytest.mark.django_db


def metastudio_room(**script: Any) -> Room:
    account = AccountFactory(kind=PlatformAccount.Kind.METASTUDIO)
    defaults = {"ms_model_asset_id": "anchor-1", "ms_voice_asset_id": "voice-1"}
    return RoomFactory(account=account, script=ScriptFactory(**(defaults | script)))


def room_form(room: Room, **overrides: Any) -> RoomForm:
    form = RoomForm(instance=room)
    data = {k: v for k, v in model_to_dict(room, fields=list(form.fields)).items() if v is not None}
    data["hosts"] = []
    return RoomForm(data | overrides, instance=room)


def test_a_metastudio_room_form_shows_only_what_metastudio_reads() -> None:
    form = RoomForm(instance=metastudio_room())

    assert {"ms_play_type", "stream_key", "callback_auth", "push_urls"} <= set(form.fields)
    assert not {"anchor_scene", "cutin_flag", "qa_library", "external_rtc"} & set(form.fields)


def test_a_softsugar_room_form_leaves_out_the_other_vendors_fields() -> None:
    form = RoomForm(instance=RoomFactory())

    assert "qa_library" in form.fields
    assert not {"ms_play_type", "stream_key", "anchor_scene", "push_urls"} & set(form.fields)


def test_a_valid_metastudio_room_saves() -> None:
    room = metastudio_room()

    form = room_form(room, push_urls="rtmp://live.example.com/app", stream_key="key-1")

    assert form.is_valid(), form.errors


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("resolution_width", 720, "1080 x 1920 or 1920 x 1080"),
        ("push_urls", "rtmp://a.example.com/x\nrtmp://b.example.com/y", "one RTMP URL"),
        ("backup_anchor_ids", "\n".join(f"anchor-{n}" for n in range(6)), "At most 5"),
    ],
)
def test_a_metastudio_room_outside_the_documents_ranges_is_a_form_error(
    field: str, value: Any, message: str
) -> None:
    form = room_form(metastudio_room(), **{field: value})

    assert not form.is_valid()
    assert message in str(form.errors)


def test_a_metastudio_room_needs_the_scripts_anchor_and_voice_assets() -> None:
    form = room_form(metastudio_room(ms_voice_asset_id=""))

    assert not form.is_valid()
    assert "a voice asset id" in str(form.errors["script"])


def test_script_voice_ranges_follow_metastudio() -> None:
    data = {k: v for k, v in model_to_dict(ScriptFactory.build()).items() if k != "id"}

    form = ScriptForm(data | {"ms_voice_speed": 201, "ms_voice_volume": 80})

    assert not form.is_valid()
    assert set(form.errors) == {"ms_voice_speed", "ms_voice_volume"}


def formset_data(prefix: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    data = formset_management(prefix, total=len(rows))
    for index, row in enumerate(rows):
        data |= {f"{prefix}-{index}-{name}": value for name, value in row.items()}
    return data


LAYER = {"kind": "IMAGE", "x": 0, "y": 0, "width": 300, "height": 300, "layer_index": 10}
LAYER |= {"loop_count": -1, "font_name": "HarmonyOS_Sans_SC_Black", "font_size": 16, "font_color": "#FFFFFF"}


def test_a_text_layer_longer_than_the_vendors_base64_limit_is_refused() -> None:
    script = ScriptFactory()
    rows = [LAYER | {"kind": "TEXT", "text": "字" * 257}]

    formset = LayerFormSet(formset_data("layers", rows), instance=script, prefix="layers")

    assert not formset.is_valid()
    assert "768 bytes" in str(formset.errors)


def test_an_image_layer_needs_its_url() -> None:
    formset = LayerFormSet(formset_data("layers", [LAYER]), instance=ScriptFactory(), prefix="layers")

    assert not formset.is_valid()
    assert "needs its URL" in str(formset.errors)


def test_a_rule_with_a_broken_pattern_is_a_form_error() -> None:
    room = metastudio_room()
    rows = [{"name": "Price", "enabled": "on", "event_type": 1, "tag": "content", "match": "REGEX"}]
    rows[0] |= {"value": "price(", "reply_texts": "See the pinned link.", "reply_order": "RANDOM"}
    rows[0] |= {"time_window": 0, "priority": 500}

    formset = RuleFormSet(formset_data("rules", rows), instance=room, prefix="rules")

    assert not formset.is_valid()
    assert "Not a valid pattern" in str(formset.errors)


def test_a_rule_replies_at_most_five_times() -> None:
    rule = InteractionRule(name="x", match="EQUAL", value="hi", reply_texts="\n".join("abcdef"))

    with pytest.raises(Exception, match="At most 5 replies"):
        rule.clean()


def test_a_producer_saves_paragraphs_and_layers_with_the_script(client: Any) -> None:
    producer = UserFactory(roles=["producer"])
    client.force_login(producer)
    script = ScriptFactory()
    data = {k: v for k, v in model_to_dict(script).items() if k != "id" and v is not None}
    data |= formset_data("paragraphs", [{"position": 0, "title": "Hello", "text": "Welcome, all of you."}])
    data |= formset_data("layers", [LAYER | {"kind": "TEXT", "text": "Sale tonight"}])

    response = client.post(reverse("script-edit", args=[script.pk]), data)

    assert response.status_code == 302, response.content.decode()[:2000]
    assert [p.text for p in script.paragraphs.all()] == ["Welcome, all of you."]
    assert list(script.layers.values_list("kind", "text")) == [(ScriptLayer.Kind.TEXT, "Sale tonight")]


def test_a_bad_paragraph_saves_nothing_of_the_script(client: Any) -> None:
    producer = UserFactory(roles=["producer"])
    client.force_login(producer)
    script = ScriptFactory(name="Before")
    data = {k: v for k, v in model_to_dict(script).items() if k != "id" and v is not None}
    data |= {"name": "After"} | formset_management("layers")
    data |= formset_data("paragraphs", [{"position": 0, "title": "x" * 300, "text": "Hi there"}])

    response = client.post(reverse("script-edit", args=[script.pk]), data)

    assert response.status_code == 200
    assert "Some rows need a fix" in response.content.decode()
    script.refresh_from_db()
    assert script.name == "Before"
    assert not script.paragraphs.exists()


def test_paragraph_formset_orders_by_position() -> None:
    script = ScriptFactory()
    rows = [{"position": 2, "title": "", "text": "Second"}, {"position": 1, "title": "", "text": "First"}]
    formset = ParagraphFormSet(formset_data("paragraphs", rows), instance=script, prefix="paragraphs")
    assert formset.is_valid(), formset.errors
    formset.save()

    assert [p.text for p in script.paragraphs.all()] == ["First", "Second"]

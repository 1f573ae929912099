"""Matching reported live events against a job's interaction rules (表17 - 表20 of
metastudio-create-smart-live-room.txt, "Live events" of the notes).

Choices where the document is silent, kept deliberately:

* A tag names a field of the event's content: a top-level key first, else a key of a nested object
  (``level`` is found in ``user``, ``giftNum`` in ``gift``); a dotted path (``user.level``) also works.
* SUM, AVG and COUNT accumulate over the events of the rule's type since the rule last fired.
* At most one rule fires per event: the matching rule with the lowest ``priority`` that its
  ``time_window`` allows. RESERVED rules answer only events no other rule matched.
* ``reply_order`` absent means ORDER.
"""

from __future__ import annotations

import json
import operator
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .metastudio_models import HitConditionTag, LiveEvent, LiveRoomInteractionRuleInfo, SmartLayerConfig
from .metastudio_state import RuleState

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "MATH_GT": operator.gt,
    "MATH_GE": operator.ge,
    "MATH_LT": operator.lt,
    "MATH_LE": operator.le,
    "MATH_EQ": operator.eq,
}


@dataclass
class RuleHit:
    """What a fired rule asks the live to do."""

    index: int
    rule: LiveRoomInteractionRuleInfo
    reply_text: str | None = None
    reply_audio: str | None = None
    layers: list[SmartLayerConfig] = field(default_factory=list)

    @property
    def rule_index(self) -> str:
        return self.rule.rule_index or str(self.index)


def event_content(event: LiveEvent) -> dict[str, Any]:
    value = json.loads(event.content or "{}")
    return value if isinstance(value, dict) else {}


def field_value(content: dict[str, Any], tag: str | None) -> Any:
    if not tag:
        return None
    if "." in tag:
        value: Any = content
        for part in tag.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value
    if tag in content:
        return content[tag]
    for nested in content.values():
        if isinstance(nested, dict) and tag in nested:
            return nested[tag]
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def tag_matches(tag: HitConditionTag, value: Any) -> bool:
    if value is None:
        return False
    if tag.match is None:
        return True
    if tag.match == "EQUAL":
        return _text(value) == (tag.value or "")
    if tag.match == "REGEX":
        return re.search(tag.value or "", _text(value)) is not None
    number = _number(value)
    return number is not None and _COMPARE[tag.match](number, float(tag.value or "0"))


def _evaluate(rule: LiveRoomInteractionRuleInfo, content: dict[str, Any], state: RuleState) -> bool:
    """Update the rule's accumulators with this event and say whether its condition holds."""
    condition = rule.hit_condition
    tags = (condition.tags if condition else None) or []
    state.count += 1
    results = []
    for position, tag in enumerate(tags):
        raw = field_value(content, tag.tag)
        value: Any = raw
        if tag.operation in ("SUM", "AVG"):
            state.sums[position] = state.sums.get(position, 0.0) + (_number(raw) or 0.0)
            value = state.sums[position] if tag.operation == "SUM" else state.sums[position] / state.count
        elif tag.operation == "COUNT":
            value = state.count
        results.append(tag_matches(tag, value))
    relation = condition.relation if condition else None
    if relation == "OR":
        return any(results) if results else True
    return all(results)


def _allowed(rule: LiveRoomInteractionRuleInfo, state: RuleState, now: float) -> bool:
    window = rule.trigger.time_window if rule.trigger else None
    if not window or not state.fired_at:
        return True
    if window == -1:
        return False
    return now - state.fired_at[-1] >= window


def _priority(rule: LiveRoomInteractionRuleInfo) -> int:
    """Lower is stronger; 500 when the rule gives none (HitCondition.priority's default)."""
    return rule.hit_condition.priority if rule.hit_condition is not None else 500


def _applies(rule: LiveRoomInteractionRuleInfo, event: LiveEvent, scene_name: str | None) -> bool:
    if not rule.enabled or rule.event_type != event.type or rule.trigger is None:
        return False
    return not rule.enabled_scenes or scene_name in rule.enabled_scenes


def match_event(
    rules: list[LiveRoomInteractionRuleInfo],
    states: dict[int, RuleState],
    event: LiveEvent,
    *,
    scene_name: str | None,
    now: float,
) -> RuleHit | None:
    """The rule this event fires (its state updated as fired), or None."""
    content = event_content(event)
    matched: list[int] = []
    reserved: list[int] = []
    for index, rule in enumerate(rules):
        if not _applies(rule, event, scene_name):
            continue
        state = states.setdefault(index, RuleState())
        if rule.hit_condition is not None and rule.hit_condition.relation == "RESERVED":
            reserved.append(index)
        elif _evaluate(rule, content, state):
            matched.append(index)
    for candidates in (matched, reserved):
        allowed = [i for i in candidates if _allowed(rules[i], states[i], now)]
        if allowed:
            chosen = min(allowed, key=lambda i: _priority(rules[i]))
            return _fire(chosen, rules[chosen], states[chosen], now)
    return None


def _fire(index: int, rule: LiveRoomInteractionRuleInfo, state: RuleState, now: float) -> RuleHit:
    state.fired_at.append(now)
    state.count = 0
    state.sums.clear()
    trigger = rule.trigger
    assert trigger is not None  # _applies() only lets rules with a trigger through
    hit = RuleHit(index=index, rule=rule)
    hit.layers = [layer for layer in (trigger.layer_config, trigger.extra_layer_config) if layer is not None]
    if trigger.reply_mode not in ("SYSTEM_REPLY", "SYSTEM_REPLY_AND_CALLBACK"):
        return hit
    texts = [text for text in trigger.reply_texts or [] if text]
    audios = [audio.audio_url for audio in trigger.reply_audios or [] if audio.audio_url]
    choices: list[str] = texts or audios
    if not choices:
        return hit
    if trigger.reply_order == "RANDOM":
        chosen = random.choice(choices)
    else:
        chosen = choices[state.next_reply % len(choices)]
        state.next_reply += 1
    if texts:
        hit.reply_text = chosen
    else:
        hit.reply_audio = chosen
    return hit

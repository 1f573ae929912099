"""Q&A libraries for "Live NLP Q&A": the vendor's matching model, approximated by keyword overlap.

Real libraries are set up on the vendor's web console; the sandbox provisions them through
``PUT /_sandbox/softsugar/qa/{appId}`` and ships one demo library, ``demo-qa``.
"""

from __future__ import annotations

import re

from .softsugar_models import QaPair

DEMO_APP_ID = "demo-qa"

DEMO_PAIRS = [
    QaPair(question="运费多少 包邮吗", answer="本店全场包邮, 偏远地区除外。"),
    QaPair(question="怎么退货 可以退换吗", answer="七天无理由退换, 在订单页点击申请退货即可。"),
    QaPair(question="什么时候发货", answer="下单后四十八小时内发货。"),
    QaPair(question="How much is shipping?", answer="Shipping is free on every order."),
    QaPair(
        question="How do I return an item?", answer="Returns are free within seven days, from the order page."
    ),
]

_LATIN_WORD = re.compile(r"[a-z0-9]+")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
_STOP_WORDS = {"a", "an", "the", "is", "do", "i", "to", "of", "how", "what", "much", "can", "you", "it"}


def keywords(text: str) -> set[str]:
    """Latin words (minus stop words) and Chinese character bigrams."""
    lowered = text.lower()
    words = {word for word in _LATIN_WORD.findall(lowered) if word not in _STOP_WORDS}
    for run in _CJK_RUN.findall(lowered):
        words.update(run[i : i + 2] for i in range(max(1, len(run) - 1)))
    return words


class QaLibraries:
    """Q&A libraries by appId."""

    def __init__(self) -> None:
        self._libraries: dict[str, list[QaPair]] = {}
        self.reset()

    def reset(self) -> None:
        self._libraries = {DEMO_APP_ID: list(DEMO_PAIRS)}

    def put(self, app_id: str, pairs: list[QaPair]) -> None:
        self._libraries[app_id] = list(pairs)

    def has(self, app_id: str) -> bool:
        return app_id in self._libraries

    def answer(self, app_id: str, query: str) -> str:
        """The answer whose question shares the most keywords with ``query``; "" when none does."""
        wanted = keywords(query)
        best, best_score = "", 0
        for pair in self._libraries[app_id]:
            score = len(wanted & keywords(pair.question))
            if score > best_score:
                best, best_score = pair.answer, score
        return best

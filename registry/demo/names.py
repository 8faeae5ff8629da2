"""Fictional names for the demo's people and villages: a common surname, the placeholder 某 and a cyclic
character, then the demo mark, so no generated name can be a real person's; with their pinyin for the roll's search."""

from __future__ import annotations

import functools

import numpy as np
from pypinyin import lazy_pinyin

from registry.demo.figures import DEMO_MARK

__all__ = ["GIVEN", "SURNAMES", "UNKNOWN_NAME", "core_name", "fictional_name", "name_table", "unknown_pinyin",
           "village"]

# Fictional people: a common surname, the placeholder 某 and a cyclic character (甲乙丙…子丑寅…), then
# the demo mark. Names built like this cannot be a real person's; 曾 and other surnames with a second
# reading are left out so the pinyin of the name is unambiguous.
SURNAMES = "张王李陈林黄刘吴邱罗赖钟谢温傅蓝廖郭江卢范杨邓何"
GIVEN = "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥"
UNKNOWN_NAME = "无名烈士"

VILLAGE_A = "上下新大小东西南北中"
VILLAGE_B = "坑岭田溪坪塘坊洋坝垅"


def fictional_name(surname_index: int, given_index: int) -> str:
    """Return the fictional demo name for a surname and given-character index.

    Parameters
    ----------
    surname_index : int
        Index into ``SURNAMES`` (taken modulo its length).
    given_index : int
        Index into ``GIVEN`` (taken modulo its length).

    Returns
    -------
    str
        A name such as ``陈某甲（示例）``: surname, the placeholder 某, a cyclic character and the demo mark.

    Example
    -------
    >>> fictional_name(3, 0)
    '陈某甲（示例）'
    """
    return core_name(surname_index % len(SURNAMES), given_index % len(GIVEN)) + DEMO_MARK


def core_name(s: int, g: int) -> str:
    return f"{SURNAMES[s]}某{GIVEN[g]}"


@functools.cache
def name_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Names, full pinyin and initials of every surname x given combination (a few hundred)."""
    names, pinyin, initials = [], [], []
    for s in range(len(SURNAMES)):
        for g in range(len(GIVEN)):
            core = core_name(s, g)
            syllables = lazy_pinyin(core)
            names.append(core + DEMO_MARK)
            pinyin.append("".join(syllables))
            initials.append("".join(p[0] for p in syllables))
    return np.array(names, object), np.array(pinyin, object), np.array(initials, object)


@functools.cache
def unknown_pinyin() -> tuple[str, str]:
    syllables = lazy_pinyin(UNKNOWN_NAME)
    return "".join(syllables), "".join(p[0] for p in syllables)


def village(rng) -> str:
    a, b = rng.integers(len(VILLAGE_A)), rng.integers(len(VILLAGE_B))
    return f"{VILLAGE_A[a]}{VILLAGE_B[b]}村"

"""Work side by side on a few lanes, each lane one resource (a database session, a GX data
source) that only its own thread uses: the engines' full runs (CHECK_SESSIONS)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, TypeVar

Item = TypeVar("Item")
Lane = TypeVar("Lane")
Out = TypeVar("Out")


def map_on_lanes(items: Iterable[Item], lanes: int, open_lane: Callable[[], Lane],
                 work: Callable[[Lane, Item], Out],
                 close_lane: Callable[[Lane], object] = lambda _: None) -> list[Out]:
    """``work(lane, item)`` for every item, the results in the items' order. With ``lanes`` > 1
    each worker thread takes the next item when it is free; its lane is opened at its first item
    (never shared between threads) and every lane is closed at the end, whatever happened. With
    one lane the items run in order in the caller's thread."""
    items = list(items)
    local = threading.local()
    opened: list[Lane] = []
    lock = threading.Lock()

    def run(item: Item) -> Out:
        if not hasattr(local, "lane"):
            local.lane = open_lane()
            with lock:
                opened.append(local.lane)
        return work(local.lane, item)

    try:
        if lanes <= 1 or len(items) <= 1:
            return [run(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(lanes, len(items)),
                                thread_name_prefix="sge-recon-lane") as pool:
            return list(pool.map(run, items))
    finally:
        for lane in opened:
            close_lane(lane)

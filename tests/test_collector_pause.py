"""`collector_paused` (store/jsontext.py): many objects parsed while the cycle collector is
off (a long log's events) are not all walked by a young collection when it is on again,
and a reference cycle made meanwhile is still collected."""

from __future__ import annotations

import gc
import weakref

from promptver.store.jsontext import collector_paused


class _Node:
    pass


def test_many_new_objects_are_not_walked_young_and_cycles_are_still_found() -> None:
    assert gc.isenabled()
    gc.collect()
    with collector_paused():
        assert not gc.isenabled()
        kept = [{"seq": n, "new": {"digest": str(n)}} for n in range(150_000)]
        node = _Node()
        node.loop = node  # type: ignore[attr-defined]
        gone = weakref.ref(node)
        del node
    assert gc.isenabled()
    assert gc.get_count()[0] < 1_000  # nothing left for a young pass to walk
    assert kept[-1]["new"]["digest"] == "149999"
    gc.collect()
    assert gone() is None  # a cycle made in the pause is still collected


def test_a_short_pause_leaves_the_collector_as_it_was() -> None:
    gc.collect()
    with collector_paused():
        small = [{} for _ in range(10)]
    assert gc.isenabled() and small
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # off before: off after
    finally:
        gc.enable()

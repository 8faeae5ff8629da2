"""One helper that pauses Python's cyclic garbage collector around a bulk read or write.

The registry's big loops (a county's due list of 20,000 facilities, a 100,000-row relocation ledger read and
imported) allocate many small objects that form no reference cycles. With the collector on, the allocations
make it walk the growing heap again and again for nothing; pausing it keeps the cost linear (measured in
``bench/``). No Flask, no store: the services and ``registry.files`` use it alike.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic collector for the ``with`` block.

    Whoever found it on turns it back on, so overlapping requests leave it as they found it.

    >>> import gc
    >>> with gc_paused():
    ...     gc.isenabled()
    False
    >>> gc.isenabled()
    True
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()

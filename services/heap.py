"""Long-running processes and Python's cyclic garbage collector."""

from __future__ import annotations

import gc


def settle() -> None:
    """Once a long-running process has made what it keeps for good (its modules, its application, the fonts),
    move all of it out of the cyclic garbage collector's sight (`gc.freeze`), so that the collector's full passes
    walk only what the work makes and drops.

    Each full pass walks every tracked object and holds the GIL throughout: under the commands benchmark a web
    worker's passes (about 180,000 objects, most made at start) stopped its threads for 0.1 to 0.3 s every 10 to 20 s,
    and the projector's (about 80,000) stopped it for 35 to 170 ms, every event waiting meanwhile. What is garbage
    already is collected first, not frozen with the rest.
    """
    gc.collect()
    gc.freeze()

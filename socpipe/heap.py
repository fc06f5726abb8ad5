"""Keep a process's long-lived objects (a loaded rule set) out of the garbage collector's way.

CPython's cyclic collector walks every tracked object of a generation when it collects it. After a
detector loads its 2,858 Windows rules the heap holds some 160,000 such objects (closures, cells,
tuples, compiled rules) that live as long as the rule set; each full collection walked them all,
about 0.1-0.2 s on this project's machine, once every ~100,000 events of a running detector
(benchmarks/engine-results.md, session 7). None of them is garbage until the rules are replaced.

`settle()` is called once the long-lived state is built and again after it was replaced (a rule
reload): objects frozen by the previous call are handed back to the collector (the replaced rule set
holds reference cycles, e.g. a rule's matcher bound to the rule, which only the collector frees), one
full collection frees what is garbage now, and everything still alive is frozen (`gc.freeze`): later
collections skip it. Refcounting still frees a frozen object that is no longer referenced; only a
frozen object in a reference cycle waits for the next `settle()`.

It also raises the youngest generation's threshold (GC_THRESHOLDS): with the default of 700 net
container allocations, the objects a detector keeps while it runs (buckets and matchers built on first
use, memoised values) climb the generations and bring a full collection round about every 100,000
events; at 10,000 that is about every 5 million (measured: 38 young, 3 middle and 1 full collection
per 100,000 steady-state events before, 2, 0 and 0 after). Young garbage cycles then wait for up to
10,000 allocations before they are freed: a few MB at most.
"""

from __future__ import annotations

import gc

GC_THRESHOLDS = (10_000, 10, 10)  # net allocations per young collection; young / middle collections per next


def settle(*, collect: bool = True) -> None:
    """Free what is garbage now and freeze what is alive (see the module doc); call after building
    or replacing a process's long-lived state, never on a hot path (one full collection).

    `collect=False` skips the full collection where the caller knows there is next to no garbage to
    free: a first rule set read from the rule cache leaves about 20 unreachable objects (one parsed by
    pySigma about 300,000, which must not be frozen), and the collection costs 0.05-0.08 s, a tenth
    of a warm `socpipe scan` start-up."""
    gc.unfreeze()
    if collect:
        gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)

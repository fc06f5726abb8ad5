"""The engine's intermediate form of a rule condition: plain tuples, strings and numbers.

pySigma's objects are slow to build (parsing) and slow to unpickle; closures cannot be pickled at
all. This form sits between them: lower.py makes it from pySigma once, the rule cache stores it, and
conditions.py turns it into matcher closures in a few milliseconds per hundred rules.

Nodes:
    ("and", (node, ...)) / ("or", (node, ...)) / ("not", node)
    ("field", field, names, (value, ...))      any of the values (OR) on the first present name
    ("null", field, names)                     the field is missing, null or empty
    ("exists", field, names, want)             the field is present (want=True) or absent
    ("ref", field, names, other_names, startswith, endswith)   compared with another field
    ("keyword", (value, ...))                  any value of the event matches one of the values
Values:
    ("s", cased, parts)     a string; parts are str, ANY ('*'), ONE ('?') or ("%", placeholder name)
    ("re", pattern, flags)  ("n", number)  ("cmp", op name, number)  ("cidr", network)
    ("b", bool)             ("ts", timestamp part name, number)
"""

from __future__ import annotations

from typing import Any

IR_VERSION = 1  # bump when the shape above changes: cached rule sets of another version are rebuilt
ANY = 1  # '*' in a string value
ONE = 2  # '?' in a string value
IrNode = tuple[Any, ...]
# What reading a field the event does not hold gives (matchers.getter): not None, which a present
# field may hold (an alias holding null is present, and wins over the next alias).
MISSING: Any = object()
Value = tuple[Any, ...]

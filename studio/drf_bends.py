"""Where Studio uses Django REST framework other than as documented, and why (DRF 3.18).

One serializer instance of each kind per thread, validating one request after another.
DRF builds a serializer's fields afresh for every new instance (`Serializer.get_fields`
deep-copies every declared field, nested serializers and their fields included), and on the
agents' endpoints that copy was a large share of a pushMessage's cost (bench/findings.md#library-bends; bench/push_cost.py
measures it). DRF has no public way to validate
new data with an instance that validated before, so the caches `is_valid` fills are emptied by
hand before each call.

What this relies on, checked by tests/test_library_bends.py against the installed DRF:
`is_valid` validates `initial_data` only while `_validated_data` is unset, and keeps its
results in `_validated_data`, `_errors` and `_data`; nothing else of a call stays on the
instance (`fields` and `_validators` are built once from the class alone: what reuse saves).
"""

import threading

# The DRF version (major, minor) this was written for and checked against.
WRITTEN_FOR = (3, 18)

# What a validation leaves on the instance, emptied before the next one.
VALIDATION_CACHES = ("_validated_data", "_errors", "_data")

_per_thread = threading.local()


def validated(serializer_class, data):
    """`serializer_class(data=data).validated_data` once `is_valid(raise_exception=True)` passed,
    validated by this thread's instance of the class."""
    serializer = _per_thread.__dict__.get(serializer_class)
    if serializer is None:
        serializer = _per_thread.__dict__[serializer_class] = serializer_class()
    for cache in VALIDATION_CACHES:
        serializer.__dict__.pop(cache, None)
    serializer.initial_data = data
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data

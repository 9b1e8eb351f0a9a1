"""Per-vessel rules: each a pure ``check(old, new, report, ctx) -> (new, findings)``.

``old`` is the track before the report (``None`` for a vessel first seen), ``new`` the track
with the report absorbed; a rule may return ``new`` with its own bookkeeping updated.
"""

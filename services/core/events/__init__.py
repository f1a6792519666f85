"""Events: what changed, for other systems and for mobile apps (issue 20).

Every change another system cares about writes an event row in the same transaction as the
change, by the database itself (``triggers``), so that no path — the API, the sync worker,
an import, raw SQL — can forget to; the events are numbered in the order their transactions
commit, so a reader that goes on from the last number it saw misses nothing.
"""

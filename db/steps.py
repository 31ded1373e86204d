"""Build steps beyond the core tables, in the order they run.

STEPS run on the new database before it is renamed into place: step(db, kb, out_path).
AFTER_STEPS run once the new database is in place: step(out_path, kb) (the search index).
A step that raises fails the build; a STEPS failure leaves the previous database untouched.
"""
STEPS: list = []
AFTER_STEPS: list = []

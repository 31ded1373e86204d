"""Record what changed between the previous database and this build."""


def record_changes(db, kb, out_path) -> None:
    """Placeholder until change tracking lands."""

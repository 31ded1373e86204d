"""The tests' one way to make a Datasette in-process: metadata.yml's content and the settings handed
to the installed Datasette in the form it reads (payerkb/datasette_config.py: metadata for 0.65,
metadata plus config for 1.0), as `payerkb serve` hands them."""
from __future__ import annotations

from pathlib import Path


def datasette(immutables=(), *, files=(), metadata: dict | None = None, settings: dict | None = None, **kwargs):
    """Datasette serving `immutables` (and mutable `files`), with `settings` (default: no facet
    suggestions). Other keyword arguments go to Datasette as they are."""
    from datasette.app import Datasette

    from payerkb.datasette_config import datasette_kwargs

    settings = {"suggest_facets": False} if settings is None else settings
    return Datasette([str(p) for p in files], immutables=[str(Path(p)) for p in immutables],
                     **datasette_kwargs(metadata, settings), **kwargs)

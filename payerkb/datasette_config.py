"""Hand metadata.yml and payerkb's serve settings to whichever Datasette is installed, in the form
it reads.

Datasette 0.65 reads everything from its metadata: descriptions and licences, but also canned
queries, table options (facets, sort, label column), plugin configuration, `allow` blocks and extra
CSS/JS. Datasette 1.0 reads only the descriptions from metadata; the rest is configuration, given
as `datasette.yaml` (`-c`) or `Datasette(config=...)`, and it reads the settings from there too.
metadata.yml stays one file in the 0.65 form; `split()` cuts it into the two 1.0 halves.

Reads the installed Datasette's version from its distribution, without importing it (so the
commands that never serve stay quick).
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

import yaml

# Datasette 1.0's configuration keys, at each level of metadata.yml (datasette.utils's
# _table_config_keys for tables, plus what every level may carry).
_ANY_LEVEL = ("plugins", "allow", "permissions")
INSTANCE_CONFIG = (*_ANY_LEVEL, "extra_css_urls", "extra_js_urls", "allow_sql")
DATABASE_CONFIG = (*_ANY_LEVEL, "queries", "allow_sql")
TABLE_CONFIG = (*_ANY_LEVEL, "hidden", "sort", "sort_desc", "size", "sortable_columns", "label_column",
                "facets", "fts_table", "fts_pk", "searchmode")

# Settings whose --setting spelling ("off") is not the value Datasette's constructor checks for.
_SWITCHES = {"on": True, "true": True, "1": True, "off": False, "false": False, "0": False}


@lru_cache(maxsize=1)
def reads_config() -> bool:
    """Does the installed Datasette read canned queries and settings from its config (1.0 and its
    alphas), rather than from metadata (0.65)?"""
    return int(version("datasette").split(".")[0]) >= 1


def split(metadata: dict) -> tuple[dict, dict]:
    """metadata.yml's content (the 0.65 form) as Datasette 1.0's (metadata, config) pair."""
    meta = {k: v for k, v in metadata.items() if k not in INSTANCE_CONFIG and k != "databases"}
    config = {k: v for k, v in metadata.items() if k in INSTANCE_CONFIG}
    for db_name, db in (metadata.get("databases") or {}).items():
        db_meta = {k: v for k, v in db.items() if k not in DATABASE_CONFIG and k != "tables"}
        db_config = {k: v for k, v in db.items() if k in DATABASE_CONFIG}
        for table_name, table in (db.get("tables") or {}).items():
            table_meta = {k: v for k, v in table.items() if k not in TABLE_CONFIG}
            table_config = {k: v for k, v in table.items() if k in TABLE_CONFIG}
            if table_meta:
                db_meta.setdefault("tables", {})[table_name] = table_meta
            if table_config:
                db_config.setdefault("tables", {})[table_name] = table_config
        if db_meta:
            meta.setdefault("databases", {})[db_name] = db_meta
        if db_config:
            config.setdefault("databases", {})[db_name] = db_config
    return meta, config


def typed_settings(settings: dict) -> dict:
    """Settings as Datasette's constructor wants them (1.0 refuses "off" for a boolean)."""
    return {k: _SWITCHES.get(v.lower(), v) if isinstance(v, str) else v for k, v in settings.items()}


def datasette_kwargs(metadata: dict | None = None, settings: dict | None = None) -> dict:
    """Keyword arguments for `Datasette(...)` carrying metadata.yml's content and the settings."""
    metadata = metadata or {}
    settings = typed_settings(settings or {})
    if not reads_config():
        return {"metadata": metadata, "settings": settings}
    meta, config = split(metadata)
    return {"metadata": meta, "config": config, "settings": settings}


def serve_options(metadata_path: Path, settings: dict) -> list[str]:
    """`datasette serve` options carrying metadata.yml and the settings: `-m metadata.yml` for 0.65;
    for 1.0 the two halves, written once (named by their content) to the temporary directory."""
    options = ["-m", str(metadata_path)]
    if reads_config():
        meta, config = split(yaml.safe_load(Path(metadata_path).read_text(encoding="utf-8")) or {})
        folder = _written({"metadata.yaml": meta, "datasette.yaml": config})
        options = ["-m", str(folder / "metadata.yaml"), "-c", str(folder / "datasette.yaml")]
    for name, value in settings.items():
        options += ["--setting", name, str(value)]
    return options


def _written(files: dict[str, dict]) -> Path:
    """A folder (named by the content, so servers never overwrite each other's) holding each data
    as a YAML file."""
    texts = {name: yaml.safe_dump(data, sort_keys=False, allow_unicode=True) for name, data in files.items()}
    digest = hashlib.sha256(repr(sorted(texts.items())).encode()).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / f"payerkb-datasette-{digest}"
    folder.mkdir(exist_ok=True)
    for name, text in texts.items():
        if not (folder / name).exists():  # a file appears whole: written beside, then renamed
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, folder / name)
    return folder

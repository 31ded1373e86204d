"""payerkb web feature: check (routes registered through payerkb/plugin.py)."""
ROUTES: list = []
NAV_LINKS: list = []

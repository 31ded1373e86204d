"""payerkb web feature: search (routes registered through payerkb/plugin.py)."""
ROUTES: list = []
NAV_LINKS: list = []

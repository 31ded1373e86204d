"""payerkb web feature: pages (routes registered through payerkb/plugin.py)."""
ROUTES: list = []
NAV_LINKS: list = []

"""payerkb's web features, one module each; the plugin (payerkb/plugin.py) registers their ROUTES
(a list of (regex, view) pairs) and NAV_LINKS (a list of (label, path) pairs for the home page)."""
from payerkb.web import answer, check, drugs, pages, search

FEATURE_MODULES: list = [pages, drugs, search, check, answer]

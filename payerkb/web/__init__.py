"""payerkb's web features, one module each; the plugin (payerkb/plugin.py) registers their ROUTES."""
FEATURE_MODULES: list = []

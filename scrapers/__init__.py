"""Fetch and parse payer pages and CMS files into records in the policies/ schema (no db/, no payerkb/ imports)."""

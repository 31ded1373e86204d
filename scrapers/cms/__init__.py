"""Parsers for the CMS quarterly files payerkb ships as reference data.

`read_file(path, kind="auto", quarter=None)` opens a ZIP, CSV, fixed-width TXT/PRN, XLS or XLSX,
tells which CMS file it is, and returns `Parsed` results (typed rows plus kind, quarter, effective
window and counts). Only HCPCS Level II rows are kept. `store` writes them to
policies/reference/cms/ (normalised CSV + manifest.yml). Pure parsing: no network here.
"""
from scrapers.cms.common import CMSFileError, Parsed
from scrapers.cms.kinds import KINDS, ReadResult, read_file

__all__ = ["CMSFileError", "KINDS", "Parsed", "ReadResult", "read_file"]

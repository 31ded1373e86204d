"""payerkb web feature: drugs billed on NOC codes, /-/drugs and /-/drugs/<drug-id>, each with a
JSON twin (.json). The data comes from payerkb.drug_queries; the payer, code and matrix pages show
the drug rules too (payerkb/web/pages.py)."""
from __future__ import annotations

from datasette.utils.asgi import Response

import payerkb.drug_queries as drug_queries
from payerkb.web.pages import NotFound, _html, _json, _query, _view, kb_database


@_view
async def drug_list(request, datasette, fmt):
    data = await _query(datasette, drug_queries.drug_list)
    return _json(data) if fmt == ".json" else await _html(datasette, request, "drugs.html", data)


@_view
async def drug(request, datasette, fmt):
    drug_id = request.url_vars["drug_id"]
    data = await _query(datasette, drug_queries.drug_page, drug_id)
    if data is None:
        found = await _query(datasette, drug_queries.drug_for_ndc, drug_id)
        if found:  # /-/drugs/<an NDC in any form> leads to the drug that has it
            return Response.redirect(datasette.urls.path(f"/-/drugs/{found}{fmt or ''}"))
        raise NotFound(f"No drug with id or NDC {drug_id!r}. The drugs page lists every drug.")
    data["database_path"] = datasette.urls.database(kb_database(datasette).name)
    return _json(data) if fmt == ".json" else await _html(datasette, request, "drug.html", data)


ROUTES: list = [
    (r"^/-/drugs(?P<format>\.json)?$", drug_list),
    (r"^/-/drugs/(?P<drug_id>[^/]+?)(?P<format>\.json)?$", drug),
]
NAV_LINKS: list = [("Drugs on NOC codes", "/-/drugs")]

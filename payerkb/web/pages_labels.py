"""Human words for the codes stored in the database, used by the page templates."""
from __future__ import annotations

from formats.vocabulary import (  # noqa: F401 - the vocabulary's labels, defined once there
    NDC_FORMAT_LABELS, PAYER_TYPE_LABELS, PRICING_LABELS, REQUIREMENT_LABELS, SETTING_LABELS,
    STATUS_LABELS, TOPIC_LABELS, UNIT_RULE_LABELS,
)

# A rule's badges: its status (sourced shows none), and what pages add (gap, stale, scraped).
FLAG_LABELS = {"gap": "no source found", **STATUS_LABELS, "stale": "stale source", "scraped": "scraped"}
CHANGE_KIND_LABELS = {
    "rule_added": "rule added",
    "rule_changed": "rule changed",
    "rule_removed": "rule removed",
    "rule_effective": "rule takes effect",
    "source_dated": "source dated",
    "page_changed": "source page changed",
}


def label(mapping: dict, value) -> str:
    if value is None:
        return ""
    return mapping.get(value, str(value).replace("_", " "))


def _money(value) -> str:
    return f"${value:,.2f}".replace(".00", "")


def _number(value) -> str:
    return f"{value:g}"


def rule_details(rule: dict) -> list[tuple[str, str]]:
    """The structured values of a rule as (label, text) pairs, in the order a biller reads them."""
    out = []
    if rule.get("threshold_usd") is not None:
        out.append(("Threshold", _money(rule["threshold_usd"])))
    if rule.get("pricing_basis"):
        basis = label(PRICING_LABELS, rule["pricing_basis"])
        if rule.get("percent") is not None:
            basis = f"{_number(rule['percent'])}% of {basis}"
        out.append(("Priced at", basis))
    if rule.get("claim_fields"):
        out.append(("Claim field", "; ".join(f["label"] for f in rule["claim_fields"])))
    if rule.get("max_chars"):
        out.append(("Max characters", str(rule["max_chars"])))
    if rule.get("unit_rule"):
        out.append(("Units", label(UNIT_RULE_LABELS, rule["unit_rule"])))
    if rule.get("modifiers"):
        out.append(("Modifiers", ", ".join(rule["modifiers"])))
    if rule.get("ndc_unit_qualifiers"):
        out.append(("NDC unit qualifiers", ", ".join(rule["ndc_unit_qualifiers"])))
    if rule.get("ndc_format"):
        out.append(("NDC format", label(NDC_FORMAT_LABELS, rule["ndc_format"])))
    if rule.get("narrative_elements"):
        out.append(("Narrative must carry",
                    ", ".join(e.replace("_", " ") for e in rule["narrative_elements"])))
    if rule.get("narrative_rejects"):
        out.append(("Rejected wording", ", ".join(rule["narrative_rejects"])))
    if rule.get("invoice_max_age_days"):
        out.append(("Invoice no older than", f"{rule['invoice_max_age_days']} days"))
    if rule.get("submission_channel"):
        out.append(("Submit", rule["submission_channel"]))
    if rule.get("denial_codes"):
        out.append(("Denial codes seen", ", ".join(rule["denial_codes"])))
    if rule.get("exceptions"):
        out.append(("Does not apply to", ", ".join(e.replace("_", " ") for e in rule["exceptions"])))
    return out


TEMPLATE_HELPERS = {
    "topic_label": lambda v: label(TOPIC_LABELS, v),
    "requirement_label": lambda v: label(REQUIREMENT_LABELS, v),
    "requirement_labels": REQUIREMENT_LABELS,
    "flag_label": lambda v: label(FLAG_LABELS, v),
    "payer_type_label": lambda v: label(PAYER_TYPE_LABELS, v),
    "setting_label": lambda v: label(SETTING_LABELS, v),
    "change_kind_label": lambda v: label(CHANGE_KIND_LABELS, v),
    "rule_details": rule_details,
}

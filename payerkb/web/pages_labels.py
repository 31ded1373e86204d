"""Human words for the codes stored in the database, used by the page templates."""
from __future__ import annotations

TOPIC_LABELS = {
    "prior_auth": "Prior authorization",
    "invoice": "Invoice",
    "pricing": "Pricing",
    "ndc": "NDC",
    "narrative": "Narrative (drug description)",
    "units": "Units",
    "modifiers": "Modifiers (JW/JZ)",
    "documentation": "Documentation",
    "submission": "Submission",
    "coding": "Coding (which code)",
}
REQUIREMENT_LABELS = {
    "required": "Required",
    "conditional": "Conditional",
    "not_required": "Not required",
    "unknown": "Unknown",
    "conflicting": "Conflicting",
    "varies": "Varies",
    "drug_list": "By drug list",
}
FLAG_LABELS = {
    "gap": "no source found",
    "unconfirmed": "unconfirmed",
    "conflicting": "conflicting",
    "superseded": "superseded",
    "needs_review": "needs review",
    "stale": "stale source",
    "scraped": "scraped",
}
PAYER_TYPE_LABELS = {
    "medicare_national": "Medicare (national)",
    "medicare_mac": "Medicare contractor (MAC)",
    "medicare_advantage": "Medicare Advantage",
    "commercial": "Commercial",
    "bcbs": "Blue Cross Blue Shield",
    "medicaid_ffs": "Medicaid fee-for-service",
    "medicaid_mco": "Medicaid managed care",
    "tricare": "TRICARE",
    "other": "Other",
}
SETTING_LABELS = {
    "professional": "professional claims",
    "outpatient_facility": "hospital outpatient",
    "asc": "ambulatory surgical center",
    "dme": "DME",
    "any": "any setting",
}
PRICING_LABELS = {
    "asp": "ASP",
    "asp_noc_file": "the CMS NOC pricing file",
    "wac": "WAC",
    "awp": "AWP",
    "invoice": "the invoice",
    "fee_schedule": "the payer's fee schedule",
    "ndc_fee_schedule": "an NDC fee schedule",
    "billed_charges": "billed charges",
    "manual_review": "manual review",
}
UNIT_RULE_LABELS = {
    "one_unit": "bill 1 unit",
    "per_payer_billing_unit": "units of the payer's billing unit",
    "ndc_units": "units as the NDC quantity",
    "per_container": "units per container",
    "per_descriptor": "units per the code descriptor",
}
NDC_FORMAT_LABELS = {
    "11_digit_no_separators": "11 digits, no dashes",
    "5-4-2_with_dashes": "5-4-2 with dashes",
}
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

"""The words policies/ is written in, and the labels people read for them: defined here once.

The names are the values of the YAML keys, the SQLite columns and the JSON API (db/schema.py
validates policy files against them); the labels are what pages, the claim check and the
command line show. To add a topic, add its name to TOPICS and its label to TOPIC_LABELS
(tests/test_architecture.py fails on a name without a label); docs/architecture.md says what
else a new topic needs.
"""
from __future__ import annotations

TOPICS = (
    "prior_auth",
    "invoice",
    "pricing",
    "ndc",
    "narrative",
    "units",
    "modifiers",
    "documentation",
    "submission",
    "coding",
)
PAYER_TYPES = (
    "medicare_national",
    "medicare_mac",
    "medicare_advantage",
    "commercial",
    "bcbs",
    "medicaid_ffs",
    "medicaid_mco",
    "tricare",
    "other",
)
SETTINGS = ("professional", "outpatient_facility", "asc", "dme", "any")
REQUIREMENTS = ("required", "conditional", "not_required", "unknown")
STATUSES = ("sourced", "conflicting", "unconfirmed", "superseded", "needs_review")
ORIGINS = ("manual", "scraped")
PRICING_BASES = (
    "asp",
    "asp_noc_file",
    "wac",
    "awp",
    "invoice",
    "fee_schedule",
    "ndc_fee_schedule",
    "billed_charges",
    "manual_review",
)
UNIT_RULES = ("one_unit", "per_payer_billing_unit", "ndc_units", "per_container", "per_descriptor")
NDC_UNIT_QUALIFIERS = ("UN", "ML", "GR", "F2", "ME")
NDC_FORMATS = ("11_digit_no_separators", "5-4-2_with_dashes")
NARRATIVE_ELEMENTS = (
    "drug_name",
    "dose",
    "strength",
    "route",
    "ndc",
    "frequency",
    "date",
    "unit_of_measure",
    "manufacturer",
    "units_to_dose",
    "vial_type",
)
SUBMISSION_CHANNELS = ("paper", "electronic", "either")
# Cases a rule's own source puts outside the rule (the claim check does not hold such a line to it).
EXCEPTIONS = (
    "compounded",  # compounded drugs
    "packaged_opps",  # packaged (not separately payable) drugs on hospital outpatient claims
    "packaged_asc",  # packaged drugs on ambulatory surgical center claims
    "fqhc_rhc",  # claims of federally qualified health centers and rural health clinics
    "overfill",  # drug beyond the amount on the label
    "radiopharmaceutical",
    "imaging_agent",
    "intravitreal_bevacizumab",  # bevacizumab (Avastin) given into the eye
)
US_STATES = (
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ "
    "NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR VI GU AS MP"
).split()
# The settings a claim line can be in (a rule's setting can also be "any").
CLAIM_SETTINGS = tuple(s for s in SETTINGS if s != "any")

# --- Drugs billed on NOC codes, and payers' rules about them (policies/drugs/, policies/drug-rules/) ---

DRUG_TOPICS = (
    "prior_auth",  # the drug needs prior authorization (clinical review) when billed on a NOC code
    "step_therapy",  # the drug is preferred / non-preferred in a medical step-therapy program
    "quantity_limit",  # the drug is held to a quantity limit
    "billing_unit",  # the unit one billed unit of the NOC code stands for (Medicaid bulletins)
    "rate",  # the payer's rate per billing unit
    "ndc_units",  # how NDC units are reported for this drug
)
DRUG_REQUIREMENTS = ("required", "conditional", "not_required")
DRUG_STATUSES = ("sourced", "conflicting", "superseded", "needs_review")

# --- Labels. REQUIREMENT_LABELS also names the matrix cell's other values (conflicting, varies,
# drug_list: db/matrix.py). ---

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
STATUS_LABELS = {
    "sourced": "sourced",
    "conflicting": "conflicting",
    "unconfirmed": "unconfirmed",
    "superseded": "superseded",
    "needs_review": "needs review",
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
DRUG_TOPIC_LABELS = {
    "prior_auth": "prior authorization",
    "step_therapy": "step therapy",
    "quantity_limit": "quantity limit",
    "billing_unit": "billing unit",
    "rate": "rate",
    "ndc_units": "NDC units",
}

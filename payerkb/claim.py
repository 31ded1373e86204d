"""One claim line as the check reads it (JSON, a JSON Lines row, query parameters or a form).

`parse_claim(data)` returns a `ClaimLine` or raises `ClaimInputError` whose message names the
field that is wrong; the CLI turns that into exit status 2 and the web into a 400.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from formats.messages import describe
from formats.vocabulary import CLAIM_SETTINGS as SETTINGS  # the settings a claim line can be in

DRUG_KINDS = (
    "biologic", "drug", "antineoplastic", "oral_chemo", "oral_non_chemo", "oral_antiemetic",
    "rectal_antiemetic", "compounded", "immunosuppressive", "inhalation_dme", "non_inhalation_dme",
    "esrd", "clotting_factor", "immune_globulin", "radiopharmaceutical_diagnostic",
    "radiopharmaceutical_therapeutic", "contrast",
)


class ClaimInputError(ValueError):
    """Bad input: `field` names what is wrong, `message` says how (and starts with the field)."""

    def __init__(self, field: str | None, message: str, errors: list[dict] | None = None):
        super().__init__(message)
        self.field = field
        self.message = message
        self.errors = errors or [{"field": field, "message": message}]

    def as_json(self) -> dict:
        return {"ok": False, "error": self.message, "field": self.field, "errors": self.errors}


ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
HCPCS_FORM = re.compile(r"[A-V][0-9]{4}")
MODIFIER_FORM = re.compile(r"[A-Z0-9]{2}")
LIST_SPLIT = re.compile(r"[\s,;]+")


def _iso_date(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not ISO_DATE.fullmatch(value.strip()):
        raise ValueError(f"write dates as YYYY-MM-DD (got {value!r})")
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a real calendar date") from None


def _modifier_list(value: Any) -> Any:
    # "JW,JZ" or "JW JZ" from a query string or a form; a list from JSON
    if isinstance(value, str):
        return [m for m in LIST_SPLIT.split(value) if m]
    return value


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]
Amount = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
ShortText = Annotated[str, Field(max_length=200)]


class ClaimLine(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    payer_id: Annotated[str, Field(min_length=1, max_length=80)]
    date_of_service: IsoDate
    setting: Literal[SETTINGS] = "professional"
    hcpcs: Annotated[str, Field(min_length=1, max_length=10)]
    units: Positive | None = None
    modifiers: Annotated[list[Annotated[str, Field(max_length=20)]], BeforeValidator(_modifier_list), Field(max_length=4)] = ()
    ndc: ShortText | None = None
    ndc_qualifier: ShortText | None = None
    ndc_unit: ShortText | None = None
    ndc_quantity: Positive | None = None
    narrative: Annotated[str, Field(max_length=2000)] | None = None
    narrative_field: ShortText | None = Field(None, description="claim_fields id where the narrative goes")
    drug_name: ShortText | None = None
    dose: ShortText | None = None
    route: ShortText | None = None
    drug_kind: Literal[DRUG_KINDS] | None = None
    billed_amount: Amount | None = None
    invoice_attached: bool | None = None
    invoice_date: IsoDate | None = None
    prior_auth_number: ShortText | None = None
    discarded_amount: Amount | None = None
    single_dose_container: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _blank_is_absent(cls, data: Any) -> Any:
        # an HTML form sends every field; an empty one means "not given"
        if isinstance(data, dict) and any(v is None or (isinstance(v, str) and not v.strip()) for v in data.values()):
            return {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip()) and v is not None}
        return data

    @field_validator("hcpcs", "ndc_qualifier", "ndc_unit", mode="after")
    @classmethod
    def _upper(cls, value):
        return value.upper() if isinstance(value, str) else value

    @field_validator("hcpcs", mode="after")
    @classmethod
    def _hcpcs_form(cls, value: str) -> str:
        if not HCPCS_FORM.fullmatch(value):
            raise ValueError(f"{value!r} is not a HCPCS Level II code (a letter and four digits, e.g. J3590)")
        return value

    @field_validator("modifiers", mode="after")
    @classmethod
    def _modifier_form(cls, value: list[str]) -> tuple[str, ...]:
        out = []
        for m in value:
            m = m.strip().upper()
            if not MODIFIER_FORM.fullmatch(m):
                raise ValueError(f"{m!r} is not a modifier (two letters or digits, e.g. JZ)")
            out.append(m)
        return tuple(out)

    @field_validator("payer_id", mode="after")
    @classmethod
    def _payer_form(cls, value: str) -> str:
        return value.lower()


FIELDS = tuple(ClaimLine.model_fields)

_TYPE_WORDS = {
    "float_parsing": "must be a number", "float_type": "must be a number",
    "bool_parsing": "must be true or false", "bool_type": "must be true or false",
    "string_type": "must be text", "list_type": "must be a list",
    "greater_than": "must be greater than 0", "greater_than_equal": "must be 0 or more",
    "finite_number": "must be a finite number", "string_too_long": "is too long",
    "string_too_short": "must not be empty", "too_long": "has too many items",
}


def _message(err: dict) -> tuple[str, str]:
    loc = [p for p in err["loc"] if not isinstance(p, int)] or ["(line)"]
    return str(loc[0]), describe(err, noun="field", known=FIELDS, type_words=_TYPE_WORDS)


def parse_claim(data: Any) -> ClaimLine:
    """A validated ClaimLine from a mapping, or ClaimInputError naming the bad field(s)."""
    if isinstance(data, ClaimLine):
        return data
    if not isinstance(data, dict):
        raise ClaimInputError(None, f"a claim line is a JSON object with fields such as payer_id and hcpcs, got {type(data).__name__}")
    try:
        return ClaimLine.model_validate(data)
    except ValidationError as exc:
        errors = [dict(zip(("field", "message"), _message(e))) for e in exc.errors()]
        return _raise(errors)


def _raise(errors: list[dict]):
    raise ClaimInputError(errors[0]["field"], "; ".join(e["message"] for e in errors), errors)

"""A small X12 reader for the files billing systems send: 837P, 837I claims and 835 remittances.

No maintained Python X12 library works with pydantic 2, so this is payerkb's own, and it reads
only what the claim check (`payerkb check FILE.837`) and the remittance explainer
(`payerkb explain FILE.835`) need.

Envelope (every file)
---------------------
    ISA ... IEA    interchange; separators come from ISA itself, never assumed:
                   element separator = the character at position 3, repetition separator = ISA11,
                   component separator = ISA16, segment terminator = the character after ISA16.
                   Several interchanges may follow each other in one file, each with its own
                   separators. CR/LF (or any run of them) between segments is ignored.
      GS ... GE    functional group (GE01 = number of transaction sets)
        ST ... SE  transaction set: ST01 837 (ST03 / GS08 005010X222A1 professional,
                   005010X223A2 institutional) or 835 (005010X221A1); SE01 = segments from ST
                   to SE inclusive, SE02 = ST02. Anything else is reported and skipped.

837 loops read (professional P and institutional I)
--------------------------------------------------
    2000A HL*..*20     billing provider; 2010AA NM1*85 + N4 (its state)
    2000B HL*..*22     subscriber; 2010BB NM1*PR (payer: NM103 name, NM109 id)
    2000C HL*..*23     patient (the subscriber's payer applies)
    2300  CLM          claim: CLM01 id, CLM02 total, CLM05 place of service (P, qualifier B)
                       or type of bill (I, qualifier A) and frequency; DTP*472 / DTP*434
                       (claim dates), REF*G1 (prior authorization), PWK (attachments), NTE
    2310x NM1          claim providers (skipped)
    2320/2330 SBR, NM1 other payers (NM1*PR here is not the claim's payer)
    2400  LX           service line: LX01 number
          SV1 (P)      SV101 HC:code:mod1..mod4:..:description(-7), SV102 charge, SV104 units,
                       SV105 place of service
          SV2 (I)      SV201 revenue code, SV202 HC:code:mod1..mod4:..:description(-7),
                       SV203 charge, SV205 units
          DTP*472      line date of service (D8 or RD8), REF*G1, PWK, NTE
    2410  LIN, CTP     LIN02 qualifier (N4) LIN03 NDC; CTP04 quantity, CTP05-1 unit (UN, ML ...)
    2420x/2430 NM1, SVD  line providers, other payers' adjudication (skipped)

835 loops read
--------------
    1000A N1*PR        payer (N102 name, N104 id); 1000B N1*PE + N4 (payee state)
    2100  CLP          claim payment: CLP01 claim id, CLP02 status, CLP03 charge, CLP04 paid,
                       CLP07 payer claim number, CLP08 facility / bill type code;
                       CAS (claim adjustments), MOA/MIA remark codes, DTM*232/233/050
    2110  SVC          service payment: SVC01 HC:code:modifiers, SVC02 charge, SVC03 paid,
                       SVC04 revenue code, SVC05 units, SVC06 original code when changed;
                       DTM*472/150/151, CAS (group, then reason/amount/quantity triplets),
                       REF*6R line control number, AMT*B6 allowed, LQ*HE remark codes
    PLB                provider-level adjustments (skipped)

Bounds and errors
-----------------
The input is refused beyond MAX_BYTES and MAX_SEGMENTS before anything is parsed. Every problem is
an X12Error naming the segment number (counted from 1 across the file) with one line of text;
`read()` collects them and keeps what it could read (a partial file reports its complete claims).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_BYTES = 32 * 1024 * 1024  # read whole: the text and its segments take about twice this in memory
MAX_SEGMENTS = 1_500_000
MAX_SEGMENT_CHARS = 64 * 1024
ISA_LENGTH = 106
TAG = re.compile(r"[A-Z][A-Z0-9]{1,2}")
ENVELOPE = frozenset(("ISA", "GS", "ST", "SE", "GE", "IEA"))
KNOWN_837 = {"X222": "837P", "X223": "837I"}
KNOWN_835 = ("X221",)
HL_LOOPS = {"20": "2000A", "22": "2000B", "23": "2000C"}  # HL03 level code -> 837 loop


class X12Error(Exception):
    """One problem in an X12 file; `segment` is the 1-based segment number (None: the file itself)."""

    def __init__(self, message: str, segment: int | None = None):
        super().__init__(message)
        self.message = message
        self.segment = segment

    def __str__(self) -> str:
        return f"segment {self.segment}: {self.message}" if self.segment else self.message

    def as_json(self) -> dict:
        return {"segment": self.segment, "error": self.message}


@dataclass(frozen=True)
class Separators:
    element: str
    component: str
    repetition: str | None
    segment: str


@dataclass
class Transaction:
    """One ST..SE transaction set with its envelope: `segments` are the texts of the segments after
    ST, numbered on from `start` (split into elements only when a loop reader walks them, see
    `elements`)."""
    kind: str  # 837P, 837I, 835
    version: str
    interchange: str  # ISA13
    group: str  # GS06
    control: str  # ST02
    start: int  # segment number of ST
    separators: Separators
    segments: list = field(default_factory=list)
    complete: bool = False

    def elements(self):
        """(segment number, elements) for each segment after ST; elements[0] is the segment id."""
        elem = self.separators.element
        for i, raw in enumerate(self.segments, self.start + 1):
            el = raw.split(elem)
            el[0] = el[0].strip()
            yield i, el


@dataclass
class Reader:
    transactions: list[Transaction] = field(default_factory=list)
    errors: list[X12Error] = field(default_factory=list)
    interchanges: int = 0
    segments: int = 0


def looks_like_x12(data: bytes | str) -> bool:
    head = data[:512].lstrip() if isinstance(data, str) else data[:512].lstrip()
    return head[:3] in (b"ISA", "ISA")


def decode(data: bytes) -> str:
    """X12 is ASCII in practice; Latin-1 maps every byte, so decoding never fails."""
    return data.decode("latin-1")


def _separators(text: str, at: int, number: int) -> tuple[Separators, list[str]]:
    head = text[at:at + ISA_LENGTH + 32]
    if len(head) < 4:
        raise X12Error("the file ends inside the ISA segment", number)
    elem = head[3]
    if elem.isalnum() or elem in " \r\n":
        raise X12Error(f"the element separator (ISA position 4) is {elem!r}; it must be a punctuation character", number)
    parts = head.split(elem)
    if len(head) >= ISA_LENGTH - 1 and head[103] == elem and head[82] == parts[11][:1]:
        # the standard layout: ISA is fixed-length, ISA16 at position 105, the terminator after it
        component = head[104]
        if len(head) < ISA_LENGTH:
            raise X12Error("no segment terminator after ISA16", number)
        terminator = head[105]
        parts = head[:104].split(elem)[:16] + [component]
        if len(parts) < 17:
            raise X12Error("the ISA segment has fewer than 16 elements before ISA16: its element separator "
                           "is wrong", number)
    else:
        if len(parts) < 17 or not parts[16]:
            raise X12Error("the ISA segment has fewer than 16 elements: the file is truncated or its element "
                           "separator is wrong", number)
        isa16 = parts[16]
        component = isa16[0]
        if len(isa16) < 2:
            raise X12Error("no segment terminator after ISA16", number)
        terminator = isa16[1]
    repetition = parts[11] if len(parts[11]) == 1 and not parts[11].isalnum() else None
    seen = [elem, component, terminator] + ([repetition] if repetition else [])
    if component.isalnum() or component == " ":
        raise X12Error(f"the component separator (ISA16) is {component!r}; it must be a punctuation character", number)
    if terminator.isalnum() or terminator == " ":
        raise X12Error(f"the segment terminator (after ISA16) is {terminator!r}; it must be a punctuation "
                       "character or a line end", number)
    if len(set(seen)) != len(seen):
        raise X12Error(f"the ISA separators are not distinct (element {elem!r}, component {component!r}, "
                       f"repetition {repetition!r}, segment {terminator!r})", number)
    if len(parts[0]) != 3 or len(parts[13]) != 9 or not parts[13].isdigit():
        raise X12Error("the ISA segment is not laid out as the standard says (ISA13, the control number, "
                       "must be 9 digits): the separators cannot be trusted", number)
    return Separators(elem, component, repetition, terminator), parts[:16] + [component]


def read(data: bytes | str, max_segments: int = MAX_SEGMENTS) -> Reader:
    """Every transaction set of the 837/835 kinds in `data`, and every problem found."""
    out = Reader()
    if len(data) > MAX_BYTES:
        out.errors.append(X12Error(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MiB: split it"))
        return out
    text = decode(data) if isinstance(data, bytes) else data
    start = len(text) - len(text.lstrip())
    if text[start:start + 3] != "ISA":
        out.errors.append(X12Error("not an X12 file: it does not start with an ISA segment"))
        return out
    number = 0
    pos = start
    while pos < len(text):
        number += 1
        try:
            seps, isa = _separators(text, pos, number)
        except X12Error as exc:
            out.errors.append(exc)
            return out
        out.interchanges += 1
        end_re = re.compile(re.escape(seps.segment) + r"[\r\n]*IEA" + re.escape(seps.element))
        hit = end_re.search(text, pos)
        if hit:
            stop = text.find(seps.segment, hit.end())
            stop = len(text) if stop < 0 else stop + 1
        else:
            stop = len(text)
        chunk = text[pos:stop] if (pos, stop) != (0, len(text)) else text
        # CR/LF after a terminator are dropped by the split itself, so no segment is copied again
        raw = re.split(re.escape(seps.segment) + r"[\r\n]*", chunk)
        del chunk
        if len(raw) + number > max_segments:
            out.errors.append(X12Error(f"more than {max_segments:,} segments: split the file", number))
            return out
        number = _interchange(raw, seps, isa, number, out)
        pos = stop
        rest = text[pos:].lstrip(" \r\n\t\x00\x1a")  # some systems pad with NUL or end with Ctrl-Z
        if not rest:
            break
        if not rest.startswith("ISA"):
            out.errors.append(X12Error(f"after IEA comes {rest[:20]!r}, not another ISA interchange", number + 1))
            break
        pos = len(text) - len(rest)
    out.segments = number
    return out


def _interchange(raw: list[str], seps: Separators, isa: list[str], number: int, out: Reader) -> int:
    """Read one interchange's segments (the ISA is segment `number`); returns the last segment number."""
    elem = seps.element
    control = isa[13]
    group, groups, sets_in_group = "", 0, 0
    tx: Transaction | None = None
    first = True
    ended = False
    tags: set[str] = set()  # segment ids already seen well formed
    for piece in raw:
        if first:
            first = False
            continue  # the ISA, already read
        seg = piece.strip("\r\n")
        if not seg:
            continue
        number += 1
        if "\n" in seg or "\r" in seg:
            shown = "a line end" if seps.segment in "\r\n" else repr(seps.segment)
            out.errors.append(X12Error(f"a line break inside a segment: the segment terminator ISA declares ({shown}) "
                                       "is not the one this file uses", number))
            return number
        if len(seg) > MAX_SEGMENT_CHARS:
            out.errors.append(X12Error(f"a segment longer than {MAX_SEGMENT_CHARS // 1024} KiB", number))
            if tx is not None:
                tx.segments.append("")  # keeps the numbering of the segments after it
            continue
        cut = seg.find(elem)
        tag = (seg if cut < 0 else seg[:cut]).strip()
        if tag not in tags and not TAG.fullmatch(tag):
            out.errors.append(X12Error(f"{seg[:30]!r} is not a segment (an id of 2 or 3 letters and digits): "
                                       "wrong separators or a damaged file", number))
            if tx is not None:
                tx = None  # do not read on inside a broken transaction set
            continue
        tags.add(tag)
        if tag not in ENVELOPE:
            if tx is not None:
                tx.segments.append(seg)
            continue
        elements = seg.split(elem)
        elements[0] = tag
        if tag == "GS":
            group, groups, sets_in_group = _get(elements, 6), groups + 1, 0
        elif tag == "ST":
            if tx is not None:
                out.errors.append(X12Error(f"ST begins before transaction set {tx.control} ended with SE "
                                           "(truncated or damaged)", number))
            tx = _start(elements, control, group, number, seps, out)
            sets_in_group += 1
        elif tag == "SE":
            if tx is None:
                out.errors.append(X12Error("SE without a matching ST", number))
                continue
            tx.segments.append(seg)
            count, ident = _get(elements, 1), _get(elements, 2)
            counted = number - tx.start + 1
            if not count.isdigit() or int(count) != counted:
                out.errors.append(X12Error(f"SE01 says {count or 'nothing'} segments in transaction set {tx.control}; "
                                           f"there are {counted} from ST to SE", number))
            if ident != tx.control:
                out.errors.append(X12Error(f"SE02 {ident!r} does not match ST02 {tx.control!r}", number))
            tx.complete = True
            tx = None
        elif tag == "GE":
            if tx is not None:
                out.errors.append(X12Error(f"GE before transaction set {tx.control} ended with SE (truncated)", number))
                tx = None
            n = _get(elements, 1)
            if n.isdigit() and int(n) != sets_in_group:
                out.errors.append(X12Error(f"GE01 says {n} transaction sets; the group has {sets_in_group}", number))
        elif tag == "IEA":
            if tx is not None:
                out.errors.append(X12Error(f"IEA before transaction set {tx.control} ended with SE (truncated)", number))
                tx = None
            n = _get(elements, 1)
            if n.isdigit() and int(n) != groups:
                out.errors.append(X12Error(f"IEA01 says {n} functional groups; the interchange has {groups}", number))
            if _get(elements, 2) != control:
                out.errors.append(X12Error(f"IEA02 {_get(elements, 2)!r} does not match ISA13 {control!r}", number))
            ended = True
        elif tag == "ISA":
            out.errors.append(X12Error("ISA inside an interchange (the previous one has no IEA)", number))
    if tx is not None:
        out.errors.append(X12Error(f"the file ends inside transaction set {tx.control} (no SE): truncated; "
                                   "the claims read before that point are reported", number))
    elif not ended:
        out.errors.append(X12Error("the interchange has no IEA: the file is truncated", number))
    return number


def _start(elements: list[str], control: str, group: str, number: int, seps: Separators,
           out: Reader) -> Transaction | None:
    ident, st02, version = _get(elements, 1), _get(elements, 2), _get(elements, 3)
    kind = None
    if ident == "837":
        kind = next((k for marker, k in KNOWN_837.items() if marker in version), None)
        if kind is None:
            out.errors.append(X12Error(f"837 version {version or '(none)'} is not one payerkb reads (005010X222A1 "
                                       "professional, 005010X223A2 institutional); transaction set skipped", number))
            return None
    elif ident == "835":
        if version and not any(m in version for m in KNOWN_835):
            out.errors.append(X12Error(f"835 version {version} is not 005010X221A1; transaction set skipped", number))
            return None
        kind = "835"
    else:
        out.errors.append(X12Error(f"transaction set {ident or '(none)'} is not one payerkb reads (837 claims, "
                                   "835 remittances); skipped", number))
        return None
    tx = Transaction(kind, version, control, group, st02, number, seps)
    out.transactions.append(tx)
    return tx


def _get(elements: list[str], i: int) -> str:
    return elements[i].strip() if i < len(elements) else ""


def components(value: str, seps: Separators) -> list[str]:
    return value.split(seps.component)


def x12_date(value: str) -> str | None:
    """CCYYMMDD (or the start of CCYYMMDD-CCYYMMDD) as YYYY-MM-DD; None when it is not that."""
    value = value.strip()[:8]
    if len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return None


def number(value: str) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if out == out and abs(out) != float("inf") else None


# --- 837 ----------------------------------------------------------------------------------------

@dataclass
class ServiceLine:
    lx: str
    segment: int
    qualifier: str = ""
    code: str = ""
    modifiers: list = field(default_factory=list)
    description: str | None = None
    revenue_code: str | None = None
    charge: float | None = None
    units: float | None = None
    unit_basis: str | None = None
    place_of_service: str | None = None
    date: str | None = None
    raw_date: str | None = None
    prior_auth: str | None = None
    attachments: list = field(default_factory=list)  # (report type, transmission code)
    notes: list = field(default_factory=list)
    ndc_qualifier: str | None = None
    ndc: str | None = None
    ndc_quantity: float | None = None
    ndc_unit: str | None = None


@dataclass
class Claim:
    claim_id: str
    segment: int
    kind: str
    interchange: str
    group: str
    transaction: str
    payer_name: str | None = None
    payer_code: str | None = None
    billing_state: str | None = None
    charge: float | None = None
    facility_code: str | None = None  # place of service (P) or the first two digits of the bill type (I)
    facility_qualifier: str | None = None
    frequency: str | None = None
    date: str | None = None
    prior_auth: str | None = None
    attachments: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    lines: list[ServiceLine] = field(default_factory=list)

    @property
    def type_of_bill(self) -> str | None:
        if self.kind == "837I" and self.facility_code:
            return "0" + self.facility_code[:2] + (self.frequency or "")[:1]
        return None


def claims_837(tx: Transaction) -> list[Claim]:
    """The claims of one 837 transaction set, with their service lines."""
    return list(iter_claims_837(tx))


def iter_claims_837(tx: Transaction):
    """The claims of one 837 transaction set, each yielded once it is complete."""
    seps = tx.separators
    payer = (None, None)
    state = None
    loop = ""
    claim: Claim | None = None
    line: ServiceLine | None = None
    for num, el in tx.elements():
        tag = el[0]
        if tag == "HL":
            level = _get(el, 3)
            if claim is not None:
                yield claim
            claim, line = None, None
            loop = HL_LOOPS.get(level, "2000")
            if level == "20":
                state, payer = None, (None, None)
            elif level == "22":
                payer = (None, None)
        elif tag == "NM1":
            who = _get(el, 1)
            if claim is None:
                if who == "85":
                    loop = "2010AA"
                elif who == "IL":
                    loop = "2010BA"
                elif who == "PR" and loop in ("2000B", "2010BA", "2010BB", "2000B-other"):
                    loop = "2010BB"
                    payer = (_get(el, 3) or None, _get(el, 9) or None)
                else:
                    loop = "2010-other"
            elif line is None:
                loop = "2330" if loop in ("2320", "2330") else "2310"
            else:
                loop = "2420"
        elif tag == "N4" and loop == "2010AA":
            state = _get(el, 2) or None
        elif tag == "CLM":
            if claim is not None:
                yield claim
            comp = components(_get(el, 5), seps)
            claim = Claim(_get(el, 1), num, tx.kind, tx.interchange, tx.group, tx.control,
                          payer_name=payer[0], payer_code=payer[1], billing_state=state,
                          charge=number(_get(el, 2)), facility_code=comp[0].strip() or None,
                          facility_qualifier=(comp[1].strip() if len(comp) > 1 else None) or None,
                          frequency=(comp[2].strip() if len(comp) > 2 else None) or None)
            line, loop = None, "2300"
        elif claim is None:
            continue
        elif tag == "SBR":
            loop = "2320"
        elif tag == "LX":
            line = ServiceLine(_get(el, 1), num)
            claim.lines.append(line)
            loop = "2400"
        elif tag == "LIN" and line is not None:
            loop = "2410"
            line.ndc_qualifier = _get(el, 2) or None
            line.ndc = _get(el, 3) or None
        elif tag == "CTP" and loop == "2410":
            line.ndc_quantity = number(_get(el, 4))
            line.ndc_unit = components(_get(el, 5), seps)[0].strip() or None
        elif tag == "SVD":
            loop = "2430"
        elif tag == "SV1" and loop == "2400":
            _procedure(line, components(_get(el, 1), seps))
            line.charge, line.unit_basis, line.units = number(_get(el, 2)), _get(el, 3) or None, number(_get(el, 4))
            line.place_of_service = _get(el, 5) or claim.facility_code
        elif tag == "SV2" and loop == "2400":
            line.revenue_code = _get(el, 1) or None
            _procedure(line, components(_get(el, 2), seps))
            line.charge, line.unit_basis, line.units = number(_get(el, 3)), _get(el, 4) or None, number(_get(el, 5))
        elif tag == "DTP":
            qual, value = _get(el, 1), _get(el, 3)
            if loop == "2400" and qual == "472":
                line.date, line.raw_date = x12_date(value), value
            elif loop == "2300" and qual in ("472", "434") and (claim.date is None or qual == "472"):
                claim.date = x12_date(value)
        elif tag == "REF" and _get(el, 1) == "G1":
            if loop == "2400":
                line.prior_auth = _get(el, 2) or None
            elif loop == "2300":
                claim.prior_auth = _get(el, 2) or None
        elif tag == "PWK":
            item = (_get(el, 1), _get(el, 2))
            if loop == "2400":
                line.attachments.append(item)
            elif loop == "2300":
                claim.attachments.append(item)
        elif tag == "NTE":
            text = _get(el, 2)
            if text and loop == "2400":
                line.notes.append(text)
            elif text and loop == "2300":
                claim.notes.append(text)
    if claim is not None:
        yield claim


def _procedure(line: ServiceLine, comp: list[str]) -> None:
    comp = [c.strip() for c in comp]
    line.qualifier = comp[0] if comp else ""
    line.code = comp[1].upper() if len(comp) > 1 else ""
    line.modifiers = [m.upper() for m in comp[2:6] if m]
    line.description = comp[6] if len(comp) > 6 and comp[6] else None


# --- 835 ----------------------------------------------------------------------------------------

@dataclass
class Adjustment:
    group: str
    reason: str
    amount: float | None
    quantity: float | None
    segment: int

    @property
    def code(self) -> str:
        return f"{self.group}-{self.reason}"


@dataclass
class ServicePayment:
    segment: int
    qualifier: str = ""
    code: str = ""
    modifiers: list = field(default_factory=list)
    charge: float | None = None
    paid: float | None = None
    revenue_code: str | None = None
    units: float | None = None
    original_code: str | None = None
    date: str | None = None
    control_number: str | None = None
    allowed: float | None = None
    adjustments: list[Adjustment] = field(default_factory=list)
    remarks: list = field(default_factory=list)  # (code, segment)


@dataclass
class ClaimPayment:
    claim_id: str
    segment: int
    interchange: str
    group: str
    transaction: str
    status: str
    charge: float | None
    paid: float | None
    payer_claim_number: str | None
    facility_code: str | None
    payer_name: str | None = None
    payer_code: str | None = None
    payee_state: str | None = None
    date: str | None = None
    adjustments: list[Adjustment] = field(default_factory=list)
    remarks: list = field(default_factory=list)
    services: list[ServicePayment] = field(default_factory=list)


def _cas(el: list[str], num: int) -> list[Adjustment]:
    group = _get(el, 1)
    out = []
    for i in range(2, min(len(el), 20), 3):
        reason = _get(el, i)
        if reason:
            out.append(Adjustment(group, reason, number(_get(el, i + 1)), number(_get(el, i + 2)), num))
    return out


def payments_835(tx: Transaction) -> list[ClaimPayment]:
    return list(iter_payments_835(tx))


def iter_payments_835(tx: Transaction):
    """The claim payments of one 835 transaction set, each yielded once it is complete."""
    seps = tx.separators
    payer = (None, None)
    state = None
    n1 = ""
    claim: ClaimPayment | None = None
    svc: ServicePayment | None = None
    for num, el in tx.elements():
        tag = el[0]
        if tag == "N1" and claim is None:
            n1 = _get(el, 1)
            if n1 == "PR":
                payer = (_get(el, 2) or None, _get(el, 4) or None)
        elif tag == "N4" and claim is None and n1 == "PE":
            state = _get(el, 2) or None
        elif tag == "CLP":
            if claim is not None:
                yield claim
            claim = ClaimPayment(_get(el, 1), num, tx.interchange, tx.group, tx.control, _get(el, 2),
                                 number(_get(el, 3)), number(_get(el, 4)), _get(el, 7) or None, _get(el, 8) or None,
                                 payer_name=payer[0], payer_code=payer[1], payee_state=state)
            svc = None
        elif claim is None:
            continue
        elif tag == "SVC":
            comp = [c.strip() for c in components(_get(el, 1), seps)]
            svc = ServicePayment(num, comp[0] if comp else "", comp[1].upper() if len(comp) > 1 else "",
                                 [m.upper() for m in comp[2:6] if m], number(_get(el, 2)), number(_get(el, 3)),
                                 _get(el, 4) or None, number(_get(el, 5)))
            if comp and comp[0] == "NU" and not svc.revenue_code:
                svc.revenue_code, svc.code = svc.code, ""
            original = [c.strip() for c in components(_get(el, 6), seps)] if _get(el, 6) else []
            if len(original) > 1:
                svc.original_code = original[1].upper()
            claim.services.append(svc)
        elif tag == "CAS":
            (svc.adjustments if svc is not None else claim.adjustments).extend(_cas(el, num))
        elif tag == "LQ" and svc is not None:
            if _get(el, 2):
                svc.remarks.append((_get(el, 2), num))
        elif tag in ("MOA", "MIA") and svc is None:
            picks = range(3, 8) if tag == "MOA" else (5, 20, 21, 22, 23)
            claim.remarks.extend((_get(el, i), num) for i in picks if _get(el, i) and not number(_get(el, i)))
        elif tag == "DTM":
            qual, value = _get(el, 1), _get(el, 2)
            if svc is not None and qual in ("472", "150"):
                svc.date = x12_date(value)
            elif svc is None and qual in ("232", "050") and claim.date is None:
                claim.date = x12_date(value)
        elif tag == "REF" and svc is not None and _get(el, 1) == "6R":
            svc.control_number = _get(el, 2) or None
        elif tag == "AMT" and svc is not None and _get(el, 1) == "B6":
            svc.allowed = number(_get(el, 2))
        elif tag == "PLB":
            if claim is not None:
                yield claim
            claim, svc = None, None
    if claim is not None:
        yield claim

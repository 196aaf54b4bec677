"""The fee for copies under the right of access (45 CFR 164.524(c)(4)): cost-based only, never a
search or retrieval fee; the flat $6.50 option for electronic copies of electronic records."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal


@dataclass(frozen=True)
class InvoiceLine:
    what: str
    amount: Decimal


def _money(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def invoice_lines(kind: str, fmt: str, pages: int, fees: dict) -> list[InvoiceLine]:
    """Only right-of-access copies are charged here; third parties' fees are agreed elsewhere."""
    if kind != "access":
        return [InvoiceLine("No fee under 45 CFR 164.524 (not a right-of-access request)", _money(0))]
    if fmt in ("pdf", "fhir"):
        return [InvoiceLine("Flat fee, electronic copy of electronic records (45 CFR 164.524(c)(4))",
                            _money(fees["flat_electronic"]))]
    cost = fees["cost_based"]
    return [InvoiceLine(f"Copying labour, {pages} page(s)", _money(Decimal(str(cost["labour_per_page"])) * pages)),
            InvoiceLine(f"Supplies (paper), {pages} page(s)", _money(Decimal(str(cost["supplies_per_page"])) * pages)),
            InvoiceLine("Postage", _money(cost["postage"]))]


def total(lines: list[InvoiceLine]) -> Decimal:
    return sum((line.amount for line in lines), Decimal("0.00"))

"""Deterministic seed data for the sandbox: properties, units, leases, people, categories, ledger.

The same (seed, size, anchor date) always gives the same ids and amounts. Generation only:
it writes through the store and serves nothing.
"""

from __future__ import annotations

import random
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from propbridge.sandbox.resman.store import SandboxStore

CATEGORY_NAMESPACE = uuid.UUID("5b0f2c1e-8f0a-4c57-9a55-2f4c7f0a9e11")

# (abbreviation, name, type, is_rent, GL number, GL name, GL type)
CATEGORIES: tuple[tuple[str, str, str, bool, str, str, str], ...] = (
    ("RENT", "Rent", "Charge", True, "4100", "Rental Income", "Income"),
    ("PETF", "Pet Fee", "Charge", False, "4420", "Pet Income", "Income"),
    ("PARK", "Parking", "Charge", False, "4430", "Parking Income", "Income"),
    ("LATE", "Late Fee", "Charge", False, "4410", "Late Fee Income", "Income"),
    ("UTIL", "Electric Reimbursement", "Charge", False, "4450", "Utility Income", "Income"),
    ("WATS", "Water/Sewer", "Charge", False, "4455", "Water Income", "Income"),
    ("TRSH", "Trash", "Charge", False, "4460", "Trash Income", "Income"),
    ("APPF", "Application Fee", "Charge", False, "4415", "Application Fees", "Income"),
    ("ADMN", "Administrative Fee", "Charge", False, "4405", "Admin Fees", "Income"),
    ("PEST", "Pest Control", "Charge", False, "4465", "Pest Control Income", "Income"),
    ("AMEN", "Amenity Fee", "Charge", False, "4470", "Amenity Income", "Income"),
    ("INSR", "Renters Insurance", "Charge", False, "4475", "Insurance Income", "Income"),
    ("CONC", "Rent Concession", "Credit", False, "4900", "Concessions", "Expense"),
    ("PMNT", "Payment", "Payment", False, "1100", "Cash", "Asset"),
    ("DEPO", "Security Deposit", "Deposit", False, "2200", "Deposits Held", "Liability"),
)

SEEDED_PAYMENT_METHODS = ("ACH", "Credit Card", "Check", "eCheck", "Money Order")
PROPERTY_NAMES = (
    "Mill Pond",
    "Cedar Ridge",
    "Harbor View",
    "Willow Creek",
    "Aspen Court",
    "Magnolia Park",
    "Stone Bridge",
    "Riverbend",
    "Oak Hollow",
    "Sunset Terrace",
    "Pine Bluff",
    "Lakeside Commons",
)
CITIES = (
    ("San Antonio", "TX", "78245"),
    ("Richmond", "VA", "23220"),
    ("Columbus", "OH", "43215"),
    ("Tampa", "FL", "33602"),
    ("Denver", "CO", "80202"),
    ("Raleigh", "NC", "27601"),
)
FIRST_NAMES = (
    "Craig",
    "Maria",
    "James",
    "Aisha",
    "Chen",
    "Olivia",
    "Mateo",
    "Priya",
    "Noah",
    "Zoë",
    "Liam",
    "Fatima",
    "Ethan",
    "Sofía",
    "Lucas",
    "Hannah",
    "Kwame",
    "Emma",
    "Diego",
    "Yuki",
)
LAST_NAMES = (
    "Griffin",
    "Garcia",
    "Smith",
    "Khan",
    "Wang",
    "Johnson",
    "Rossi",
    "Patel",
    "Brown",
    "Nguyen",
    "O'Brien",
    "Müller",
    "Okafor",
    "Lopez",
    "Kim",
    "Davis",
    "Mensah",
    "Silva",
    "Cohen",
    "Sato",
)
FLOOR_PLANS = (
    ("A1", "One Bedroom", 1, "1.00", 720, 95000),
    ("B1", "Two Bedroom", 2, "2.00", 980, 125000),
    ("C1", "Three Bedroom", 3, "2.00", 1240, 155000),
)


@dataclass(frozen=True)
class SeedSize:
    """How much to generate."""

    properties: int = 2
    units: int = 20
    # Months of ledger ending with the as-of month. ResMan's partner API shows 364 days, so 11
    # months always fit in it whatever the day; more seed history a first sync cannot see, as
    # on a real account.
    months: int = 11
    seed: int = 7


def category_id(abbreviation: str) -> str:
    """The stable GUID of a transaction category."""
    return str(uuid.uuid5(CATEGORY_NAMESPACE, abbreviation))


class _Guids:
    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def next(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))


def _month_starts(anchor: date, months: int) -> list[date]:
    first = anchor.replace(day=1)
    starts = []
    for back in range(months - 1, -1, -1):
        year, month = divmod(first.year * 12 + first.month - 1 - back, 12)
        starts.append(date(year, month + 1, 1))
    return starts


def _add_months(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return date(year, month + 1, min(day.day, 28))


def seed_store(store: SandboxStore, size: SeedSize, as_of: date) -> dict[str, int]:
    """Fill an empty store with the account as it stands on `as_of` (nothing after that day);
    returns the number of rows made per table."""
    today = as_of
    rng = random.Random(size.seed)
    guids = _Guids(rng)
    store.insert_many(
        "categories",
        (
            "category_id",
            "abbreviation",
            "name",
            "type",
            "is_rent",
            "gl_account_id",
            "gl_number",
            "gl_name",
            "gl_type",
        ),
        [
            (
                category_id(a),
                a,
                n,
                t,
                int(r),
                str(uuid.uuid5(CATEGORY_NAMESPACE, "gl" + g)),
                g,
                gn,
                gt,
            )
            for a, n, t, r, g, gn, gt in CATEGORIES
        ],
    )
    counts = {"properties": 0, "units": 0, "leases": 0, "people": 0, "transactions": 0}
    month_starts = _month_starts(today, size.months)
    for p in range(size.properties):
        property_id = guids.next()
        name = PROPERTY_NAMES[p % len(PROPERTY_NAMES)] + (
            "" if p < len(PROPERTY_NAMES) else f" {p}"
        )
        city, state, zip_code = CITIES[p % len(CITIES)]
        store.insert_many(
            "properties",
            (
                "property_id",
                "abbreviation",
                "name",
                "type",
                "street",
                "city",
                "state",
                "zip",
                "phone",
                "email",
                "manager",
            ),
            [
                (
                    property_id,
                    f"P{p + 1:03d}",
                    name,
                    "Multifamily",
                    f"{1500 + p * 7} Cable Ranch Rd",
                    city,
                    state,
                    zip_code,
                    f"804-555-{1000 + p:04d}",
                    f"office{p + 1}@example.com",
                    f"{FIRST_NAMES[p % 20]} {LAST_NAMES[(p + 3) % 20]}",
                )
            ],
        )
        counts["properties"] += 1
        store.insert_many(
            "fees",
            (
                "fee_id",
                "property_id",
                "abbreviation",
                "name",
                "amount_cents",
                "floor_plan",
                "frequency",
                "description",
            ),
            _fee_schedule(guids, property_id, p),
        )
        units, leases, people, transactions = [], [], [], []
        for u in range(size.units):
            unit_id = guids.next()
            plan = FLOOR_PLANS[u % 3]
            unit_number = f"{u // 20 + 1}{u % 20 + 1:02d}"
            rent = plan[5] + rng.randrange(0, 10) * 1000
            units.append(
                (
                    unit_id,
                    property_id,
                    unit_number,
                    str(u // 20 + 1),
                    plan[0],
                    plan[1],
                    plan[2],
                    plan[3],
                    plan[4],
                    rent,
                )
            )
            if rng.random() < 0.08:
                continue  # a vacant unit
            for lease in _unit_leases(rng, guids, today, month_starts, property_id, unit_id, rent):
                leases.append(lease.row)
                people.extend(lease.people)
                transactions.extend(lease.transactions)
        store.insert_many(
            "units",
            (
                "unit_id",
                "property_id",
                "unit_number",
                "building",
                "floor_plan",
                "floor_plan_name",
                "bedrooms",
                "bathrooms",
                "square_feet",
                "market_rent_cents",
            ),
            units,
        )
        store.insert_many(
            "leases",
            (
                "lease_id",
                "billing_account_id",
                "property_id",
                "unit_id",
                "status",
                "start_date",
                "end_date",
                "move_in_date",
                "move_out_date",
                "rent_cents",
                "last_modified",
            ),
            leases,
        )
        store.insert_many(
            "people",
            (
                "person_id",
                "lease_id",
                "first_name",
                "last_name",
                "email",
                "phone",
                "residency_status",
                "is_main_contact",
                "is_head_of_household",
                "is_lease_signer",
            ),
            people,
        )
        store.insert_many(
            "transactions",
            (
                "transaction_id",
                "property_id",
                "lease_id",
                "date",
                "type",
                "category_id",
                "description",
                "reference",
                "amount_cents",
                "modified_at",
                "payment_method",
            ),
            transactions,
        )
        counts["units"] += len(units)
        counts["leases"] += len(leases)
        counts["people"] += len(people)
        counts["transactions"] += len(transactions)
    store.set_meta("seeded", "yes")
    store.set_meta("seed_date", today.isoformat())
    return counts


@dataclass
class _Lease:
    row: tuple[object, ...]
    people: list[tuple[object, ...]]
    transactions: list[tuple[object, ...]]


def _unit_leases(
    rng: random.Random,
    guids: _Guids,
    today: date,
    month_starts: list[date],
    property_id: str,
    unit_id: str,
    rent: int,
) -> Iterator[_Lease]:
    """A current lease and, when it began inside the ledger window, the former one before it."""
    window_start = month_starts[0]
    current_start = _add_months(today.replace(day=1), -rng.randrange(1, len(month_starts) + 12))
    if current_start > window_start:
        former_start = _add_months(current_start, -14)
        former_end = current_start - timedelta(days=1)
        yield _make_lease(
            rng,
            guids,
            today,
            month_starts,
            property_id,
            unit_id,
            rent - 3000,
            former_start,
            former_end,
            "Former",
        )
    status = rng.choices(("Current", "Notice to Vacate", "Month to Month"), (85, 5, 10))[0]
    yield _make_lease(
        rng, guids, today, month_starts, property_id, unit_id, rent, current_start, None, status
    )


def _make_lease(
    rng: random.Random,
    guids: _Guids,
    today: date,
    month_starts: list[date],
    property_id: str,
    unit_id: str,
    rent: int,
    start: date,
    moved_out: date | None,
    status: str,
) -> _Lease:
    lease_id, account_id = guids.next(), guids.next()
    people: list[tuple[object, ...]] = []
    for n in range(rng.choices((1, 2, 3), (50, 40, 10))[0]):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        people.append(
            (
                guids.next(),
                lease_id,
                first,
                last,
                _email(first, last, rng.randrange(100)),
                f"804-555-{rng.randrange(10000):04d}",
                "Former" if moved_out else "Current",
                int(n == 0),
                int(n == 0),
                1,
            )
        )
    has_pet, has_parking = rng.random() < 0.3, rng.random() < 0.4
    has_insurance = rng.random() < 0.6
    transactions: list[tuple[object, ...]] = []

    method = rng.choice(SEEDED_PAYMENT_METHODS)

    def post(day: date, abbreviation: str, kind: str, description: str, cents: int) -> None:
        transactions.append(
            (
                guids.next(),
                property_id,
                lease_id,
                day.isoformat(),
                kind,
                category_id(abbreviation),
                description,
                None,
                cents,
                f"{day.isoformat()}T00:00:00Z",
                method if kind == "Payment" else None,
            )
        )

    for month in month_starts:
        if month < start.replace(day=1) or (moved_out and month > moved_out):
            continue
        label = month.strftime("%B %Y")
        due = rent
        post(month, "RENT", "Charge", f"Rent {label}", rent)
        for abbreviation, name, cents in (
            ("UTIL", "Electric", rng.randrange(3000, 9000)),
            ("WATS", "Water/Sewer", rng.randrange(2500, 6000)),
            ("TRSH", "Trash", 1500),
            ("PEST", "Pest control", 300),
            ("AMEN", "Amenity fee", 2500),
        ):
            post(month + timedelta(days=2), abbreviation, "Charge", f"{name} {label}", cents)
            due += cents
        if has_pet:
            post(month, "PETF", "Charge", f"Pet rent {label}", 3500)
            due += 3500
        if has_insurance:
            post(month, "INSR", "Charge", f"Renters insurance {label}", 1250)
            due += 1250
        if has_parking:
            post(month, "PARK", "Charge", f"Parking {label}", 5000)
            due += 5000
        if rng.random() < 0.05:
            post(month, "CONC", "Credit", f"Concession {label}", 5000)
            due -= 5000
        paid_on = month + timedelta(days=rng.randrange(0, 9))
        if paid_on > today:
            continue
        if paid_on.day > 5:
            post(month + timedelta(days=5), "LATE", "Charge", f"Late fee {label}", 7500)
            due += 7500
        if rng.random() < 0.2:
            half = due // 2
            post(paid_on, "PMNT", "Payment", f"Payment {rng.randrange(10**6):06d}", half)
            post(paid_on, "PMNT", "Payment", f"Payment {rng.randrange(10**6):06d}", due - half)
        else:
            post(paid_on, "PMNT", "Payment", f"Payment {rng.randrange(10**6):06d}", due)
    transactions = [t for t in transactions if str(t[3]) <= today.isoformat()]
    last_modified = max([str(t[9]) for t in transactions] + [f"{start.isoformat()}T00:00:00Z"])
    end = _add_months(start, 12)
    row = (
        lease_id,
        account_id,
        property_id,
        unit_id,
        status,
        start.isoformat(),
        end.isoformat(),
        start.isoformat(),
        moved_out.isoformat() if moved_out else None,
        rent,
        last_modified,
    )
    return _Lease(row, people, transactions)


def _email(first: str, last: str, number: int) -> str:
    """An ASCII address for a possibly accented name."""
    local = unicodedata.normalize("NFKD", f"{first}.{last}").encode("ascii", "ignore").decode()
    return f"{local.lower().replace(chr(39), '')}{number}@example.com"


def _fee_schedule(guids: _Guids, property_id: str, index: int) -> list[tuple[object, ...]]:
    """Application, admin, pet and parking fees; the admin fee differs per floor plan."""
    step = index * 500
    fees: list[tuple[object, ...]] = [
        (
            guids.next(),
            property_id,
            "APPF",
            "Application Fee",
            5000 + step,
            None,
            "One Time",
            "Per adult applicant",
        ),
        (guids.next(), property_id, "PETF", "Pet Rent", 3500, None, "Monthly", "Per pet"),
        (
            guids.next(),
            property_id,
            "PARK",
            "Reserved Parking",
            5000,
            None,
            "Monthly",
            "Covered space",
        ),
    ]
    for plan, _name, bedrooms, *_ in FLOOR_PLANS:
        fees.append(
            (
                guids.next(),
                property_id,
                "ADMN",
                "Administrative Fee",
                10000 + 2500 * bedrooms,
                plan,
                "One Time",
                f"Move-in fee, {plan}",
            )
        )
    return fees

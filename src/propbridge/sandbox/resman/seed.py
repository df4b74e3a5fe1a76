"""Deterministic seed data for the sandbox: an account whose properties look like real ones.

Residents who owe money, pay late, pay part, pay ahead, bounce a payment (NSF: the payment is
reversed and a fee charged), former residents who left a balance, notices to vacate, future and
month-to-month leases, roommates, guarantors, dependents, non-resident billing accounts. The same
(seed, size, as-of day) always gives the same ids and amounts, and nothing is dated after the
as-of day. Generation only: it writes through the store and serves nothing.
"""

from __future__ import annotations

import random
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from propbridge.sandbox.resman.store import SandboxStore

CATEGORY_NAMESPACE = uuid.UUID("5b0f2c1e-8f0a-4c57-9a55-2f4c7f0a9e11")


@dataclass(frozen=True)
class Category:
    """A transaction category of the account (ResMan's charge codes)."""

    abbreviation: str
    name: str
    type: str
    gl_number: str
    gl_name: str
    gl_type: str
    is_rent: bool = False
    is_rent_concession: bool = False
    is_one_time_concession: bool = False


CATEGORIES: tuple[Category, ...] = (
    Category("RENT", "Rent", "Charge", "4100", "Rental Income", "Income", is_rent=True),
    Category("PETF", "Pet Fee", "Charge", "4420", "Pet Income", "Income"),
    Category("PARK", "Parking", "Charge", "4430", "Parking Income", "Income"),
    Category("LATE", "Late Fee", "Charge", "4410", "Late Fee Income", "Income"),
    Category("NSF", "NSF Fee", "Charge", "4412", "NSF Fee Income", "Income"),
    Category("UTIL", "Electric Reimbursement", "Charge", "4450", "Utility Income", "Income"),
    Category("WATS", "Water/Sewer", "Charge", "4455", "Water Income", "Income"),
    Category("TRSH", "Trash", "Charge", "4460", "Trash Income", "Income"),
    Category("APPF", "Application Fee", "Charge", "4415", "Application Fees", "Income"),
    Category("ADMN", "Administrative Fee", "Charge", "4405", "Admin Fees", "Income"),
    Category("PEST", "Pest Control", "Charge", "4465", "Pest Control Income", "Income"),
    Category("AMEN", "Amenity Fee", "Charge", "4470", "Amenity Income", "Income"),
    Category("INSR", "Renters Insurance", "Charge", "4475", "Insurance Income", "Income"),
    Category("STOR", "Storage", "Charge", "4480", "Storage Income", "Income"),
    Category(
        "CONC",
        "Rent Concession",
        "Credit",
        "4900",
        "Concessions",
        "Expense",
        is_one_time_concession=True,
    ),
    Category(
        "RCON",
        "Monthly Rent Concession",
        "Credit",
        "4905",
        "Recurring Concessions",
        "Expense",
        is_rent_concession=True,
    ),
    Category("PMNT", "Payment", "Payment", "1100", "Cash", "Bank"),
    Category(
        "DEPO", "Security Deposit", "Deposit", "2200", "Deposits Held", "Other Current Liability"
    ),
)

CATEGORY_TYPES = {c.abbreviation: c.type for c in CATEGORIES}
# ResMan's payment-method vocabulary (reference/resman-api.md §3.3, live-verified enum).
SEEDED_PAYMENT_METHODS = ("ACH", "Credit Card", "Check", "Money Order", "Debit Card", "Cash")
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
# (city, state, zip, IANA time zone)
CITIES = (
    ("San Antonio", "TX", "78245", "America/Chicago"),
    ("Richmond", "VA", "23220", "America/New_York"),
    ("Columbus", "OH", "43215", "America/New_York"),
    ("Tampa", "FL", "33602", "America/New_York"),
    ("Denver", "CO", "80202", "America/Denver"),
    ("Raleigh", "NC", "27601", "America/New_York"),
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
MIDDLE_NAMES = ("Lee", "Ann", "Marie", "José", "Ray", None, None, None)
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
PROSPECT_SOURCES = ("Apartments.com", "Zillow", "Walk-In", "Resident Referral", "Website")
# (code, name, bedrooms, bathrooms, square feet, base market rent in cents)
FLOOR_PLANS = (
    ("A1", "One Bedroom", 1, "1.00", 720, 95000),
    ("B1", "Two Bedroom", 2, "2.00", 980, 125000),
    ("C1", "Three Bedroom", 3, "2.00", 1240, 155000),
)
# How a household pays, with its weight: the mix of a real rent roll.
BEHAVIOURS = (
    ("on time", 55),
    ("late", 14),
    ("partial", 11),
    ("ahead", 8),
    ("bounced", 6),
    ("behind", 6),
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


def _instant(day: date) -> str:
    """Midnight UTC of a day, as the sandbox stamps modification times."""
    return f"{day.isoformat()}T00:00:00Z"


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


def _email(first: str, last: str, number: int) -> str:
    """An ASCII address for a possibly accented name."""
    local = unicodedata.normalize("NFKD", f"{first}.{last}").encode("ascii", "ignore").decode()
    return f"{local.lower().replace(chr(39), '')}{number}@example.com"


class _Rows:
    """The rows of one property, in the order the store takes them."""

    def __init__(self) -> None:
        self.leases: list[tuple[object, ...]] = []
        self.people: list[tuple[object, ...]] = []
        self.accounts: list[tuple[object, ...]] = []
        self.transactions: list[tuple[object, ...]] = []


@dataclass
class _Ledger:
    """One billing account's transactions as they are generated (dates never after `today`)."""

    today: date
    guids: Callable[[], str]
    property_id: str
    account_id: str
    lease_id: str | None
    method: str
    rows: list[tuple[object, ...]] = field(default_factory=list)
    balance: int = 0

    def post(
        self,
        day: date,
        abbreviation: str,
        description: str,
        cents: int,
        reference: str | None = None,
    ) -> str | None:
        """A charge, credit or payment by its category; None when the day is still to come."""
        if day > self.today or cents <= 0:
            return None
        kind = CATEGORY_TYPES[abbreviation]
        transaction_id = self.guids()
        self.rows.append(
            (
                transaction_id,
                self.property_id,
                self.account_id,
                self.lease_id,
                day.isoformat(),
                kind,
                category_id(abbreviation),
                description,
                reference,
                cents,
                _instant(day),
                self.method if kind == "Payment" else None,
                None,
                None,
            )
        )
        self.balance += cents if kind == "Charge" else -cents
        return transaction_id

    def pay(self, day: date, cents: int, number: int) -> str | None:
        """A payment with its reference (a check or confirmation number)."""
        reference = f"{number:08d}"
        return self.post(day, "PMNT", f"Payment {reference}", cents, reference)

    def reverse(self, transaction_id: str, day: date, reason: str) -> bool:
        """Reverse a payment (it stays, marked with the day; a row without category undoes it).

        Assumption (no public capture of a reversal): the reversing row has the type of the row
        it reverses, a negative amount, no category and the same reference."""
        if day > self.today:
            return False
        index = next(i for i, row in enumerate(self.rows) if row[0] == transaction_id)
        row = list(self.rows[index])
        row[10], row[12] = _instant(day), day.isoformat()
        self.rows[index] = tuple(row)
        self.rows.append(
            (
                self.guids(),
                self.property_id,
                self.account_id,
                self.lease_id,
                day.isoformat(),
                row[5],
                None,
                f"Reversal: {reason} ({row[7]})",
                row[8],
                -int(str(row[9])),
                _instant(day),
                row[11],
                None,
                transaction_id,
            )
        )
        self.balance += int(str(row[9]))
        return True


@dataclass
class _Household:
    """Who lives under one lease."""

    people: list[tuple[object, ...]]
    main: tuple[object, ...]


class _PropertySeed:
    """Generates one property's units, leases, people, accounts and ledgers."""

    def __init__(
        self,
        rng: random.Random,
        guids: Callable[[], str],
        today: date,
        month_starts: list[date],
        property_id: str,
    ) -> None:
        self.rng, self.guids, self.today = rng, guids, today
        self.month_starts = month_starts
        self.property_id = property_id
        self.rows = _Rows()

    def household(
        self, lease_id: str, move_in: date, move_out: date | None, stamp: str
    ) -> _Household:
        rng = self.rng
        last = rng.choice(LAST_NAMES)
        people: list[tuple[object, ...]] = []

        def person(
            household_status: str,
            *,
            main: bool = False,
            signer: bool = True,
            guarantor: bool = False,
            dependent: bool = False,
            surname: str | None = None,
        ) -> tuple[object, ...]:
            first = rng.choice(FIRST_NAMES)
            family = surname or rng.choice(LAST_NAMES)
            phone_type = rng.choice(("Mobile", "Mobile", "Home", "Work"))
            row = (
                self.guids(),
                lease_id,
                first,
                rng.choice(MIDDLE_NAMES),
                family,
                None if dependent else _email(first, family, rng.randrange(100)),
                None if dependent else f"804-555-{rng.randrange(10000):04d}",
                None if dependent else phone_type,
                household_status,
                int(main),
                int(main),
                int(signer and not dependent),
                int(guarantor),
                int(dependent),
                int(guarantor),
                move_in.isoformat(),
                move_out.isoformat() if move_out and not guarantor else None,
                ("Relocation" if move_out and main else None),
                stamp,
            )
            people.append(row)
            return row

        main = person("Head of Household", main=True, surname=last)
        for _ in range(rng.choices((0, 1, 2), (50, 40, 10))[0]):
            person("Roommate")
        if rng.random() < 0.15:
            person("Dependent", signer=False, dependent=True, surname=last)
        if rng.random() < 0.1:
            person("Guarantor", guarantor=True)
        return _Household(people, main)

    def lease(
        self,
        unit: tuple[object, ...],
        rent: int,
        start: date,
        status: str,
        *,
        moved_out: date | None = None,
        notice: date | None = None,
        behaviour: str = "on time",
    ) -> str:
        """One lease, its people, its billing account and its ledger; returns the lease id."""
        rng, today = self.rng, self.today
        lease_id, account_id = self.guids(), self.guids()
        application = min(start - timedelta(days=rng.randrange(14, 40)), today)
        approval: date | None = application + timedelta(days=2)
        signed: date | None = application + timedelta(days=5)
        future = start > today
        if future and rng.random() < 0.5:
            signed = None
        approval, signed = (d if d and d <= today else None for d in (approval, signed))
        end = _add_months(start, 12)
        moved_in = None if future else start
        scheduled_out = moved_out or (notice + timedelta(days=30) if notice else None)
        reconciled = moved_out + timedelta(days=14) if moved_out else None
        if reconciled and reconciled > today:
            reconciled = None
        ledger = _Ledger(
            today,
            self.guids,
            self.property_id,
            account_id,
            lease_id,
            rng.choice(SEEDED_PAYMENT_METHODS),
        )
        if future:
            # An applicant: the application fee, paid the same day.
            ledger.post(application, "APPF", "Application Fee", 5000)
            ledger.pay(application, 5000, rng.randrange(10**8))
        else:
            self._ledger(ledger, rent, start, moved_out, behaviour)
        events = [d for d in (application, approval, signed, moved_in, notice, moved_out) if d]
        last_modified = max(
            [_instant(min(max(events), today))] + [str(row[10]) for row in ledger.rows]
        )
        created = _instant(application)
        household = self.household(lease_id, start, moved_out, created)
        self.rows.people.extend(household.people)
        self.rows.leases.append(
            (
                lease_id,
                account_id,
                self.property_id,
                unit[0],
                status,
                application.isoformat(),
                approval.isoformat() if approval else None,
                signed.isoformat() if signed else None,
                start.isoformat(),
                end.isoformat(),
                start.isoformat(),
                moved_in.isoformat() if moved_in else None,
                notice.isoformat() if notice else None,
                scheduled_out.isoformat() if scheduled_out else None,
                moved_out.isoformat() if moved_out else None,
                reconciled.isoformat() if reconciled else None,
                rent,
                self.guids(),
                rng.choice(PROSPECT_SOURCES),
                f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                None,
                created,
                last_modified,
            )
        )
        main = household.main
        self.rows.accounts.append(
            (
                account_id,
                self.property_id,
                "Lease",
                lease_id,
                main[0],
                main[2],
                main[3],
                main[4],
                main[5],
                main[6],
                last_modified,
            )
        )
        self.rows.transactions.extend(ledger.rows)
        return lease_id

    def _ledger(
        self, ledger: _Ledger, rent: int, start: date, moved_out: date | None, behaviour: str
    ) -> None:
        """Monthly charges and the household's payments, as `behaviour` pays them."""
        rng = self.rng
        months = [
            m
            for m in self.month_starts
            if m >= start.replace(day=1) and not (moved_out and m > moved_out)
        ]
        has_pet, has_parking = rng.random() < 0.3, rng.random() < 0.4
        has_insurance = rng.random() < 0.6
        odd_month = rng.randrange(len(months)) if months else -1
        unpaid_tail = rng.choice((1, 2)) if behaviour == "behind" else 0
        leaves_owing = moved_out is not None and rng.random() < 0.3
        for index, month in enumerate(months):
            label = month.strftime("%B %Y")
            before = ledger.balance
            ledger.post(month, "RENT", f"Rent {label}", rent)
            for abbreviation, name, cents in (
                ("UTIL", "Electric", rng.randrange(3000, 9000)),
                ("WATS", "Water/Sewer", rng.randrange(2500, 6000)),
                ("TRSH", "Trash", 1500),
                ("PEST", "Pest control", 300),
                ("AMEN", "Amenity fee", 2500),
            ):
                ledger.post(month + timedelta(days=2), abbreviation, f"{name} {label}", cents)
            if has_pet:
                ledger.post(month, "PETF", f"Pet rent {label}", 3500)
            if has_insurance:
                ledger.post(month, "INSR", f"Renters insurance {label}", 1250)
            if has_parking:
                ledger.post(month, "PARK", f"Parking {label}", 5000)
            if rng.random() < 0.05:
                ledger.post(month, "CONC", f"Concession {label}", 5000)
            due = ledger.balance - before
            last = index == len(months) - 1
            if (behaviour == "behind" and index >= len(months) - unpaid_tail) or (
                leaves_owing and last
            ):
                continue
            day = month + timedelta(days=rng.randrange(0, 5))
            if behaviour == "late" and rng.random() < 0.6:
                day = month + timedelta(days=rng.randrange(6, 12))
            if day > ledger.today:
                continue
            if day.day > 5:
                ledger.post(month + timedelta(days=5), "LATE", f"Late fee {label}", 7500)
                due += 7500
            number = rng.randrange(10**8)
            if behaviour == "partial" and rng.random() < 0.5:
                ledger.pay(day, due * rng.randrange(60, 95) // 100, number)
            elif behaviour == "ahead" and index == odd_month:
                ledger.pay(day, due + rent, number)
            elif behaviour == "bounced" and index == odd_month:
                paid = ledger.pay(day, due, number)
                bounced = day + timedelta(days=3)
                if paid and ledger.reverse(paid, bounced, "NSF"):
                    ledger.post(bounced, "NSF", f"NSF fee {label}", 3500)
                    ledger.pay(bounced + timedelta(days=4), due + 3500, rng.randrange(10**8))
            elif rng.random() < 0.2:
                half = due // 2
                ledger.pay(day, half, number)
                ledger.pay(day, due - half, rng.randrange(10**8))
            else:
                ledger.pay(day, due, number)

    def unit_leases(self, unit: tuple[object, ...], rent: int) -> None:
        """The unit's current lease; before it, when it began inside the ledger window, the
        former one; after it, when notice was given, sometimes the next household's."""
        rng, today = self.rng, self.today
        first_month = today.replace(day=1)
        start = _add_months(first_month, -rng.randrange(1, len(self.month_starts) + 12))
        if start > self.month_starts[0]:
            moved_out = start - timedelta(days=1)
            self.lease(
                unit,
                rent - 3000,
                _add_months(start, -14),
                "Former",
                moved_out=moved_out,
                notice=moved_out - timedelta(days=30),
                behaviour=rng.choices(*zip(*BEHAVIOURS, strict=True))[0],
            )
        behaviour = rng.choices(*zip(*BEHAVIOURS, strict=True))[0]
        notice = None
        if _add_months(start, 12) < today:
            status = "Month to Month"
        elif behaviour == "behind" and rng.random() < 0.3:
            status = "Under Eviction"
        elif rng.random() < 0.1:
            status, notice = "Notice to Vacate", today - timedelta(days=rng.randrange(3, 25))
        else:
            status = "Current"
        self.lease(unit, rent, start, status, notice=notice, behaviour=behaviour)
        if notice is not None and rng.random() < 0.6:
            leaving = notice + timedelta(days=30)
            next_start = _add_months(leaving.replace(day=1), 1)
            self.lease(unit, rent + 2500, next_start, "Pending")

    def transfers(self) -> None:
        """Some households that left a unit moved to another of the property: their former
        lease names the lease they transferred to."""
        leases = self.rows.leases
        current = [i for i, row in enumerate(leases) if row[4] in ("Current", "Month to Month")]
        former = [i for i, row in enumerate(leases) if row[4] == "Former"]
        if not current:
            return
        # About 8 % of them, and at least one per property (a small seed shows the shape too).
        chosen = [i for i in former if self.rng.random() < 0.08] or former[:1]
        for index in chosen:
            row, target = leases[index], leases[self.rng.choice(current)]
            if target[3] != row[3]:
                leases[index] = (*row[:20], target[0], *row[21:])

    def non_resident_account(self) -> None:
        """Someone billed without a lease (here: a neighbour renting storage)."""
        rng = self.rng
        account_id, person_id = self.guids(), self.guids()
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        ledger = _Ledger(
            self.today, self.guids, self.property_id, account_id, None, rng.choice(("Check", "ACH"))
        )
        for month in self.month_starts[-6:]:
            ledger.post(month, "STOR", f"Storage {month.strftime('%B %Y')}", 4500)
            if rng.random() < 0.85:
                ledger.pay(month + timedelta(days=rng.randrange(0, 9)), 4500, rng.randrange(10**8))
        stamp = max([_instant(self.month_starts[-6:][0])] + [str(r[10]) for r in ledger.rows])
        self.rows.accounts.append(
            (
                account_id,
                self.property_id,
                "Non-Resident",
                None,
                person_id,
                first,
                None,
                last,
                _email(first, last, rng.randrange(100)),
                f"804-555-{rng.randrange(10000):04d}",
                stamp,
            )
        )
        self.rows.transactions.extend(ledger.rows)


def _guid_source(rng: random.Random) -> Callable[[], str]:
    def next_guid() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    return next_guid


def seed_store(
    store: SandboxStore,
    size: SeedSize,
    as_of: date,
    on_property: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Fill an empty store with the account as it stands on `as_of` (nothing after that day);
    returns the number of rows made per table. `on_property` hears how many properties are
    done after each one (a large seed takes seconds)."""
    rng = random.Random(size.seed)
    guids = _guid_source(rng)
    store.insert_many(
        "categories",
        (
            "category_id",
            "abbreviation",
            "name",
            "type",
            "is_rent",
            "is_rent_concession",
            "is_one_time_concession",
            "gl_account_id",
            "gl_number",
            "gl_name",
            "gl_type",
        ),
        [
            (
                category_id(c.abbreviation),
                c.abbreviation,
                c.name,
                c.type,
                int(c.is_rent),
                int(c.is_rent_concession),
                int(c.is_one_time_concession),
                str(uuid.uuid5(CATEGORY_NAMESPACE, "gl" + c.gl_number)),
                c.gl_number,
                c.gl_name,
                c.gl_type,
            )
            for c in CATEGORIES
        ],
    )
    counts = {
        "properties": 0,
        "units": 0,
        "leases": 0,
        "people": 0,
        "billing_accounts": 0,
        "transactions": 0,
    }
    month_starts = _month_starts(as_of, size.months)
    for p in range(size.properties):
        property_id = guids()
        _seed_property(store, rng, guids, as_of, month_starts, property_id, p, size.units, counts)
        if on_property is not None:
            on_property(p + 1)
    store.set_meta("seeded", "yes")
    store.set_meta("seed_date", as_of.isoformat())
    return counts


PROPERTY_COLUMNS = (
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
    "time_zone",
    "application_url",
    "manager_person_id",
    "manager_first_name",
    "manager_last_name",
)
FEE_COLUMNS = (
    "fee_id",
    "property_id",
    "abbreviation",
    "name",
    "amount_cents",
    "floor_plan",
    "frequency",
    "description",
)
UNIT_TYPE_COLUMNS = (
    "unit_type_id",
    "property_id",
    "name",
    "description",
    "bedrooms",
    "bathrooms",
    "square_feet",
    "market_rent_cents",
    "image_url",
)
UNIT_COLUMNS = (
    "unit_id",
    "property_id",
    "unit_type_id",
    "unit_number",
    "building_id",
    "building",
    "floor",
    "square_feet",
    "market_rent_cents",
    "available_for_online_marketing",
)


def _property_row(guids: Callable[[], str], property_id: str, index: int) -> tuple[Any, ...]:
    name = PROPERTY_NAMES[index % len(PROPERTY_NAMES)] + (
        "" if index < len(PROPERTY_NAMES) else f" {index}"
    )
    city, state, zip_code, time_zone = CITIES[index % len(CITIES)]
    abbreviation = f"P{index + 1:03d}"
    return (
        property_id,
        abbreviation,
        name,
        "Student" if index % 7 == 6 else "Multi-Family",
        f"{1500 + index * 7} Cable Ranch Rd",
        city,
        state,
        zip_code,
        f"804-555-{1000 + index:04d}",
        f"office{index + 1}@example.com",
        time_zone,
        f"https://apply.example.com/{abbreviation.lower()}",
        guids(),
        FIRST_NAMES[index % 20],
        LAST_NAMES[(index + 3) % 20],
    )


def _unit_types(
    guids: Callable[[], str], property_id: str, abbreviation: str
) -> list[tuple[Any, ...]]:
    return [
        (
            guids(),
            property_id,
            code,
            description,
            bedrooms,
            bathrooms,
            square_feet,
            rent,
            f"https://images.example.com/{abbreviation.lower()}/{code.lower()}.jpg",
        )
        for code, description, bedrooms, bathrooms, square_feet, rent in FLOOR_PLANS
    ]


def _units(
    rng: random.Random,
    guids: Callable[[], str],
    seeder: _PropertySeed,
    unit_types: list[tuple[Any, ...]],
    unit_count: int,
) -> list[tuple[Any, ...]]:
    """A property's units, each (unless vacant) with its leases, residents and ledger."""
    buildings: dict[int, str] = {}
    units = []
    for u in range(unit_count):
        unit_type = unit_types[u % 3]
        building = u // 20 + 1
        building_id = buildings.setdefault(building, guids())
        rent = int(str(unit_type[7])) + rng.randrange(0, 10) * 1000
        unit = (
            guids(),
            seeder.property_id,
            unit_type[0],
            f"{building}{u % 20 + 1:02d}",
            building_id,
            f"Building {building}",
            str(u % 20 // 5 + 1),
            unit_type[6],
            rent,
            int(rng.random() < 0.9),
        )
        units.append(unit)
        if rng.random() < 0.08:
            continue  # a vacant unit
        seeder.unit_leases(unit, rent)
    return units


def _seed_property(
    store: SandboxStore,
    rng: random.Random,
    guids: Callable[[], str],
    as_of: date,
    month_starts: list[date],
    property_id: str,
    index: int,
    unit_count: int,
    counts: dict[str, int],
) -> None:
    row = _property_row(guids, property_id, index)
    store.insert_many("properties", PROPERTY_COLUMNS, [row])
    counts["properties"] += 1
    store.insert_many("fees", FEE_COLUMNS, _fee_schedule(guids, property_id, index))
    unit_types = _unit_types(guids, property_id, row[1])
    store.insert_many("unit_types", UNIT_TYPE_COLUMNS, unit_types)
    seeder = _PropertySeed(rng, guids, as_of, month_starts, property_id)
    units = _units(rng, guids, seeder, unit_types, unit_count)
    for _ in range(2):
        seeder.non_resident_account()
    seeder.transfers()
    store.insert_many("units", UNIT_COLUMNS, units)
    rows = seeder.rows
    store.insert_many("leases", LEASE_COLUMNS, rows.leases)
    store.insert_many("people", PEOPLE_COLUMNS, rows.people)
    store.insert_many("billing_accounts", ACCOUNT_COLUMNS, rows.accounts)
    store.insert_many("transactions", TRANSACTION_COLUMNS, rows.transactions)
    counts["units"] += len(units)
    counts["leases"] += len(rows.leases)
    counts["people"] += len(rows.people)
    counts["billing_accounts"] += len(rows.accounts)
    counts["transactions"] += len(rows.transactions)


LEASE_COLUMNS = (
    "lease_id",
    "billing_account_id",
    "property_id",
    "unit_id",
    "status",
    "application_date",
    "approval_date",
    "lease_signed_date",
    "start_date",
    "end_date",
    "scheduled_move_in_date",
    "move_in_date",
    "notice_to_vacate_date",
    "scheduled_move_out_date",
    "move_out_date",
    "move_out_reconciliation_date",
    "rent_cents",
    "prospect_id",
    "prospect_source",
    "leasing_agent",
    "transferred_to",
    "created_at",
    "last_modified",
)
PEOPLE_COLUMNS = (
    "person_id",
    "lease_id",
    "first_name",
    "middle_name",
    "last_name",
    "email",
    "phone",
    "phone_type",
    "household_status",
    "is_main_contact",
    "is_head_of_household",
    "is_lease_signer",
    "is_guarantor",
    "is_dependent",
    "is_excluded_from_occupancy",
    "move_in_date",
    "move_out_date",
    "move_out_reason",
    "last_modified",
)
ACCOUNT_COLUMNS = (
    "billing_account_id",
    "property_id",
    "account_type",
    "lease_id",
    "person_id",
    "first_name",
    "middle_name",
    "last_name",
    "email",
    "phone",
    "last_modified",
)
TRANSACTION_COLUMNS = (
    "transaction_id",
    "property_id",
    "billing_account_id",
    "lease_id",
    "date",
    "type",
    "category_id",
    "description",
    "reference",
    "amount_cents",
    "modified_at",
    "payment_method",
    "date_reversed",
    "reverses",
)


def _fee_schedule(
    guids: Callable[[], str], property_id: str, index: int
) -> Iterator[tuple[object, ...]]:
    """Application, pet and parking fees; the admin fee differs per floor plan."""
    step = index * 500
    yield (
        guids(),
        property_id,
        "APPF",
        "Application Fee",
        5000 + step,
        None,
        "One Time",
        "Per adult applicant",
    )
    yield (guids(), property_id, "PETF", "Pet Rent", 3500, None, "Monthly", "Per pet")
    yield (guids(), property_id, "PARK", "Reserved Parking", 5000, None, "Monthly", "Covered space")
    for plan, _name, bedrooms, *_ in FLOOR_PLANS:
        yield (
            guids(),
            property_id,
            "ADMN",
            "Administrative Fee",
            10000 + 2500 * bedrooms,
            plan,
            "One Time",
            f"Move-in fee, {plan}",
        )

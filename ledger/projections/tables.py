"""The read-model tables and views: the interface reporting services query (documented in the README)."""

from __future__ import annotations

from dataclasses import dataclass

MONEY, TEXT, INT, DATE, TIME = "money", "text", "int", "date", "time"


@dataclass(frozen=True)
class Table:
    name: str
    key: tuple[str, ...]
    columns: dict[str, str]  # name -> MONEY | TEXT | INT | DATE | TIME
    doc: str

    @property
    def money_columns(self) -> frozenset[str]:
        return frozenset(c for c, t in self.columns.items() if t == MONEY)


ACCOUNT_BALANCES = Table(
    "account_balances", ("billing_account_id",),
    {
        "billing_account_id": TEXT, "account_ref": TEXT, "customer_id": TEXT, "currency": TEXT, "rating_type": TEXT,
        "status": TEXT, "balance": MONEY, "unbilled": MONEY, "unbilled_count": INT, "receivable": MONEY,
        "credit_balance": MONEY, "prepaid_balance": MONEY, "time_zone": TEXT, "last_activity": TIME, "version": INT,
    },
    "One row per billing account: balance (what the customer owes; negative when in credit) = unbilled + "
    "receivable (open bills' remaining) - credit_balance - prepaid_balance; time_zone: the account's (its days).",
)

BILLS = Table(
    "bills", ("bill_id",),
    {
        "bill_id": TEXT, "billing_account_id": TEXT, "account_ref": TEXT, "bill_number": TEXT, "run_type": TEXT,
        "cycle_id": TEXT, "currency": TEXT, "state": TEXT, "billing_period_start": DATE, "billing_period_end": DATE,
        "bill_date": DATE, "payment_due_date": DATE, "tax_excluded_amount": MONEY, "tax_included_amount": MONEY,
        "amount_due": MONEY, "allocated_amount": MONEY, "remaining_amount": MONEY, "last_activity": TIME,
        "version": INT,
    },
    "One row per CustomerBill (TMF678): state, amounts, due date, what payments have covered.",
)

BILL_ALLOCATIONS = Table(
    "bill_allocations", ("bill_id", "version"),
    {"bill_id": TEXT, "version": INT, "payment_id": TEXT, "source": TEXT, "amount": MONEY, "recorded_at": TIME},
    "Each payment (or credit balance, or charge prepayment) applied to a bill; a reversal is a negative row.",
)

PAYMENTS = Table(
    "payments", ("payment_id",),
    {
        "payment_id": TEXT, "billing_account_id": TEXT, "account_ref": TEXT, "external_reference": TEXT,
        "amount": MONEY, "currency": TEXT, "method": TEXT, "payer_ref": TEXT, "payment_date": TIME,
        "allocated_amount": MONEY, "credited_to_balance": MONEY, "status": TEXT, "reversal_reason": TEXT,
        "reversed_at": TIME, "last_activity": TIME, "version": INT,
    },
    "One row per CustomerPayment (TMF676): amount, how much went to bills and charges, what became credit, "
    "and its reversal.",
)

CUSTOMER_GROUPS = Table(
    "customer_groups", ("group_id",),
    {
        "group_id": TEXT, "group_ref": TEXT, "name": TEXT, "state": TEXT, "discount_rate": MONEY, "rate_from": DATE,
        "bill_presentation_media": TEXT, "last_activity": TIME, "version": INT,
    },
    "One row per customer group: its state and its latest discount rate (in force from rate_from; null: from the "
    "beginning).",
)

GROUP_MEMBERS = Table(
    "group_members", ("group_id", "customer_ref", "from_date"),
    {"group_id": TEXT, "group_ref": TEXT, "customer_ref": TEXT, "from_date": DATE, "until_date": DATE,
     "recorded_at": TIME},
    "Each membership of a customer in a group: its days from_date..until_date (null: open-ended; a cancelled one "
    "ends before it starts). A group's totals take the bills of its members' accounts dated within a membership.",
)

PRODUCT_OFFERINGS = Table(
    "product_offerings", ("offering_id",),
    {"offering_id": TEXT, "offering_ref": TEXT, "name": TEXT, "lifecycle_status": TEXT, "prices": INT,
     "created_at": TIME, "last_activity": TIME, "version": INT},
    "One row per product offering (TMF620): its name, lifecycle status and how many prices it has.",
)

OFFERING_PRICES = Table(
    "offering_prices", ("offering_id", "price_id"),
    {"offering_id": TEXT, "offering_ref": TEXT, "price_id": TEXT, "price_type": TEXT, "currency": TEXT,
     "recurring_period": TEXT, "timing": TEXT, "versions": INT, "recorded_at": TIME},
    "One row per price of an offering (TMF620 productOfferingPrice): its terms and how many versions it has "
    "(the amounts and validity periods stay in the event store).",
)

SUBSCRIPTIONS = Table(
    "subscriptions", ("subscription_id",),
    {"subscription_id": TEXT, "subscription_ref": TEXT, "billing_account_id": TEXT, "account_ref": TEXT,
     "start_date": DATE, "end_date": DATE, "offering_ref": TEXT, "quantity": INT, "state": TEXT,
     "phase_from": DATE, "reconciled_until": DATE, "created_at": TIME, "last_activity": TIME, "version": INT},
    "One row per subscription (TMF637 product): its days start_date..end_date (null: until terminated) and its "
    "last phase (offering, quantity, state active or suspended, from phase_from); its status on a day comes from "
    "subscription_phases.",
)

SUBSCRIPTION_PHASES = Table(
    "subscription_phases", ("subscription_id", "from_date"),
    {"subscription_id": TEXT, "from_date": DATE, "offering_ref": TEXT, "quantity": INT, "state": TEXT},
    "Each phase of a subscription: from from_date on (until the next phase), its offering, quantity and state.",
)

PAYMENT_METHODS = Table(
    "payment_methods", ("method_id",),
    {"method_id": TEXT, "method_ref": TEXT, "owner_type": TEXT, "owner_ref": TEXT, "method_type": TEXT,
     "status": TEXT, "valid_to": DATE, "created_at": TIME, "last_activity": TIME, "version": INT},
    "One row per payment method (TMF670): owner (a customer or a billing account), type, status (active or "
    "disabled; expired is an active one past valid_to) - never its name or details.",
)

OFFSETS = Table(
    "projection_offsets", ("consumer", "topic", "partition"),
    {"consumer": TEXT, "topic": TEXT, "partition": INT, "next_offset": INT},
    "Where the projection consumer is in each partition; written in the same transaction as the rows.",
)

TABLES = (ACCOUNT_BALANCES, BILLS, BILL_ALLOCATIONS, PAYMENTS, CUSTOMER_GROUPS, GROUP_MEMBERS, PRODUCT_OFFERINGS,
          OFFERING_PRICES, SUBSCRIPTIONS, SUBSCRIPTION_PHASES, PAYMENT_METHODS, OFFSETS)

_SQL_TYPES = {
    "postgres": {MONEY: "numeric", TEXT: "text", INT: "bigint", DATE: "date", TIME: "timestamptz"},
    "sqlite": {MONEY: "TEXT", TEXT: "TEXT", INT: "INTEGER", DATE: "TEXT", TIME: "TEXT"},
}

# Overdue depends on today, so it is a view over the tables rather than a stored figure.
ACCOUNT_OVERVIEW_VIEW = """
CREATE VIEW account_overview AS
SELECT a.*,
       COALESCE((SELECT SUM(b.remaining_amount) FROM bills b
                 WHERE b.billing_account_id = a.billing_account_id AND b.remaining_amount > 0
                   AND b.payment_due_date < {today}), 0) AS overdue_amount,
       (SELECT COUNT(*) FROM bills b
        WHERE b.billing_account_id = a.billing_account_id AND b.remaining_amount > 0) AS open_bills
FROM account_balances a
"""

OVERDUE_BILLS_VIEW = """
CREATE VIEW overdue_bills AS
SELECT * FROM bills WHERE remaining_amount > 0 AND payment_due_date < {today}
"""

# A group's totals: the bills of its members' accounts whose bill date falls within a membership (attribution at
# the bill date; the group's rows only need its memberships, so the arrival order of events does not matter).
GROUP_BILLS_SELECT = """
SELECT g.group_ref, g.name, b.currency, b.amount_due, b.allocated_amount, b.remaining_amount
FROM bills b
JOIN account_balances a ON a.billing_account_id = b.billing_account_id
JOIN group_members m ON m.customer_ref = a.customer_id AND b.bill_date >= m.from_date
                    AND (m.until_date IS NULL OR b.bill_date <= m.until_date)
JOIN customer_groups g ON g.group_id = m.group_id
"""

GROUP_TOTALS_VIEW = """
CREATE VIEW group_totals AS
SELECT group_ref, name, currency, COUNT(*) AS bills, SUM(amount_due) AS billed, SUM(allocated_amount) AS paid,
       SUM(remaining_amount) AS outstanding
FROM ({select}) AS group_bills
GROUP BY group_ref, name, currency
"""

_TODAY = {"postgres": "CURRENT_DATE"}


def ddl(dialect: str) -> list[str]:
    """CREATE statements for every table and view, in order."""
    types = _SQL_TYPES[dialect]
    statements = []
    for table in TABLES:
        cols = ", ".join(f"{name} {types[kind]}" + (" NOT NULL" if name in table.key else "")
                         for name, kind in table.columns.items())
        statements.append(f"CREATE TABLE IF NOT EXISTS {table.name} ({cols}, PRIMARY KEY ({', '.join(table.key)}))")
    statements.append("CREATE INDEX IF NOT EXISTS bills_by_account ON bills (billing_account_id)")
    statements.append("CREATE INDEX IF NOT EXISTS payments_by_account ON payments (billing_account_id)")
    statements.append("CREATE INDEX IF NOT EXISTS group_members_by_customer ON group_members (customer_ref)")
    statements.append("CREATE INDEX IF NOT EXISTS subscriptions_by_account ON subscriptions (account_ref)")
    statements.append("CREATE INDEX IF NOT EXISTS payment_methods_by_owner ON payment_methods (owner_ref)")
    if dialect == "postgres":  # SQLite keeps money as exact text, so its readers compute overdue in Python
        statements += [view.format(today=_TODAY[dialect]).replace("CREATE VIEW", "CREATE OR REPLACE VIEW")
                       for view in (ACCOUNT_OVERVIEW_VIEW, OVERDUE_BILLS_VIEW)]
        statements.append(GROUP_TOTALS_VIEW.format(select=GROUP_BILLS_SELECT).replace("CREATE VIEW",
                                                                                      "CREATE OR REPLACE VIEW"))
    return statements

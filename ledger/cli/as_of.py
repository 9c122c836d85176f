"""Text of an account's state as of a moment, and of one figure explained (`ledger history --as-of / --explain`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ledger.cli.output import money, stamp, table

_SHOWN_ENTRIES = 20  # the unbilled entries listed; a long account's rest is counted


def render_as_of(view: dict[str, Any]) -> str:
    cur = view["currency"]
    m = lambda v: f"{money(v, cur)} {cur}"  # noqa: E731
    lines = [
        f"account {view['account_id']} as of {stamp(view['as_of'])} ({view['local_date']} in {view['time_zone']}), "
        f"basis {view['basis']}: {view['rating_type']}, opened {stamp(view['opened_at'])}",
        f"  status           {view['status']}",
        f"  balance          {m(view['balance'])}   (what the customer owed; negative: in credit)",
        f"  unbilled         {m(view['unbilled'])}   ({len(view['unbilled_entries'])} entries"
        + (f", {m(view['paid_ahead'])} of it already paid)" if _nonzero(view["paid_ahead"]) else ")"),
        f"  receivable       {m(view['receivable'])}   (open bills; overdue {m(view['overdue'])})",
        f"  credit balance   {m(view['credit_balance'])}",
        f"  prepaid balance  {m(view['prepaid_balance'])}",
        "  identity         " + ("holds" if view["identity_holds"] else "DOES NOT HOLD")
        + ": balance = unbilled - paid ahead + receivable - credit balance - prepaid balance",
        "",
    ]
    lines += _bills(view["bills"], cur) + [""] + _payments(view["payments"], cur) + [""]
    if view["refunds"]:
        lines += ["refunds:", table(["REFUND", "EFFECTIVE", "METHOD", "AMOUNT"],
                                    [[r["refund_id"], stamp(r["effective_at"]), r["method"], money(r["amount"], cur)]
                                     for r in view["refunds"]], right=[3]), ""]
    entries = view["unbilled_entries"]
    if entries:
        lines.append("unbilled entries:")
        lines.append(table(["ENTRY", "KIND", "EFFECTIVE", "AMOUNT", "PAID AHEAD", "DESCRIPTION"],
                           [[e["entry_id"], e["kind"], stamp(e["effective_at"]), money(e["amount"], cur),
                             money(e["paid_ahead"], cur), e["description"]] for e in entries[:_SHOWN_ENTRIES]],
                           right=[3, 4]))
        if len(entries) > _SHOWN_ENTRIES:
            lines.append(f"... and {len(entries) - _SHOWN_ENTRIES} more (--json lists them all)")
    else:
        lines.append("unbilled entries: none")
    return "\n".join(lines)


def _bills(bills: list[dict[str, Any]], cur: str) -> list[str]:
    if not bills:
        return ["bills: none"]
    rows = []
    for b in bills:
        cycle = b["cycle"]
        origin = b["run_type"]
        if cycle:
            by = ", ".join(f"{t['by']} ({t['type']}{', early run' if t['early_run'] else ''})" for t in cycle["triggers"])
            origin = f"cycle {cycle['specification']} {cycle['period_start']}, triggered by {by}"
        rows.append([b["bill_number"], origin, b["bill_date"], b["payment_due_date"], money(b["amount_due"], cur),
                     money(b["remaining"], cur), b["state"], "OVERDUE" if b["overdue"] else "no"])
    lines = ["bills:", table(["BILL", "FROM", "BILL DATE", "DUE DATE", "AMOUNT DUE", "REMAINING", "STATE", "OVERDUE"],
                             rows, right=[4, 5])]
    for b in bills:
        for applied in b["applied"]:
            who = f" {applied['payment']}" if applied["payment"] else ""
            lines.append(f"  {b['bill_number']}: {applied['source']}{who} {money(applied['amount'], cur)} "
                         f"(effective {stamp(applied['effective_at'])})")
    return lines


def _payments(payments: list[dict[str, Any]], cur: str) -> list[str]:
    if not payments:
        return ["payments: none"]
    rows = []
    for p in payments:
        allocations = "; ".join(f"{a['target']} {a['target_id']} {money(a['amount'], cur)} {a['state']}"
                                for a in p["allocations"])
        if _nonzero(p["to_balance"]):
            allocations += ("; " if allocations else "") + f"{money(p['to_balance'], cur)} to balance"
        rows.append([p["external_reference"], p["method"], stamp(p["effective_at"]), money(p["amount"], cur),
                     p["status"] + (f" (reversed {stamp(p['reversed_at'])})" if p["reversed_at"] else ""), allocations])
    return ["payments:", table(["PAYMENT", "METHOD", "EFFECTIVE", "AMOUNT", "STATUS", "ALLOCATIONS"], rows, right=[3])]


def render_explanation(view: dict[str, Any]) -> str:
    cur = view["currency"]
    lines = [f"{view['figure']} of account {view['account_id']} as of {stamp(view['as_of'])}, basis {view['basis']}: "
             f"{money(view['amount'], cur)} {cur}"]
    if view["lines"]:
        lines.append(table(["RECORDED", "EFFECTIVE", "KIND", "REF", "AMOUNT", "DESCRIPTION"],
                           [[stamp(r["recorded_at"]), stamp(r["effective_at"]), r["kind"], r["ref"], money(r["amount"], cur),
                             r["description"]] for r in view["lines"]], right=[4]))
    else:
        lines.append("no event contributes to it")
    left = view["items_left_out"]
    if left:
        lines.append(f"({left} entries or bills whose movements cancel out by then are left out)")
    lines.append(f"the {len(view['lines'])} lines sum to {money(view['amount'], cur)} {cur}")
    return "\n".join(lines)


def _nonzero(amount: Any) -> bool:
    try:
        return Decimal(str(amount)) != 0
    except ArithmeticError:
        return False

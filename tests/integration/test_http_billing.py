"""TMF678 and TMF676 over HTTP: charges, cycle runs, bills, bills on demand, payments, refunds and reversals."""

from __future__ import annotations

import time
from typing import Any

from tests.support.api import BILLS, CHARGES, CYCLES, ON_DEMAND, PAYMENTS, REFUNDS, Api, charge_body, money, payment_body, set_up

OCT = "2026-10-07T09:15:00+02:00"


def _run_october(api: Api, **extra: Any) -> dict[str, Any]:
    body = {"billCycleSpecification": {"id": "monthly"}, "validFor": {"startDateTime": "2026-10-01"},
            "trigger": {"type": "person", "by": "alice", "reason": "October bill run"}, **extra}
    started = api.post(CYCLES, body)
    assert started.status_code in (200, 202), started.text
    for _ in range(500):
        run = api.get(started.headers.get("Location") or started.json()["href"]).json()
        if run["state"] == "done":
            return run
        time.sleep(0.02)
    raise AssertionError(f"the cycle run did not finish: {run}")


def _bills(api: Api, account: str) -> list[dict[str, Any]]:
    return api.get(BILLS, params={"billingAccount.id": account}).json()


def test_a_posted_charge_is_read_back(api: Api) -> None:
    """POST appliedCustomerBillingRate answers 201; GET by its id shows the amounts as decimal strings."""
    set_up(api, "ACME")
    posted = api.post(CHARGES, charge_body("ACME", "usage-001", "18.456789", OCT, taxes=[("VAT", "20", "3.691358")]),
                      role="rating")
    assert posted.status_code == 201, posted.text
    got = api.get(posted.headers["Location"]).json()
    assert got["id"] == "ACME:usage-001" and got["isBilled"] is False
    assert got["taxIncludedAmount"] == money("22.148147") and got["appliedTax"][0]["taxRate"] == "20"


def test_a_charge_sent_twice_is_applied_once(api: Api) -> None:
    """The charge id makes it idempotent without the header: the second POST answers 200, the balance is once."""
    set_up(api, "ACME")
    assert api.post(CHARGES, charge_body("ACME", "c1", "10.00", OCT), role="rating").status_code == 201
    assert api.post(CHARGES, charge_body("ACME", "c1", "10.00", OCT), role="rating").status_code == 200
    assert api.post(CHARGES, charge_body("ACME", "c1", "11.00", OCT), role="rating").status_code == 409
    balance = {b["balanceType"]: b["amount"]["value"] for b in api.get("/tmf-api/accountManagement/v4/billingAccount/ACME")
               .json()["accountBalance"]}["balance"]
    assert balance == "10.00"


def test_a_charge_the_rules_refuse_is_422(api: Api) -> None:
    """A charge in another currency than the account's is refused with the ledger's code."""
    set_up(api, "ACME")
    response = api.post(CHARGES, charge_body("ACME", "c1", "10.00", OCT, currency="USD"), role="rating")
    assert response.status_code == 422 and response.json()["code"] == "currency_mismatch"


def test_a_batch_applies_the_good_charges_and_reports_the_bad(api: Api) -> None:
    """The batch form: applied, duplicates, and each rejected item with its index and code."""
    set_up(api, "ACME")
    api.post(CHARGES, charge_body("ACME", "c0", "1.00", OCT), role="rating")
    batch = [charge_body("ACME", "c0", "1.00", OCT), charge_body("ACME", "c1", "2.00", OCT),
             charge_body("NOPE", "c2", "3.00", OCT), {"id": "c3", "taxExcludedAmount": 5}]
    result = api.post(f"{CHARGES}/batch", batch, role="rating").json()
    assert (result["applied"], result["duplicates"]) == (1, 1)
    assert [(r["index"], r["code"]) for r in result["rejected"]] == [(2, "account_not_found"), (3, "invalid_input")]


def test_charges_are_listed_per_account(api: Api) -> None:
    """GET list needs billingAccount.id; isBilled filters."""
    set_up(api, "ACME")
    for n in range(3):
        api.post(CHARGES, charge_body("ACME", f"c{n}", "1.00", OCT), role="rating")
    listed = api.get(CHARGES, params={"billingAccount.id": "ACME", "limit": 2})
    assert [c["id"] for c in listed.json()] == ["ACME:c0", "ACME:c1"] and listed.headers["X-Total-Count"] == "3"
    assert api.get(CHARGES).status_code == 400
    assert api.get(CHARGES, params={"billingAccount.id": "ACME", "isBilled": True}).json() == []


def test_a_cycle_run_bills_the_month_and_records_its_trigger(api: Api) -> None:
    """POST billCycle starts the run; GET shows who triggered it, its progress and totals; the bill is sent."""
    set_up(api, "ACME", "BETA")
    api.post(CHARGES, charge_body("ACME", "c1", "10.00", OCT, taxes=[("VAT", "20", "2.00")]), role="rating")
    api.post(CHARGES, charge_body("BETA", "c1", "5.00", OCT), role="rating")
    run = _run_october(api)
    assert run["trigger"][0]["by"] == "alice" and run["trigger"][0]["reason"] == "October bill run"
    assert (run["accountsBilled"], run["accountsTotal"]) == (2, 2) and run["totals"] == [money("17.00")]
    bill = _bills(api, "ACME")[0]
    assert bill["state"] == "sent" and bill["amountDue"] == money("12.00") and bill["billCycle"]["id"] == run["id"]
    assert bill["taxItem"] == [{"taxCategory": "VAT", "taxRate": "20", "taxAmount": money("2.00")}]
    assert api.get(CHARGES + "/ACME:c1").json()["bill"]["id"] == bill["id"]
    assert api.post(CYCLES, {"billCycleSpecification": {"id": "monthly"}, "validFor": {"startDateTime": "2026-10-01"},
                             "trigger": {"type": "person", "by": "bob"}}).status_code == 200


def test_a_cycle_on_an_unknown_specification_is_404(api: Api) -> None:
    """The run's refusal is the POST's answer."""
    response = api.post(CYCLES, {"billCycleSpecification": {"id": "nope"}, "validFor": {"startDateTime": "2026-10-01"},
                                 "trigger": {"type": "person", "by": "alice"}})
    assert response.status_code == 404 and response.json()["code"] == "cycle_specification_not_found"


def test_bill_states_move_by_patch_through_allowed_transitions_only(api: Api) -> None:
    """A new bill is put on hold, released, validated and sent; settled by PATCH is refused."""
    set_up(api, "ACME")
    api.post(CHARGES, charge_body("ACME", "c1", "10.00", OCT), role="rating")
    _run_october(api, send=False)
    url = _bills(api, "ACME")[0]["href"]
    for state in ("onHold", "new", "validated", "sent"):
        response = api.patch(url, {"state": state, "reason": "checked"})
        assert response.status_code == 200 and response.json()["state"] == state
    assert api.patch(url, {"state": "onHold"}).status_code == 422
    assert api.patch(url, {"state": "settled"}).status_code == 400


def test_payments_under_and_over_pay_and_a_refund_returns_credit(api: Api) -> None:
    """An underpayment leaves the bill partiallyPaid; the overpayment becomes credit balance, refunded in part."""
    set_up(api, "ACME")
    api.post(CHARGES, charge_body("ACME", "c1", "10.00", OCT), role="rating")
    _run_october(api)
    under = api.post(PAYMENTS, payment_body("ACME", "PAY-1", "4.00", "2026-11-05T10:00:00+01:00", method="check"))
    assert under.status_code == 201 and under.json()["paymentItem"][0]["totalAmount"] == money("4.00")
    assert _bills(api, "ACME")[0]["state"] == "partiallyPaid"
    over = api.post(PAYMENTS, payment_body("ACME", "PAY-2", "10.00", "2026-11-06T10:00:00+01:00"))
    assert over.json()["toBalance"] == money("4.00") and _bills(api, "ACME")[0]["state"] == "settled"
    refund = api.post(REFUNDS, {"correlatorId": "REF-1", "account": {"id": "ACME"}, "totalAmount": money("3.00"),
                                "paymentMethod": {"@type": "bankCard"}, "refundDate": "2026-11-16T09:00:00Z"})
    assert refund.status_code == 201 and api.get(refund.headers["Location"]).json()["totalAmount"] == money("3.00")
    assert [r["id"] for r in api.get(REFUNDS, params={"account.id": "ACME"}).json()] == ["ACME:REF-1"]
    too_much = api.post(REFUNDS, {"correlatorId": "REF-2", "account": {"id": "ACME"}, "totalAmount": money("9.00"),
                                  "paymentMethod": {"@type": "bankCard"}, "refundDate": "2026-11-16T09:00:00Z"})
    assert too_much.status_code == 422 and too_much.json()["code"] == "insufficient_credit"


def test_a_payment_item_pays_the_bill_it_names(api: Api) -> None:
    """paymentItem allocates explicitly to a bill (by its id); the payments list shows it."""
    set_up(api, "ACME")
    api.post(CHARGES, charge_body("ACME", "c1", "10.00", OCT), role="rating")
    _run_october(api)
    bill = _bills(api, "ACME")[0]
    paid = api.post(PAYMENTS, payment_body("ACME", "PAY-1", "6.00", "2026-11-05T10:00:00Z",
                                           items=[("CustomerBill", bill["id"], "5.00")]))
    assert paid.status_code == 201, paid.text
    assert paid.json()["paymentItem"] == [{"item": {**paid.json()["paymentItem"][0]["item"], "id": bill["id"]},
                                           "totalAmount": money("5.00")}]
    assert paid.json()["toBalance"] == money("1.00")
    assert [p["correlatorId"] for p in api.get(PAYMENTS, params={"account.id": "ACME"}).json()] == ["PAY-1"]


def test_a_reversal_cancels_the_payment_and_reopens_its_bill(api: Api) -> None:
    """A bounced check: the payment becomes canceled and the bill it settled is sent (open) again."""
    set_up(api, "ACME")
    api.post(CHARGES, charge_body("ACME", "c1", "10.00", OCT), role="rating")
    _run_october(api)
    payment = api.post(PAYMENTS, payment_body("ACME", "PAY-1", "10.00", "2026-11-05T10:00:00Z", method="check")).json()
    reversed_ = api.post(f"{payment['href']}/reversal", {"kind": "bouncedCheck", "reason": "returned unpaid",
                                                          "reversalDate": "2026-11-16T10:00:00Z"})
    assert reversed_.status_code == 200 and reversed_.json()["status"] == "canceled"
    assert reversed_.json()["reversal"]["kind"] == "bouncedCheck"
    assert _bills(api, "ACME")[0]["state"] == "sent"
    again = api.post(f"{payment['href']}/reversal", {"kind": "bouncedCheck", "reversalDate": "2026-11-16T10:00:00Z"})
    assert again.status_code == 422 and again.json()["code"] == "payment_state"


def test_a_bill_on_demand_is_issued_off_cycle(api: Api) -> None:
    """POST customerBillOnDemand issues an off-cycle bill; GET shows the request and its bill."""
    set_up(api, "ACME")
    api.post(CHARGES, charge_body("ACME", "c1", "10.00", OCT), role="rating")
    made = api.post(ON_DEMAND, {"billingAccount": {"id": "ACME"}, "requestId": "req-77", "name": "on request"})
    assert made.status_code == 201 and made.json()["state"] == "done"
    assert api.get(made.headers["Location"]).json()["customerBill"]["id"] == made.json()["customerBill"]["id"]
    bill = api.get(BILLS + "/" + made.json()["customerBill"]["id"]).json()
    assert bill["runType"] == "offCycle" and bill["category"] == "interim"
    nothing = api.post(ON_DEMAND, {"billingAccount": {"id": "ACME"}, "requestId": "req-78"})
    assert nothing.status_code == 422 and nothing.json()["code"] == "rule_violation"


def test_a_customer_reads_its_own_bills_and_payments_only(api: Api) -> None:
    """Lists and GETs of bills and payments keep a customer to its accounts (others answer 404)."""
    set_up(api, "A1", "A2")
    for account in ("A1", "A2"):
        api.post(CHARGES, charge_body(account, "c1", "10.00", OCT), role="rating")
    _run_october(api)
    api.post(PAYMENTS, payment_body("A2", "PAY-A2", "1.00", "2026-11-05T10:00:00Z"))
    mine = api.client.get(BILLS, headers=api.auth("customer", ["A1"])).json()
    assert [b["billingAccount"]["id"] for b in mine] == ["A1"]
    other_bill = _bills(api, "A2")[0]["href"]
    assert api.client.get(other_bill, headers=api.auth("customer", ["A1"])).status_code == 404
    assert api.client.get(PAYMENTS, headers=api.auth("customer", ["A1"])).json() == []


def test_a_refusal_from_a_stale_cached_account_is_decided_again_on_fresh_state(make_settings: Any) -> None:
    """Worker B caches a suspended account; worker A resumes it; B's charge is then applied, not refused: a refusal
    is confirmed on what is stored (one charge alone, and in a batch)."""
    from tests.support.api import ACCOUNTS, STORY_NOW, api_on
    from tests.support.ledger_factory import FakeClock

    settings = make_settings()
    with api_on(settings, FakeClock()) as a, api_on(settings, FakeClock(STORY_NOW)) as b:
        set_up(a, "ACME")
        a.patch(f"{ACCOUNTS}/ACME", {"state": "suspended"})
        assert b.post(PAYMENTS, payment_body("ACME", "PAY-1", "1.00", "2026-10-05T10:00:00Z")).status_code == 201
        a.patch(f"{ACCOUNTS}/ACME", {"state": "active"})
        assert b.post(CHARGES, charge_body("ACME", "c1", "2.00", "2026-10-09T10:00:00Z"), role="rating").status_code == 201
        a.patch(f"{ACCOUNTS}/ACME", {"state": "suspended"})
        assert b.post(PAYMENTS, payment_body("ACME", "PAY-2", "1.00", "2026-10-05T10:00:00Z")).status_code == 201
        a.patch(f"{ACCOUNTS}/ACME", {"state": "active"})
        batch = b.post(f"{CHARGES}/batch", [charge_body("ACME", "c2", "2.00", "2026-10-09T10:00:00Z")], role="rating")
        assert batch.json()["applied"] == 1 and batch.json()["rejected"] == []

"""Import jobs and statistics over HTTP (the API the web console builds on)."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

from .test_import import people_rows, write_csv


def _wait(service: Any, job_id: int, user: str = "off79") -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = service.call(user, "GET", f"/v1/imports/{job_id}").json()
        if job["state"] in ("done", "failed"):
            return dict(job)
        time.sleep(0.1)
    raise AssertionError("the import did not finish")


def test_upload_runs_a_background_job_with_progress_and_errors(
    service: Any, tmp_path: Path
) -> None:
    """POST /v1/imports answers 202 at once; the job finishes; errors.csv lists bad rows."""
    rows = people_rows(300, seed=21)  # about 80 KB: over the default 64 KiB body limit
    rows[2]["full_name"] = "R2-D2"
    path = write_csv(tmp_path / "list.csv", rows)
    with path.open("rb") as handle:
        response = service.call(
            "off79", "POST", "/v1/imports", files={"file": ("list.csv", handle, "text/csv")}
        )
    assert response.status_code == 202, response.text
    started = response.json()
    assert started["total_rows"] == 300
    assert response.headers["location"] == f"/v1/imports/{started['id']}"
    job = _wait(service, started["id"])
    assert job["state"] == "done", job
    assert job["processed_rows"] == 300
    assert job["percent"] == 100.0
    assert job["counts"]["cards_issued"] == 299
    assert job["counts"]["rows_rejected"] == 1
    errors = service.call("off79", "GET", f"/v1/imports/{started['id']}/errors.csv")
    assert errors.status_code == 200
    assert errors.headers["content-type"].startswith("text/csv")
    report = list(csv.reader(io.StringIO(errors.text.lstrip("\ufeff"))))
    assert report[1][:2] == ["4", "full_name"]
    # The same file again: the finished job, nothing issued twice.
    with path.open("rb") as handle:
        again = service.call(
            "off79", "POST", "/v1/imports", files={"file": ("list.csv", handle, "text/csv")}
        )
    assert again.status_code == 200
    assert again.json()["id"] == started["id"]
    # Another province's officer sees neither the job nor its report.
    assert service.call("off01", "GET", f"/v1/imports/{started['id']}").status_code == 404
    assert (
        service.call("off01", "GET", f"/v1/imports/{started['id']}/errors.csv").status_code == 404
    )
    listed = service.call("off79", "GET", "/v1/imports").json()
    assert started["id"] in [j["id"] for j in listed]
    assert started["id"] not in [
        j["id"] for j in service.call("off01", "GET", "/v1/imports").json()
    ]


def test_upload_refusals(service: Any, tmp_path: Path) -> None:
    """Wrong type, bad header, foreign province, auditors: refused, nothing started."""
    bad = service.call(
        "off79", "POST", "/v1/imports", files={"file": ("x.pdf", b"%PDF", "application/pdf")}
    )
    assert bad.status_code == 422
    header = service.call(
        "off79", "POST", "/v1/imports", files={"file": ("x.csv", b"pin,colour\n", "text/csv")}
    )
    assert header.status_code == 422
    path = write_csv(tmp_path / "one.csv", people_rows(1, seed=22))
    foreign = service.call(
        "off79",
        "POST",
        "/v1/imports?province=01",
        files={"file": ("one.csv", path.read_bytes(), "text/csv")},
    )
    assert foreign.status_code == 403
    auditor = service.call(
        "auditor79", "POST", "/v1/imports", files={"file": ("one.csv", path.read_bytes())}
    )
    assert auditor.status_code == 403
    admin_without_province = service.call(
        "admin", "POST", "/v1/imports", files={"file": ("one.csv", path.read_bytes())}
    )
    assert admin_without_province.status_code == 422


def test_officer_imports_only_own_programmes(service: Any, tmp_path: Path) -> None:
    """An officer for BHYT only: rows with other programmes are rejected, not granted."""
    path = write_csv(tmp_path / "bhyt.csv", people_rows(2, seed=23))
    response = service.call(
        "off79bhyt", "POST", "/v1/imports", files={"file": ("bhyt.csv", path.read_bytes())}
    )
    assert response.status_code == 202, response.text
    job = _wait(service, response.json()["id"], "off79bhyt")
    assert job["counts"]["rows_rejected"] == 2
    assert job["counts"]["cards_issued"] == 0


def test_stats_counts_by_province_and_month_and_csv(service: Any, tmp_path: Path) -> None:
    """Counts only, province-scoped; the CSV has the same numbers."""
    before = service.call("admin", "GET", "/v1/stats").json()
    number = service.register("off01", province="01")
    service.grant("off01", number, service.TGXH)
    card = service.issue("off01", number)
    revoked = service.call(
        "off01",
        "POST",
        f"/v1/cards/{card['serial']}/revoke",
        json={"reason_code": "lost", "note": None},
    )
    assert revoked.status_code == 200, revoked.text
    after = service.call("admin", "GET", "/v1/stats").json()
    for metric, delta in (
        ("people_registered", 1),
        ("cards_issued", 1),
        ("cards_revoked", 1),
    ):
        assert after["totals"][metric] == before["totals"][metric] + delta, metric
    assert after["active_entitlements"]["TGXH"] == before["active_entitlements"].get("TGXH", 0) + 1
    mine = service.call("off01", "GET", "/v1/stats").json()
    assert mine["provinces"] == ["01"]
    assert {p["province"] for p in mine["by_province"]} == {"01"}
    assert service.call("off01", "GET", "/v1/stats?province=79").status_code == 403
    assert service.call("sp", "GET", "/v1/stats").status_code == 403
    text = service.call("auditor01", "GET", "/v1/stats?format=csv").text.lstrip("\ufeff")
    table = list(csv.DictReader(io.StringIO(text)))
    totals = [r for r in table if r["month"] == ""]
    assert [r["province"] for r in totals] == ["01"]
    assert int(totals[0]["cards_revoked"]) == mine["by_province"][0]["cards_revoked"]
    body = str(mine)
    assert number not in body
    assert card["serial"] not in body

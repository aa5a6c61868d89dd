"""At most ``ASXH_ISSUANCE_CONCURRENCY`` card issuances run at once per worker (issue 10 §5)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from tests.service.conftest import build_service
from tests.service.test_runtime import ENV

from asxh_card.service import usecases
from asxh_card.service.settings import Settings, SettingsError


def test_issuances_beyond_the_limit_wait_their_turn_and_all_succeed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight issuances at once with a limit of two: never more than two at work, all 201.

    Sixteen issuances in sixteen threads shared one interpreter lock and each held its
    transaction longer; the others now wait in the event loop, without a thread.
    """
    running = most = 0
    lock = threading.Lock()
    issue = usecases.issue_card

    def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            time.sleep(0.05)  # the other requests arrive meanwhile
            return issue(*args, **kwargs)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(usecases, "issue_card", counted)
    url = f"sqlite:///{tmp_path / 'asxh.db'}"
    with contextmanager(build_service)(tmp_path, url, "sqlite", issuance_concurrency=2) as service:
        numbers = [service.register() for _ in range(8)]
        for number in numbers:
            service.grant("off79", number, service.BHYT)
        service.token("off79")

        def issue_one(number: str) -> int:
            response = service.call("off79", "POST", "/v1/cards", json={"asxh_number": number})
            return int(response.status_code)

        with ThreadPoolExecutor(len(numbers)) as pool:
            statuses = list(pool.map(issue_one, numbers))
    assert statuses == [201] * len(numbers)
    assert most == 2


@pytest.mark.parametrize("value", ["0", "65", "two"])
def test_the_issuance_limit_is_checked_at_start(value: str, tmp_path: Path) -> None:
    """No slot at all, or more threads than a worker should run, stops the service at start."""
    env = {**ENV, "ASXH_VAR_DIR": str(tmp_path), "ASXH_ISSUANCE_CONCURRENCY": value}
    with pytest.raises(SettingsError, match="ASXH_ISSUANCE_CONCURRENCY"):
        Settings.from_env(env)
    assert Settings.from_env({**env, "ASXH_ISSUANCE_CONCURRENCY": "5"}).issuance_concurrency == 5
    assert (
        Settings.from_env(
            {k: v for k, v in env.items() if "ISSUANCE" not in k}
        ).issuance_concurrency
        == 3
    )

"""All-or-nothing output (issuing.staging): nothing half-written, nothing left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from asxh_card.issuing.staging import publish, staging_directory


def test_publish_moves_every_file_and_removes_the_staging_directory(tmp_path: Path):
    out = tmp_path / "out"
    with staging_directory(out) as staging:
        (staging / "sheets").mkdir()
        (staging / "a.txt").write_text("a")
        (staging / "sheets" / "s.pdf").write_text("s")
        placed = publish(staging, out, ["a.txt", "sheets/s.pdf"])
    assert placed == [out / "a.txt", out / "sheets" / "s.pdf"]
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == [
        "a.txt",
        "sheets",
        "sheets/s.pdf",
    ]


def test_a_failed_move_takes_back_the_files_already_moved(tmp_path: Path):
    """The second rename fails (its target is a non-empty directory): the first is undone."""
    out = tmp_path / "out"
    (out / "b.txt").mkdir(parents=True)
    (out / "b.txt" / "keep").write_text("k")

    def run() -> None:
        with staging_directory(out) as staging:
            (staging / "sheets").mkdir()
            for name in ("sheets/a.pdf", "b.txt"):
                (staging / name).write_text(name)
            publish(staging, out, ["sheets/a.pdf", "b.txt"])

    with pytest.raises(OSError):
        run()
    # Only what was there before: no a.pdf, no sheets/ made for it, no staging directory.
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == ["b.txt", "b.txt/keep"]


def _fail_while_staging(out: Path) -> None:
    with staging_directory(out) as staging:
        (staging / "a.txt").write_text("a")
        raise RuntimeError("render failed")


def test_a_failed_run_removes_the_output_directory_it_created(tmp_path: Path):
    out = tmp_path / "new"
    with pytest.raises(RuntimeError):
        _fail_while_staging(out)
    assert not out.exists()
    kept = tmp_path / "kept"
    kept.mkdir()
    with pytest.raises(RuntimeError):
        _fail_while_staging(kept)
    assert kept.is_dir()
    assert not any(kept.iterdir())

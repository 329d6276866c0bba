"""Loading offices, on SQLite and PostgreSQL: several cities from one file, community service
centers, the tree checked with what is already loaded (all or nothing), and the migration that
admits the ``community`` tier."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from typer.testing import CliRunner

from daiban.cli.main import app
from daiban.domain.offices import InvalidOfficeTree, demo_offices, demo_tree
from daiban.domain.offices import Office as DomainOffice
from daiban.store.db import (
    load_offices,
    make_engine,
    office_tree,
    parse_offices,
    session_scope,
    upgrade,
)
from daiban.store.offices import OfficeDirectory
from models.db import Office

OFFICES = [
    DomainOffice("370285000", "莱西市行政服务中心", "city", None, False),
    DomainOffice("370285001", "水集街道便民服务中心", "township", "370285000", True),
    DomainOffice("370285001001", "文化路社区为民服务代理室", "village", "370285001", True),
]

# Two cities in one file: one with a community service center level, one without.
TWO_CITIES: dict[str, Any] = {
    "offices": [
        {"code": "370283000", "name": "平度市行政服务中心", "tier": "city"},
        {"code": "370283001", "name": "东阁街道", "tier": "township", "parent": "370283000"},
        {"code": "370283001S01", "name": "杭州路社区服务中心", "tier": "community",
         "parent": "370283001", "urban": True},
        {"code": "370283001001", "name": "杭州路社区", "tier": "village",
         "parent": "370283001S01", "urban": True},
        {"code": "370281000", "name": "胶州市行政服务中心", "tier": "city", "parent": None},
        {"code": "370281001", "name": "阜安街道", "tier": "township", "parent": "370281000"},
        {"code": "370281001001", "name": "北关社区", "tier": "village", "parent": "370281001"},
    ]
}  # fmt: skip


def _office_count(engine: Engine) -> int:
    with session_scope(engine) as session:
        return session.exec(select(func.count()).select_from(Office)).one()


def _rows(engine: Engine) -> dict[str, tuple[str, str, str | None, bool]]:
    with session_scope(engine) as session:
        rows = session.exec(select(Office)).all()
        return {r.code: (r.name, r.tier, r.parent, r.urban) for r in rows}


def test_load_offices_is_idempotent(engine: Engine) -> None:
    assert load_offices(engine, OFFICES) == 3
    assert _office_count(engine) == 3
    assert load_offices(engine, OFFICES) == 0
    assert _office_count(engine) == 3
    renamed = [
        *OFFICES[:2],
        DomainOffice("370285001001", "文化路社区", "village", "370285001", True),
    ]
    assert load_offices(engine, renamed) == 1
    with session_scope(engine) as session:
        office = session.get(Office, "370285001001")
        assert office is not None and office.name == "文化路社区"


def test_several_cities_and_their_centers_load_beside_the_demo_city(engine: Engine) -> None:
    assert load_offices(engine, demo_offices()) == 1018
    assert load_offices(engine, parse_offices(TWO_CITIES)) == 7
    with session_scope(engine) as session:
        tree = office_tree(session)
    assert tree is not None and len(tree) == 1025
    assert [city.code for city in tree.cities()] == ["370281000", "370283000", "370285000"]
    assert tree.township_of("370283001001") == "370283001"  # up past its center
    assert tree.community_of("370283001001") == "370283001S01"
    assert tree.city_of("370281001001") == "370281000"
    assert tree.township_of("370285004001") == "370285004"
    assert tree.community_of("370285004001") == "370285004S01"


def test_a_database_loaded_before_the_centers_moves_its_villages_under_them(engine: Engine) -> None:
    flat = [  # the demo data of the previous release: villages directly under townships
        DomainOffice(o.code, o.name, o.tier, demo_tree().township_of(o.code), o.urban)
        if o.tier == "village"
        else o
        for o in demo_offices()
        if o.tier != "community"
    ]
    assert load_offices(engine, flat) == 899
    assert load_offices(engine, demo_offices()) == 119 + 887  # centers added, villages moved
    assert _rows(engine)["370285004001"][2] == "370285004S01"


@pytest.mark.parametrize(
    ("offices", "message"),
    [
        ([DomainOffice("370285001002", "n", "village", "370285009", False)], "is not an office"),
        ([DomainOffice("370285001", "n", "village", "370285000", False)], "cannot hang under"),
        ([OFFICES[2], OFFICES[2]], "listed twice"),
        # Moving a township under a village would leave the loaded tree broken.
        ([DomainOffice("370285001", "n", "township", "370285001001", False)], "cannot hang"),
    ],
)
def test_a_load_that_breaks_the_tree_writes_nothing(
    engine: Engine, offices: list[DomainOffice], message: str
) -> None:
    load_offices(engine, OFFICES)
    before = _rows(engine)
    extra = DomainOffice("370285001099", "新村", "village", "370285001", False)
    with pytest.raises(InvalidOfficeTree, match=message):
        load_offices(engine, [extra, *offices])
    assert _rows(engine) == before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "expected a JSON object"),
        ({"offices": [], "more": 1}, "expected a JSON object"),
        ({"offices": []}, "non-empty list"),
        ({"offices": ["x"]}, r"offices\[0\]: expected an object"),
        ({"offices": [{"code": "1", "name": "n", "tier": "city", "x": 1}]}, "unknown key 'x'"),
        ({"offices": [{"code": 1, "name": "n", "tier": "city"}]}, "'code' must be a string"),
        ({"offices": [{"code": "1", "tier": "city"}]}, "'name' must be a string"),
        ({"offices": [{"code": "1", "name": "n", "tier": "province"}]}, "tier must be one of"),
        ({"offices": [{"code": "1", "name": "n", "tier": "city", "parent": 2}]}, "string or null"),
        ({"offices": [{"code": "1", "name": "n", "tier": "city", "urban": 1}]}, "true or false"),
        ({"offices": [{"code": "1", "name": "n", "tier": "township"}]}, "only a city has no"),
    ],
)
def test_an_offices_file_is_checked_entry_by_entry(data: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_offices(data)


def test_office_tree_of_an_empty_database_is_none(engine: Engine) -> None:
    with session_scope(engine) as session:
        assert office_tree(session) is None


def test_the_migration_admits_community_centers_and_nothing_else(db_url: str) -> None:
    upgrade(db_url, "0002")
    engine = make_engine(db_url)
    insert = text("INSERT INTO offices VALUES (:code, 'n', :tier, NULL, false)")
    try:
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(insert, {"code": "c1", "tier": "community"})
        upgrade(db_url)
        with engine.begin() as connection:
            connection.execute(insert, {"code": "c1", "tier": "community"})
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(insert, {"code": "p1", "tier": "province"})
        indexes = {index["name"] for index in inspect(engine).get_indexes("offices")}
        assert "ix_offices_parent" in indexes  # SQLite's copy of the table kept it
    finally:
        engine.dispose()


def test_cli_loads_a_file_of_several_cities(
    runner: CliRunner, engine: Engine, tmp_path: Path
) -> None:
    url = engine.url.render_as_string(hide_password=False)
    file = tmp_path / "offices.json"
    file.write_text(json.dumps(TWO_CITIES, ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(app, ["offices", "load", str(file), "--url", url])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "7 offices of 2 cities in offices.json; 7 added or changed"
    orphan = tmp_path / "orphan.json"
    entry = {"code": "370283002001", "name": "孤村", "tier": "village", "parent": "370283002"}
    orphan.write_text(json.dumps({"offices": [entry]}), encoding="utf-8")
    result = runner.invoke(app, ["offices", "load", str(orphan), "--url", url])
    assert result.exit_code == 2
    assert "parent '370283002' is not an office" in result.stderr
    assert _office_count(engine) == 7


def test_the_directory_follows_the_database_and_keeps_its_tree_through_an_outage(
    engine: Engine,
) -> None:
    directory = OfficeDirectory(engine, refresh_seconds=0)  # read again on every call
    assert directory.current() is demo_tree()  # nothing loaded: the seed city
    load_offices(engine, OFFICES)
    assert [o.code for o in directory.current()] == [o.code for o in OFFICES]
    load_offices(engine, parse_offices(TWO_CITIES))
    loaded = directory.current()
    assert "370283001001" in loaded and len(loaded) == 10
    away = OfficeDirectory(make_engine("postgresql://daiban@127.0.0.1:1/daiban"))
    assert away.current() is demo_tree()  # never read: the seed city, until the database answers
    directory._engine = away._engine  # the same directory, its database now away
    assert directory.current() is loaded
    assert directory.fresh() is loaded  # and it waits before trying again


def test_a_fresh_tree_needs_no_read(engine: Engine) -> None:
    directory = OfficeDirectory(engine, refresh_seconds=3600)
    assert directory.fresh() is None
    tree = directory.current()
    load_offices(engine, OFFICES)
    assert directory.fresh() is tree and directory.current() is tree  # read again within the hour


def test_cli_mints_tokens_for_the_offices_loaded(
    runner: CliRunner, engine: Engine, tmp_path: Path
) -> None:
    url = engine.url.render_as_string(hide_password=False)
    second = ["token", "--role", "agent", "--office", "370283001001", "--url", url]
    result = runner.invoke(app, second)
    assert result.exit_code == 2 and "unknown office" in result.stderr  # nothing loaded yet
    load_offices(engine, parse_offices(TWO_CITIES))
    result = runner.invoke(app, second)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count(".") == 2  # a JWT
    missing = f"sqlite:///{tmp_path / 'none' / 'daiban.db'}"
    demo = ["token", "--role", "agent", "--office", "370285004001", "--url", missing]
    assert runner.invoke(app, demo).exit_code == 0  # no database: the demo city
    assert not (tmp_path / "none").exists()  # and nothing was created

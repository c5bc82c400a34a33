"""The SQLAlchemy column type on a real SQLite database (and PostgreSQL when
SE_TEST_POSTGRES_URL names one): every coercion type, the gem's own values, deterministic
queries, NULL and empty, older key versions, tampered values."""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest

sqlalchemy = pytest.importorskip("sqlalchemy")
from sqlalchemy import Integer, String, create_engine, select, text  # noqa: E402
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column  # noqa: E402

import symmetric_encryption as se  # noqa: E402
from symmetric_encryption.sqlalchemy import DecryptError, Encrypted  # noqa: E402

from .support import OLD_VERSION, PRIMARY_VERSION, case_context, gem_cases  # noqa: E402


def _engine_urls(tmp: Path) -> list[str]:
    urls = [f"sqlite:///{tmp / 'orm.sqlite3'}"]
    pg = os.environ.get("SE_TEST_POSTGRES_URL")
    if pg:
        urls.append(pg.replace("postgres://", "postgresql+psycopg://", 1)
                    .replace("postgresql://", "postgresql+psycopg://", 1))
    return urls


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    urls = {u.split(":", 1)[0].split("+")[0]: u for u in _engine_urls(tmp_path)}
    if request.param not in urls:
        pytest.skip("no PostgreSQL: set SE_TEST_POSTGRES_URL (scripts/test's db suite does)")
    eng = create_engine(urls[request.param])
    yield eng
    eng.dispose()


def make_models(ctx: se.Context) -> tuple[Any, Any]:
    class Base(DeclarativeBase):
        pass

    class Person(Base):
        __tablename__ = "people"
        id: Mapped[int] = mapped_column(Integer, primary_key=True)
        name: Mapped[str] = mapped_column(String(50))
        ssn: Mapped[Optional[str]] = mapped_column(Encrypted(random_iv=False, context=ctx))
        notes: Mapped[Optional[str]] = mapped_column(Encrypted(compress=True, context=ctx))
        age: Mapped[Optional[int]] = mapped_column(Encrypted("integer", context=ctx))
        score: Mapped[Optional[float]] = mapped_column(Encrypted("float", context=ctx))
        balance: Mapped[Optional[Decimal]] = mapped_column(Encrypted("decimal", context=ctx))
        born: Mapped[Optional[dt.date]] = mapped_column(Encrypted("date", context=ctx))
        seen: Mapped[Optional[dt.datetime]] = mapped_column(Encrypted("datetime", context=ctx))
        woke: Mapped[Optional[dt.datetime]] = mapped_column(Encrypted("time", context=ctx))
        active: Mapped[Optional[bool]] = mapped_column(Encrypted("boolean", context=ctx))
        prefs: Mapped[Optional[Any]] = mapped_column(Encrypted("json", context=ctx))
        legacy: Mapped[Optional[str]] = mapped_column(Encrypted(version=OLD_VERSION, context=ctx))

    return Base, Person


VALUES: dict[str, Any] = {
    "ssn": "123-45-6789",
    "notes": "long notes " * 40,
    "age": 42,
    "score": 1.5e20,
    "balance": Decimal("1234.50"),
    "born": dt.date(1980, 2, 29),
    "seen": dt.datetime(2024, 1, 31, 10, 0, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))),
    "woke": dt.datetime(2024, 1, 31, 6, 30, 0, tzinfo=dt.timezone.utc),
    "active": False,
    "prefs": {"theme": "dark", "langs": ["de", "en"], "n": 3, "ünïcode": True},
    "legacy": "written with the old key",
}
# What Ruby writes (and the gem encrypts) for each value.
RUBY_STRINGS = {
    "age": "42", "score": "1.5e+20", "balance": "1234.5", "born": "1980-02-29",
    "seen": "2024-01-31T10:00:05+02:00", "woke": "2024-01-31 06:30:00 +0000", "active": "false",
    "prefs": '{"theme":"dark","langs":["de","en"],"n":3,"ünïcode":true}',
}


def test_every_type_round_trips_and_is_stored_encrypted(engine: Any, ctx: se.Context) -> None:
    Base, Person = make_models(ctx)
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        s.add(Person(name="ada", **VALUES))
        s.commit()
    with Session(engine) as s:
        p = s.scalars(select(Person)).one()
        for field, value in VALUES.items():
            assert getattr(p, field) == value, field
        raw = s.execute(text("SELECT * FROM people")).mappings().one()
    for field, value in VALUES.items():
        stored = raw[field]
        assert ctx.is_encrypted(stored), field
        assert str(value) not in stored
        if field in RUBY_STRINGS:
            assert ctx.decrypt(stored) == RUBY_STRINGS[field], field
    assert ctx.header(raw["legacy"]).version == OLD_VERSION
    assert ctx.header(raw["ssn"]).version == PRIMARY_VERSION
    assert ctx.header(raw["notes"]).compressed
    Base.metadata.drop_all(engine)


def test_deterministic_equality_query_and_random_iv_refused(engine: Any, ctx: se.Context) -> None:
    Base, Person = make_models(ctx)
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        s.add_all([Person(name="a", ssn="111-11-1111", age=1), Person(name="b", ssn="222-22-2222"),
                   Person(name="c", ssn=None)])
        s.commit()
        found = s.scalars(select(Person).where(Person.ssn == "222-22-2222")).all()
        assert [p.name for p in found] == ["b"]
        found = s.scalars(select(Person).where(Person.ssn.in_(["111-11-1111", "x"]))).all()
        assert [p.name for p in found] == ["a"]
        assert [p.name for p in s.scalars(select(Person).where(Person.ssn.is_(None)))] == ["c"]
        assert len(s.scalars(select(Person).where(Person.age.is_not(None))).all()) == 1
        with pytest.raises(se.ArgumentError, match=r"people\.age is encrypted with a random iv"):
            select(Person).where(Person.age == 1)
    Base.metadata.drop_all(engine)


def test_null_and_empty_as_the_gem(engine: Any, ctx: se.Context) -> None:
    Base, Person = make_models(ctx)
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        s.add(Person(name="empty", ssn="", notes=None, age=None))
        s.commit()
        raw = s.execute(text("SELECT ssn, notes, age FROM people")).one()
        assert tuple(raw) == ("", None, None)  # the gem: "" encrypts to "", nil stays NULL
        s.execute(text("UPDATE people SET age = ''"))
        s.commit()
    with Session(engine) as s:
        p = s.scalars(select(Person)).one()
        assert (p.ssn, p.notes, p.age) == ("", None, None)  # a blank integer reads as nil
    Base.metadata.drop_all(engine)


@pytest.mark.parametrize("cipher_name", ["aes-256-gcm", "aes-256-cbc"])
def test_the_gems_values_read_back_and_match_by_query(engine: Any, cipher_name: str) -> None:
    cases = gem_cases(cipher_name)
    assert len(cases) >= 10
    for case in cases:
        case_ctx = case_context(case)
        Base, Person = make_models(case_ctx)
        Base.metadata.create_all(engine)
        with Session(engine) as s:
            gem_value = case["ciphertext"]
            s.execute(text("INSERT INTO people (id, name, ssn) VALUES (1, 'gem', :v)"), {"v": gem_value})
            s.commit()
            p = s.scalars(select(Person)).one()
            assert p.ssn == case["plaintext_utf8"], case["id"]
            # The literal encrypts to exactly the gem's value, so the query finds the row.
            hit = s.scalars(select(Person).where(Person.ssn == case["plaintext_utf8"])).all()
            assert [x.name for x in hit] == ["gem"], case["id"]
        Base.metadata.drop_all(engine)


def test_a_value_under_an_older_key_version_still_reads(engine: Any, ctx: se.Context) -> None:
    Base, Person = make_models(ctx)
    Base.metadata.create_all(engine)
    old = ctx.encrypt("from before the rotation", version=OLD_VERSION)
    with Session(engine) as s:
        s.execute(text("INSERT INTO people (id, name, notes) VALUES (1, 'old', :v)"), {"v": old})
        s.commit()
        assert s.scalars(select(Person)).one().notes == "from before the rotation"
    Base.metadata.drop_all(engine)


def test_a_tampered_value_names_table_column_and_version_never_the_value(
    engine: Any, ctx: se.Context
) -> None:
    Base, Person = make_models(ctx)
    Base.metadata.create_all(engine)
    good = ctx.encrypt("top secret plaintext")
    raw = bytearray(ctx.decode(good))
    raw[-1] ^= 1
    tampered = ctx.encode(bytes(raw))
    with Session(engine) as s:
        s.execute(text("INSERT INTO people (id, name, notes) VALUES (1, 't', :v)"), {"v": tampered})
        s.commit()
        with pytest.raises(DecryptError) as info:
            s.scalars(select(Person)).one()
    message = str(info.value)
    assert "people.notes" in message and f"key version {PRIMARY_VERSION}" in message
    assert "AuthenticationError" in message
    assert tampered not in message and "top secret" not in message
    Base.metadata.drop_all(engine)


def test_unknown_version_and_wrong_type_are_clear(ctx: se.Context, tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    Base, Person = make_models(ctx)
    Base.metadata.create_all(engine)
    other = se.Context.from_cipher("aes-128-gcm", b"k" * 16, version=9)
    with Session(engine) as s:
        s.execute(text("INSERT INTO people (id, name, ssn) VALUES (1, 'x', :v)"),
                  {"v": other.encrypt("not ours")})
        s.commit()
        with pytest.raises(DecryptError, match=r"key version 9 \(not in this configuration\)"):
            s.scalars(select(Person)).one()
        s.execute(text("DELETE FROM people"))
        with pytest.raises(Exception, match="type is integer: it takes an int, not str"):
            s.add(Person(name="y", age="forty"))
            s.flush()
    with pytest.raises(ValueError, match="unknown coercion type 'money'"):
        Encrypted("money")

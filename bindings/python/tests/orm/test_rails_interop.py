"""Rows written by a Rails-style model (Active Record, `attribute :x, :encrypted`, the Ruby
binding) read back through SQLAlchemy and Django, and the other way round, on one SQLite file
and one configuration file. Drives Ruby: skipped when ruby, Active Record or sqlite3 is missing
(scripts/suites/python-orm installs them)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("sqlalchemy")
from sqlalchemy import Integer, String, create_engine, select  # noqa: E402
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column  # noqa: E402

import symmetric_encryption as se  # noqa: E402
from symmetric_encryption.sqlalchemy import Encrypted  # noqa: E402

from .support import _keys  # noqa: E402

REPO = Path(__file__).resolve().parents[4]

RUBY_MODEL = r'''
require "json"
require "active_record"
require "symmetric_encryption"

SymmetricEncryption.load!(ENV.fetch("SE_CONFIG"), "test")
ActiveRecord::Base.establish_connection(adapter: "sqlite3", database: ENV.fetch("SE_DB"))
unless ActiveRecord::Base.connection.table_exists?(:people)
  ActiveRecord::Schema.define do
    create_table :people do |t|
      t.string :name
      t.text :ssn, :age, :balance, :born, :seen, :active, :prefs, :notes
    end
  end
end

class Person < ActiveRecord::Base
  attribute :ssn, :encrypted, random_iv: false
  attribute :age, :encrypted, type: :integer
  attribute :balance, :encrypted, type: :decimal
  attribute :born, :encrypted, type: :date
  attribute :seen, :encrypted, type: :datetime
  attribute :active, :encrypted, type: :boolean
  attribute :prefs, :encrypted, type: :json
  attribute :notes, :encrypted, compress: true
end

case ARGV[0]
when "write"
  Person.create!(name: "from ruby", ssn: "111-22-3333", age: 41, balance: BigDecimal("10.25"),
                 born: Date.new(1970, 1, 2), seen: DateTime.new(2024, 5, 6, 7, 8, 9, "+02:00"),
                 active: true, prefs: { "a" => [1, 2], "b" => "ü" }, notes: "ruby " * 50)
when "read"
  p = Person.find_by!(ssn: "444-55-6666")
  puts JSON.generate(%w[name ssn age balance born seen active prefs notes].to_h { |f|
    v = p.public_send(f)
    shown = v.is_a?(Hash) ? v : (v.is_a?(BigDecimal) ? v.to_s("F") : v.to_s)
    [f, [v.class.name, shown]]
  })
end
'''


def _ruby_ready() -> str | None:
    if shutil.which("ruby") is None:
        return "ruby is not installed"
    probe = subprocess.run(["ruby", "-e", 'require "active_record"; require "sqlite3"'],
                           capture_output=True, text=True)
    return None if probe.returncode == 0 else "Active Record or sqlite3 is not installed for Ruby"


def _config(tmp: Path) -> Path:
    keys = _keys()

    def entry(name: str, version: int) -> str:
        k = keys[name]
        return (f"      - cipher_name: {name}\n        version: {version}\n"
                f"        key: !binary |-\n          {k['key_b64']}\n"
                f"        iv: !binary |-\n          {k['iv_b64']}\n")

    path = tmp / "symmetric-encryption.yml"
    path.write_text("test:\n  ciphers:\n" + entry("aes-256-gcm", 2) + entry("aes-256-cbc", 1))
    return path


def _ruby(tmp: Path, config: Path, db: Path, *args: str) -> str:
    script = tmp / "model.rb"
    script.write_text(RUBY_MODEL)
    env = dict(os.environ, SE_CONFIG=str(config), SE_DB=str(db))
    r = subprocess.run(["ruby", "-I", str(REPO / "bindings" / "ruby" / "lib"), str(script), *args],
                       capture_output=True, text=True, env=env, cwd=tmp)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_rails_rows_read_in_python_and_python_rows_read_in_rails(tmp_path: Path) -> None:
    reason = _ruby_ready()
    if reason:
        pytest.skip(reason)
    config = _config(tmp_path)
    db = tmp_path / "shared.sqlite3"
    ctx = se.Context.load(config, "test")
    assert ctx.primary.version == 2

    _ruby(tmp_path, config, db, "write")

    class Base(DeclarativeBase):
        pass

    class Person(Base):
        __tablename__ = "people"
        id: Mapped[int] = mapped_column(Integer, primary_key=True)
        name: Mapped[str] = mapped_column(String)
        ssn: Mapped[Any] = mapped_column(Encrypted(random_iv=False, context=ctx))
        age: Mapped[Any] = mapped_column(Encrypted("integer", context=ctx))
        balance: Mapped[Any] = mapped_column(Encrypted("decimal", context=ctx))
        born: Mapped[Any] = mapped_column(Encrypted("date", context=ctx))
        seen: Mapped[Any] = mapped_column(Encrypted("datetime", context=ctx))
        active: Mapped[Any] = mapped_column(Encrypted("boolean", context=ctx))
        prefs: Mapped[Any] = mapped_column(Encrypted("json", context=ctx))
        notes: Mapped[Any] = mapped_column(Encrypted(compress=True, context=ctx))

    engine = create_engine(f"sqlite:///{db}")
    with Session(engine) as s:
        # Rails' row, found by its deterministic ssn and read field by field.
        p = s.scalars(select(Person).where(Person.ssn == "111-22-3333")).one()
        assert p.name == "from ruby"
        assert p.age == 41 and p.balance == Decimal("10.25") and p.born == dt.date(1970, 1, 2)
        assert p.seen == dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.timezone(dt.timedelta(hours=2)))
        assert p.active is True and p.prefs == {"a": [1, 2], "b": "ü"} and p.notes == "ruby " * 50
        s.add(Person(name="from python", ssn="444-55-6666", age=7, balance=Decimal("0.5"),
                     born=dt.date(2001, 12, 31), active=False, prefs=[1, "x"], notes="py " * 50,
                     seen=dt.datetime(2020, 2, 29, 23, 59, 58, tzinfo=dt.timezone.utc)))
        s.commit()

    got = json.loads(_ruby(tmp_path, config, db, "read"))
    assert got["name"] == ["String", "from python"]
    assert got["ssn"] == ["String", "444-55-6666"]
    assert got["age"] == ["Integer", "7"]
    assert got["balance"] == ["BigDecimal", "0.5"]
    assert got["born"] == ["Date", "2001-12-31"]
    assert got["seen"] == ["DateTime", "2020-02-29T23:59:58+00:00"]
    assert got["active"] == ["FalseClass", "false"]
    assert got["prefs"] == ["Array", "[1, \"x\"]"]
    assert got["notes"] == ["String", "py " * 50]
    engine.dispose()

"""The Django model field on a real SQLite database (and PostgreSQL when SE_TEST_POSTGRES_URL
names one): every coercion type, the gem's values, filter() on deterministic fields, refused
lookups, NULL and empty, older key versions, tampered values, migrations, the admin."""

from __future__ import annotations

import datetime as dt
import io
import os
import sys
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlparse

import pytest

django = pytest.importorskip("django")
from django.conf import settings  # noqa: E402

_DB_DIR = tempfile.mkdtemp(prefix="se-django-")


def _databases() -> dict[str, Any]:
    dbs: dict[str, Any] = {"default": {"ENGINE": "django.db.backends.sqlite3",
                                       "NAME": str(Path(_DB_DIR) / "django.sqlite3")}}
    pg = os.environ.get("SE_TEST_POSTGRES_URL")
    if pg:
        u = urlparse(pg)
        dbs["postgres"] = {"ENGINE": "django.db.backends.postgresql", "NAME": u.path.lstrip("/"),
                           "USER": u.username, "PASSWORD": u.password or "", "HOST": u.hostname,
                           "PORT": u.port}
    return dbs


if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="tests-only",
        ALLOWED_HOSTS=["testserver"],
        DATABASES=_databases(),
        INSTALLED_APPS=["django.contrib.admin", "django.contrib.auth",
                        "django.contrib.contenttypes", "django.contrib.sessions",
                        "django.contrib.messages", "orm.se_testapp"],
        MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware",
                    "django.contrib.auth.middleware.AuthenticationMiddleware",
                    "django.contrib.messages.middleware.MessageMiddleware"],
        ROOT_URLCONF="orm.se_testapp.urls",
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
                    "OPTIONS": {"context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages"]}}],
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        MIGRATION_MODULES={"se_testapp": None},
    )
    django.setup()

from django.core import exceptions  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402

import symmetric_encryption as se  # noqa: E402
from symmetric_encryption.django import FILTERED, DecryptError, EncryptedField  # noqa: E402

from .se_testapp.models import Person  # noqa: E402
from .support import OLD_VERSION, PRIMARY_VERSION  # noqa: E402
from .test_sqlalchemy import RUBY_STRINGS, VALUES  # noqa: E402


@pytest.fixture(params=["default", "postgres"])
def db(request: pytest.FixtureRequest) -> Iterator[str]:
    alias = request.param
    if alias not in settings.DATABASES:
        pytest.skip("no PostgreSQL: set SE_TEST_POSTGRES_URL (scripts/test's db suite does)")
    conn = connections[alias]
    with conn.schema_editor() as editor:
        editor.create_model(Person)
    yield alias
    with conn.schema_editor() as editor:
        editor.delete_model(Person)


def raw_row(alias: str) -> dict[str, Any]:
    with connections[alias].cursor() as cur:
        cur.execute("SELECT * FROM people")
        names = [c[0] for c in cur.description]
        return dict(zip(names, cur.fetchone()))


def test_every_type_round_trips_and_is_stored_as_ruby_writes_it(db: str, ctx: se.Context) -> None:
    Person.objects.using(db).create(name="ada", **VALUES)
    p = Person.objects.using(db).get()
    for field, value in VALUES.items():
        assert getattr(p, field) == value, field
    raw = raw_row(db)
    for field, value in VALUES.items():
        assert ctx.is_encrypted(raw[field]), field
        if field in RUBY_STRINGS:
            assert ctx.decrypt(raw[field]) == RUBY_STRINGS[field], field
    assert ctx.header(raw["legacy"]).version == OLD_VERSION
    assert ctx.header(raw["ssn"]).version == PRIMARY_VERSION


def test_filter_on_a_deterministic_field_and_refused_lookups(db: str) -> None:
    objs = Person.objects.using(db)
    objs.create(name="a", ssn="111-11-1111", age=1)
    objs.create(name="b", ssn="222-22-2222")
    objs.create(name="c", ssn=None)
    assert [p.name for p in objs.filter(ssn="222-22-2222")] == ["b"]
    assert [p.name for p in objs.filter(ssn__in=["111-11-1111", "nope"])] == ["a"]
    assert [p.name for p in objs.filter(ssn__isnull=True)] == ["c"]
    assert objs.filter(age__isnull=False).count() == 1
    with pytest.raises(exceptions.FieldError, match=r"people\.age: the lookup 'exact' is refused: it is encrypted with a random iv"):
        list(objs.filter(age=1))
    with pytest.raises(exceptions.FieldError, match="only exact, in and isnull lookups work"):
        list(objs.filter(ssn__startswith="111"))


def test_null_empty_older_versions_and_tampering(db: str, ctx: se.Context) -> None:
    objs = Person.objects.using(db)
    objs.create(name="empty", ssn="", age=None)
    raw = raw_row(db)
    assert (raw["ssn"], raw["age"]) == ("", None)
    p = objs.get()
    assert (p.ssn, p.age) == ("", None)
    objs.all().delete()
    old = ctx.encrypt("from before the rotation", version=OLD_VERSION)
    bad = bytearray(ctx.decode(ctx.encrypt("top secret plaintext")))
    bad[-1] ^= 1
    tampered = ctx.encode(bytes(bad))
    with connections[db].cursor() as cur:
        cur.execute("INSERT INTO people (name, notes) VALUES ('old', %s)", [old])
    assert objs.get().notes == "from before the rotation"
    with connections[db].cursor() as cur:
        cur.execute("UPDATE people SET notes = %s", [tampered])
    with pytest.raises(DecryptError) as info:
        objs.get()
    message = str(info.value)
    assert "people.notes" in message and f"key version {PRIMARY_VERSION}" in message
    assert tampered not in message and "top secret" not in message


def test_migrations_serialise_the_field_options() -> None:
    from django.db.migrations.writer import MigrationWriter

    field = EncryptedField(type="integer", random_iv=False, compress=True, version=3, null=True)
    text, imports = MigrationWriter.serialize(field)
    assert text == ("symmetric_encryption.django.EncryptedField(compress=True, null=True, "
                    "random_iv=False, type='integer', version=3)")
    assert "import symmetric_encryption.django" in imports
    name, path, args, kwargs = field.deconstruct()
    rebuilt = EncryptedField(*args, **kwargs)
    assert (rebuilt.coercion, rebuilt.random_iv, rebuilt.compress, rebuilt.version) == ("integer", False, True, 3)
    # makemigrations writes the field with its options, and the migration applies.
    from django.test import override_settings

    package = Path(tempfile.mkdtemp(prefix="se-mig-")) / "se_test_migrations"
    package.mkdir()
    (package / "__init__.py").write_text("")
    sys.path.insert(0, str(package.parent))
    try:
        with override_settings(MIGRATION_MODULES={"se_testapp": "se_test_migrations"}):
            call_command("makemigrations", "se_testapp", verbosity=0)
            migration = (package / "0001_initial.py").read_text()
            call_command("migrate", "se_testapp", database="default", verbosity=0)
            call_command("migrate", "se_testapp", "zero", database="default", verbosity=0)
    finally:
        sys.path.remove(str(package.parent))
    assert "symmetric_encryption.django.EncryptedField(null=True, random_iv=False)" in migration
    assert "symmetric_encryption.django.EncryptedField(null=True, type='integer')" in migration
    assert "context" not in migration


def test_admin_change_list_and_dumpdata_show_nothing_secret(db: str) -> None:
    if db != "default":
        pytest.skip("the admin runs on the default database")
    from django.contrib.auth.models import User
    from django.test import Client

    call_command("migrate", "--run-syncdb", verbosity=0)
    Person.objects.create(name="ada", ssn="123-45-6789", age=42)
    User.objects.filter(username="root").delete()
    User.objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(User.objects.get(username="root"))
    page = client.get("/admin/se_testapp/person/").content.decode()
    assert "ada" in page and FILTERED in page
    assert "123-45-6789" not in page and ">42<" not in page
    page = client.get("/admin/se_testapp/person/?q=123-45-6789").content.decode()
    assert "0 results" in page  # ssn is not searched (it would compare ciphertext)
    out = io.StringIO()
    call_command("dumpdata", "se_testapp", stdout=out)
    dumped = out.getvalue()
    assert "123-45-6789" not in dumped and "QEVuQw" in dumped

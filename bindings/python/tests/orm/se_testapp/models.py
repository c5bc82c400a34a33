"""The models of the Django tests: the same table as the Rails side's `Person`."""

from __future__ import annotations

from django.db import models

from symmetric_encryption.django import EncryptedField

from ..support import OLD_VERSION, orm_context


class Person(models.Model):
    name = models.CharField(max_length=50)
    ssn = EncryptedField(random_iv=False, null=True, context=orm_context())
    notes = EncryptedField(compress=True, null=True, blank=True, context=orm_context())
    age = EncryptedField(type="integer", null=True, context=orm_context())
    score = EncryptedField(type="float", null=True, context=orm_context())
    balance = EncryptedField(type="decimal", null=True, context=orm_context())
    born = EncryptedField(type="date", null=True, context=orm_context())
    seen = EncryptedField(type="datetime", null=True, context=orm_context())
    woke = EncryptedField(type="time", null=True, context=orm_context())
    active = EncryptedField(type="boolean", null=True, context=orm_context())
    prefs = EncryptedField(type="json", null=True, context=orm_context())
    legacy = EncryptedField(version=OLD_VERSION, null=True, context=orm_context())

    class Meta:
        app_label = "se_testapp"
        db_table = "people"

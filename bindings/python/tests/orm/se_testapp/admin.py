from django.contrib import admin

from symmetric_encryption.django import EncryptedFieldsAdmin

from .models import Person


@admin.register(Person)
class PersonAdmin(EncryptedFieldsAdmin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "ssn", "age")
    search_fields = ("name", "ssn")

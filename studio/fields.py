"""Model fields shared by the apps, and the migration operation that brings them in cheaply."""

import json

from django.core.exceptions import ValidationError
from django.db import migrations, models

from studio.django_bends import rebuild_sqlite_table
from studio.storable import may_hold_unstorable, storable


def strict_json(value):
    """JSON has no NaN or Infinity: Python's json module writes them, databases' JSON refuses them.
    Nor can a database hold a lone surrogate or NUL (studio/storable.py): the admin's form says so."""
    try:
        json.dumps(value, allow_nan=False)
    except ValueError:
        raise ValidationError("NaN and Infinity are not JSON: write them as strings or null.") from None
    except TypeError:
        return  # not JSON at all: JSONField's own check says so
    if storable(value) != value:
        raise ValidationError("A string holds a NUL or a lone surrogate (\\u0000, \\ud800-\\udfff): remove it.")


class StorableJSONField(models.JSONField):
    """A JSONField whose values are read back storable, even when stored before that rule held
    (studio/storable.py): a page never fails on a lone surrogate an agent once sent."""

    default_validators = [strict_json]

    def from_db_value(self, value, expression, connection):
        decoded = super().from_db_value(value, expression, connection)
        if isinstance(value, str) and may_hold_unstorable(value):
            return storable(decoded)
        return decoded


class WrittenJSONField(StorableJSONField):
    """A JSONField whose stored text only this server writes (json/orjson, or a form's JSON).

    On SQLite, Django gives every JSONField a `CHECK (JSON_VALID(column))`, so each INSERT
    parses the JSON it is given once more, inside SQLite: a big share of the instructions of
    storing a span (bench/findings.md#no-json-valid-check). The text is made by
    `json.dumps` or `orjson.dumps` a moment before, never taken from a client as it is, so the
    check is left out. PostgreSQL's jsonb has no such check: nothing changes there. What a
    person writes in the admin is checked as strictly as the database would have.
    """

    def db_check(self, connection):
        return None


class AlterFieldsInOneRebuild(migrations.operations.base.Operation):
    """AlterFields of one model that SQLite can only apply by rebuilding its table (a
    JSONField becoming a WrittenJSONField, an index dropped), applied in one rebuild: Django's
    AlterField copies the whole table once per field. Elsewhere they run one by one as usual."""

    reversible = True

    def __init__(self, model_name, alter_fields):
        self.model_name = model_name
        self.alter_fields = alter_fields

    def deconstruct(self):
        return self.__class__.__qualname__, [self.model_name, self.alter_fields], {}

    def describe(self):
        return f"Alter {len(self.alter_fields)} fields of {self.model_name} in one table rebuild"

    def state_forwards(self, app_label, state):
        for operation in self.alter_fields:
            operation.state_forwards(app_label, state)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if not self._rebuilt(app_label, schema_editor, to_state):
            for operation, before, after in self._steps(app_label, from_state):
                operation.database_forwards(app_label, schema_editor, before, after)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        # Going back, to_state is the state before the migration.
        if not self._rebuilt(app_label, schema_editor, to_state):
            for operation, before, after in reversed(self._steps(app_label, to_state)):
                operation.database_backwards(app_label, schema_editor, after, before)

    def _rebuilt(self, app_label, schema_editor, target_state):
        if schema_editor.connection.vendor != "sqlite":
            return False
        # From the model as it is in the target state (a private Django method: django_bends).
        rebuild_sqlite_table(schema_editor, target_state.apps.get_model(app_label, self.model_name))
        return True

    def _steps(self, app_label, first_state):
        """(operation, state before it, state after it) for each AlterField, in order."""
        steps, state = [], first_state
        for operation in self.alter_fields:
            after = state.clone()
            operation.state_forwards(app_label, after)
            steps.append((operation, state, after))
            state = after
        return steps

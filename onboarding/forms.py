"""Forms and fields that every part's pages share."""

from __future__ import annotations

import re

from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import CheckboxInput, ListWidget


class ConfirmForm(FlaskForm):
    """A bare form for buttons that change something (remove, withdraw, continue): CSRF only."""

    submit = SubmitField("Confirm")


def choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


class LinesField(TextAreaField):
    """A list of short values typed one per line (commas also separate)."""

    def process_formdata(self, valuelist):
        raw = valuelist[0] if valuelist else ""
        self.data = [item.strip() for item in re.split(r"[\n,;]", raw) if item.strip()]

    def _value(self):
        return "\n".join(self.data or [])


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

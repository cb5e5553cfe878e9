"""Application step forms. Every field validates its format; "Save and continue" also requires the
step's mandatory fields, while "Save as draft" accepts gaps (never bad values)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from stdnum import lei as stdnum_lei
from wtforms import (
    BooleanField,
    DateField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import URL, Length, Optional, ValidationError

from ..countries import countries
from ..forms import Between, FiniteDecimalField, FlaskForm, LinesField, MultiCheckboxField, WholeNumberField, choices
from ..institutions.access import SCOPES
from ..institutions.referral_codes import institution_from_code
from ..ipaddresses import AllowlistError, parse_allowlist


def country_choices() -> list[SelectChoice]:
    return choices([("", "Choose a country"), *countries()])


def not_in_future(form, field):
    if field.data and field.data > date.today():
        raise ValidationError("This date cannot be in the future.")


def adult_birth_date(form, field):
    if field.data is None:
        return
    today = date.today()
    age = today.year - field.data.year - ((today.month, today.day) < (field.data.month, field.data.day))
    if field.data > today:
        raise ValidationError("The date of birth cannot be in the future.")
    if age < 18 or age > 120:
        raise ValidationError("Enter a date of birth for a person between 18 and 120 years old.")


def valid_lei(form, field):
    if not field.data:
        return
    value = re.sub(r"\s+", "", field.data).upper()
    field.data = value
    if len(value) != 20 or not value.isalnum():
        raise ValidationError("An LEI has exactly 20 letters and digits, for example 5493001KJTIIGC8Y1R12.")
    if not stdnum_lei.is_valid(value):
        raise ValidationError("This LEI fails its checksum: check it for typing errors.")


def valid_ip_entries(form, field):
    # Private ranges are accepted here as before: the applicant states where it trades from, and the
    # grant and the keys check the addresses again when they are used.
    try:
        field.data = parse_allowlist(field.data or [], allow_private=True)
    except AllowlistError as error:
        raise ValidationError(str(error)) from error


PAIR_RE = re.compile(r"^[A-Z0-9]{2,10}[/-][A-Z0-9]{2,10}$")


def valid_pairs(form, field):
    field.data = [p.upper().replace("-", "/") for p in field.data or []]
    for pair in field.data:
        if not PAIR_RE.match(pair):
            raise ValidationError(f"“{pair}” is not a trading pair like BTC/USDT.")


def short_items(max_items: int, max_len: int):
    def check(form, field):
        if len(field.data or []) > max_items:
            raise ValidationError(f"List at most {max_items}.")
        for item in field.data or []:
            if len(item) > max_len:
                raise ValidationError(f"“{item[:30]}…” is too long (at most {max_len} characters).")
    return check


def normalise_website(form, field):
    if field.data and not re.match(r"^https?://", field.data, re.I):
        field.data = "https://" + field.data.strip()


class StepForm(FlaskForm):
    """A step: `required` names the fields "Save and continue" insists on, with their messages."""

    required: dict[str, str] = {}
    save = SubmitField("Save and continue")
    draft = SubmitField("Save as draft")

    @property
    def completing(self) -> bool:
        return bool(self.save.data)

    def check_complete(self) -> bool:
        ok = True
        for name, message in self.required.items():
            if self[name].data in (None, "", []):
                self[name].errors = [*self[name].errors, message]
                ok = False
        return ok


class CompanyForm(StepForm):
    legal_name = StringField("Legal name", validators=[Optional(), Length(max=300)],
                             description="Exactly as on the certificate of incorporation.")
    trading_names = LinesField("Trading names (optional)", validators=[short_items(10, 200)],
                               description="One per line. Every name is screened against sanctions lists.")
    registration_number = StringField("Registration number", validators=[Optional(), Length(max=80)])
    jurisdiction = SelectField("Jurisdiction of incorporation", choices=country_choices, validators=[Optional()])
    incorporation_date = DateField("Date of incorporation", validators=[Optional(), not_in_future])
    lei = StringField("LEI (optional)", validators=[Optional(), valid_lei],
                      description="Legal Entity Identifier, 20 characters.")
    registered_address = TextAreaField("Registered address", validators=[Optional(), Length(max=500)])
    business_address = TextAreaField("Business address", validators=[Optional(), Length(max=500)],
                                     description="Where the company is actually run from. Repeat the registered "
                                                 "address if it is the same.")
    website = StringField("Website (optional)", validators=[Optional(), normalise_website,
                                                           URL(message="Enter a web address like "
                                                                       "https://example.com."),
                                                           Length(max=300)])
    is_regulated = RadioField("Is the company regulated by a financial regulator?",
                              choices=choices([("yes", "Yes"), ("no", "No")]), validators=[Optional()])
    regulator = StringField("Regulator", validators=[Optional(), Length(max=200)])
    licence_number = StringField("Licence number", validators=[Optional(), Length(max=100)])
    referral_code = StringField("Referral code (optional)", validators=[Optional(), Length(max=40)],
                                description="If an institution already trading with us introduced you, the code "
                                            "it gave you, e.g. AAM-K3QZ7XWA.")
    # The applicant's own institution, set by the page: its own code cannot refer it.
    own_institution_id: int | None = None
    referrer_id: int | None = None

    def validate_referral_code(self, field):
        typed = (field.data or "").strip()
        if not typed:
            self.referrer_id = None
            return
        referrer = institution_from_code(typed, active_only=False)
        if referrer is not None and referrer.id == self.own_institution_id:
            raise ValidationError("This is your own institution's referral code: an institution cannot refer "
                                  "itself. Leave the field empty or enter the code of the firm that introduced you.")
        if referrer is None or referrer.status != "active":
            raise ValidationError("No active institution has this referral code: check it with the firm that gave "
                                  "it to you, or leave the field empty.")
        self.referrer_id = referrer.id

    required = {
        "legal_name": "Enter the company's legal name.",
        "registration_number": "Enter the registration number.",
        "jurisdiction": "Choose the jurisdiction of incorporation.",
        "incorporation_date": "Enter the date of incorporation.",
        "registered_address": "Enter the registered address.",
        "business_address": "Enter the business address.",
        "is_regulated": "Say whether the company is regulated.",
    }

    def check_complete(self) -> bool:
        ok = super().check_complete()
        if self.is_regulated.data == "yes":
            needed = (("regulator", "Name the regulator."), ("licence_number", "Enter the licence number."))
            for name, message in needed:
                if not self[name].data:
                    self[name].errors = [*self[name].errors, message]
                    ok = False
        return ok

    def values(self) -> dict:
        data = {name: self[name].data or None for name in (
            "legal_name", "registration_number", "jurisdiction", "incorporation_date", "lei", "registered_address",
            "business_address", "website", "regulator", "licence_number")}
        data["trading_names"] = self.trading_names.data or []
        data["is_regulated"] = {"yes": True, "no": False}.get(self.is_regulated.data)
        data["referred_by_institution_id"] = self.referrer_id
        return data


class ProfileForm(StepForm):
    mm_experience_years = WholeNumberField("Market-making experience (years)",
                                           validators=[Optional(), Between(0, 100, "Enter 0 to 100 years.")])
    mm_venues = LinesField("Venues where you make markets today",
                           validators=[short_items(30, 100)], description="One per line, e.g. exchange names.")
    volume_30d_usd = WholeNumberField("Traded volume, last 30 days (USD)",
                                      validators=[Optional(), Between(0, 10**15, "Enter a positive amount.")])
    capital_usd = WholeNumberField("Capital for market making (USD)",
                                   validators=[Optional(), Between(0, 10**15, "Enter a positive amount.")])
    pairs = LinesField("Pairs you propose to quote", validators=[short_items(100, 21), valid_pairs],
                       description="One per line, e.g. BTC/USDT.")
    max_spread_bps = FiniteDecimalField("Maximum spread (basis points)", places=2,
                                        validators=[Optional(), Between(Decimal("0.01"), Decimal(10000),
                                                                        "Enter 0.01 to 10,000 basis points.")])
    min_depth_usd = WholeNumberField("Minimum depth on each side (USD)",
                                     validators=[Optional(), Between(0, 10**12, "Enter a positive amount.")])
    uptime_pct = FiniteDecimalField("Quoting uptime (%)", places=2, percent=True,
                                    validators=[Optional(), Between(Decimal(0), Decimal(100), "Enter 0 to 100%.")])
    expected_order_rate = WholeNumberField("Expected order rate (orders per second)",
                                           validators=[Optional(), Between(0, 100000, "Enter 0 to 100,000.")])
    requested_scopes = MultiCheckboxField("API scopes you request", choices=choices(SCOPES.items()),
                                          validate_choice=True)
    ip_allowlist = LinesField("IP addresses your systems trade from", validators=[valid_ip_entries],
                              description="IPv4 or IPv6 addresses or CIDR ranges, one per line (1–30). Required "
                                          "for trading scopes.")

    required = {
        "mm_experience_years": "Enter your market-making experience.",
        "volume_30d_usd": "Enter your traded volume over the last 30 days.",
        "capital_usd": "Enter the capital available for market making.",
        "pairs": "List at least one pair.",
        "max_spread_bps": "Enter the maximum spread.",
        "min_depth_usd": "Enter the minimum depth.",
        "uptime_pct": "Enter the quoting uptime.",
        "expected_order_rate": "Enter the expected order rate.",
        "requested_scopes": "Choose at least one scope.",
    }

    def check_complete(self) -> bool:
        ok = super().check_complete()
        trading = {"spot:trade", "margin:trade", "futures:trade"} & set(self.requested_scopes.data or [])
        if trading and not self.ip_allowlist.data:
            self.ip_allowlist.errors = [*self.ip_allowlist.errors,
                                        "Trading scopes need at least one IP address or range."]
            ok = False
        return ok

    def values(self) -> dict:
        data = {name: self[name].data for name in (
            "mm_experience_years", "volume_30d_usd", "capital_usd", "max_spread_bps", "min_depth_usd", "uptime_pct",
            "expected_order_rate")}
        for name in ("mm_venues", "pairs", "requested_scopes", "ip_allowlist"):
            data[name] = self[name].data or []
        return data


class PersonForm(FlaskForm):
    name = StringField("Full name", validators=[Length(max=300)])
    date_of_birth = DateField("Date of birth", validators=[Optional(), adult_birth_date])
    nationality = SelectField("Nationality", choices=country_choices, validators=[Optional()])
    residence = SelectField("Country of residence", choices=country_choices, validators=[Optional()])
    is_director = BooleanField("Director")
    is_signatory = BooleanField("Authorised signatory")
    is_controller = BooleanField("Senior managing official (controller)")
    title = StringField("Position or title (optional)", validators=[Optional(), Length(max=200)])
    submit = SubmitField("Save person")

    def validate_name(self, field):
        if not (field.data or "").strip():
            raise ValidationError("Enter the person's full name.")

    def values(self) -> dict:
        return {
            "name": self.name.data.strip(), "date_of_birth": self.date_of_birth.data,
            "nationality": self.nationality.data or None, "residence": self.residence.data or None,
            "is_director": self.is_director.data, "is_signatory": self.is_signatory.data,
            "is_controller": self.is_controller.data, "title": self.title.data or None,
        }


class CompanyPartyForm(FlaskForm):
    name = StringField("Company name", validators=[Length(max=300)])
    jurisdiction = SelectField("Jurisdiction", choices=country_choices, validators=[Optional()])
    registration_number = StringField("Registration number", validators=[Optional(), Length(max=80)])
    submit = SubmitField("Save company")

    def validate_name(self, field):
        if not (field.data or "").strip():
            raise ValidationError("Enter the company's name.")

    def values(self) -> dict:
        return {"name": self.name.data.strip(), "jurisdiction": self.jurisdiction.data or None,
                "registration_number": self.registration_number.data or None}


class HoldingForm(FlaskForm):
    """Add a shareholder: an existing party or a new person or company, and its share."""

    owned = SelectField("Shareholder of", validators=[Optional()], validate_choice=True)
    owner = SelectField("Shareholder", validators=[Optional()], validate_choice=True)
    new_kind = RadioField("New shareholder is",
                          choices=choices([("person", "A natural person"), ("company", "A company")]),
                          default="person", validators=[Optional()])
    name = StringField("Name of the new shareholder", validators=[Length(max=300)])
    date_of_birth = DateField("Date of birth (person)", validators=[Optional(), adult_birth_date])
    nationality = SelectField("Nationality (person)", choices=country_choices, validators=[Optional()])
    residence = SelectField("Country of residence (person)", choices=country_choices, validators=[Optional()])
    jurisdiction = SelectField("Jurisdiction (company)", choices=country_choices, validators=[Optional()])
    registration_number = StringField("Registration number (company)", validators=[Optional(), Length(max=80)])
    percentage = FiniteDecimalField("Share held (%)", places=4, percent=True,
                                    invalid_message="Enter the share held, in percent.",
                                    description="Direct holding in percent, e.g. 40 or 12.5.")
    submit = SubmitField("Add shareholder")

    def validate_percentage(self, field):
        if field.data is None:
            if field.errors:  # unreadable input: the field has already said so
                return
            raise ValidationError("Enter the share held, in percent.")
        if field.data <= 0 or field.data > 100:
            raise ValidationError("Enter a share greater than 0% and at most 100%.")

    def validate_name(self, field):
        if not self.owner.data and not (field.data or "").strip():
            raise ValidationError("Enter the new shareholder's name, or choose someone already listed.")

"""The web's forms: their fields, labels and the checks made before a command is tried."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length

from services.web.i18n import LANGUAGES, NAMES


class Form(FlaskForm):
    """A form of the web: its CSRF token is checked for every POST by the web's own hook (pages.py)."""

    class Meta:
        csrf = False


class LoginForm(Form):
    login = StringField(_l("Email"), validators=[DataRequired(_l("Enter your email address.")), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Enter your password."))])
    next = HiddenField()


class NewPasswordForm(Form):
    password = PasswordField(_l("New password"), validators=[
        DataRequired(_l("Enter a password.")), Length(max=200, message=_l("A password has at most 200 characters."))])
    password_confirm = PasswordField(_l("The new password again"), validators=[
        DataRequired(_l("Enter the password once more.")),
        EqualTo("password", _l("The two passwords differ; type the same one twice."))])


class ResetRequestForm(Form):
    login = StringField(_l("Email"), validators=[DataRequired(_l("Enter your email address.")), Length(max=254)])


class LanguageForm(Form):
    section = HiddenField(default="language")
    language = SelectField(_l("Language of the pages and emails"), choices=[SelectChoice(code, NAMES[code], render_kw={"lang": code}) for code in LANGUAGES])


class EmailForm(Form):
    section = HiddenField(default="email")
    email = EmailField(_l("Email (your login)"), validators=[
        DataRequired(_l("Enter your email address.")), Length(max=254)])


class PasswordChangeForm(NewPasswordForm):
    section = HiddenField(default="password")
    current_password = PasswordField(_l("Current password"), validators=[
        DataRequired(_l("Enter your current password."))])


class SessionsForm(Form):
    section = HiddenField(default="sessions")

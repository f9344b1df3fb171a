"""Forms of the verification screens. They validate; ``placements.services`` writes."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .choices import TargetGroup


class ApproveForm(forms.Form):
    """Approving needs no input beyond the decision itself (the button)."""


class ReasonForm(forms.Form):
    """Reject or return a contribution: the contractor reads the reason, so it is required."""

    reason = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The contractor sees this reason. Do not include personal data."),
        error_messages={"required": _("Give a reason.")},
    )


class ConfirmEligibilityForm(forms.Form):
    """Confirm that the candidate belongs to the target group (the municipality's judgement),
    correcting the group the contractor reported when needed."""

    target_group = forms.ChoiceField(label=_("Target group"), choices=TargetGroup.choices)
    note = forms.CharField(
        label=_("Justification (only for 'other')"),
        required=False,
        max_length=300,
        help_text=_("Do not include a BSN or other identifying number."),
    )

    def __init__(self, *args, candidate=None, **kwargs):
        if candidate is not None:
            kwargs.setdefault(
                "initial",
                {"target_group": candidate.target_group, "note": candidate.target_group_note},
            )
        super().__init__(*args, **kwargs)


def add_service_errors(
    form: forms.Form, exc: ValidationError, aliases: dict[str, str] | None = None
) -> None:
    """Put a service's ``ValidationError`` on the form: on the field it names (or its alias in
    the form) when the form has that field, otherwise as a form-wide error."""
    aliases = aliases or {}
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            field = aliases.get(field, field)
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)

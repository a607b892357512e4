"""The billing page's form: a plan and three seat counts."""

from django import forms

from billing.models import MAX_SEATS, PLANS


def _seats(label: str) -> forms.IntegerField:
    # No min_value here: the service's message ("Seats cannot be negative.") is the one shown.
    return forms.IntegerField(
        label=label, max_value=MAX_SEATS, widget=forms.NumberInput({"min": 0})
    )


class BillingForm(forms.Form):
    plan = forms.ChoiceField(choices=list(PLANS.items()), widget=forms.RadioSelect)
    full_time_seats = _seats("Full-time seats")
    seasonal_seats = _seats("Seasonal seats")
    collaborator_seats = _seats("Collaborator seats")

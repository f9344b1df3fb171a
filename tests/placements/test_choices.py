"""The Django choices and the pure engine use exactly the same values."""

import pytest

from placements import choices, valuation


@pytest.mark.parametrize(
    ("django_choices", "engine_enum"),
    [
        (choices.Block, valuation.Block),
        (choices.TargetGroup, valuation.TargetGroup),
        (choices.RuleKind, valuation.RuleKind),
    ],
)
def test_choices_equal_engine_enums(django_choices, engine_enum):
    assert list(django_choices.values) == [member.value for member in engine_enum]

"""The number filters read whatever a page hands them (Decimal, float, int, a stored string) and
show an em dash for nothing."""

from decimal import Decimal

import numpy as np
import pytest

from apps.common.templatetags import fmt


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, fmt.MISSING),
        ("", fmt.MISSING),
        ("not a number", fmt.MISSING),
        (float("nan"), fmt.MISSING),
        (Decimal("12345.6"), "12,346"),
        (12345.6, "12,346"),
        (12345, "12,345"),
        ("12345.60", "12,346"),  # an amount stored as text (a job's JSON result)
        (np.float64(0.5), "0"),
        (Decimal("0"), "0"),
        (0, "0"),
        (Decimal("-1500"), f"{fmt.MINUS}1,500"),
    ],
)
def test_thousands_reads_every_kind_of_number(value, shown):
    assert fmt.thousands(value) == shown

"""The package's shared numeric helpers."""

import math

import numpy as np
import pytest

from genai_lab.numeric import cdiv, mean_or_nan, percentile


def test_mean_or_nan_counts_booleans_and_has_no_rate_for_an_empty_group() -> None:
    assert mean_or_nan([True, False, True, True]) == 0.75
    assert mean_or_nan([0.5, 1.0]) == 0.75
    assert math.isnan(mean_or_nan([]))


def test_cdiv_and_percentile() -> None:
    assert [cdiv(n, 16) for n in (0, 1, 16, 17)] == [0, 1, 1, 2]
    with pytest.raises(ValueError):
        cdiv(3, 0)
    values = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0]
    assert percentile(values, 99) == pytest.approx(float(np.percentile(values, 99)))
    assert percentile([], 50) is None

"""The chat's results chart: a phone-wide PNG whose height grows with the number of bars."""

from __future__ import annotations

import io

from PIL import Image

from catalogue.charts import DPI, SIZE_INCHES, ShareBar, share_chart


def test_the_share_chart_is_a_phone_wide_png_that_grows_with_its_bars() -> None:
    two = Image.open(io.BytesIO(share_chart([ShareBar("Yes", 0.6, 0.5, 0.7), ShareBar("No", None)], "Q?", "not shown")))
    five = Image.open(io.BytesIO(share_chart([ShareBar(str(i), 0.2, 0.1, 0.3, "20 %") for i in range(5)], "Q?", "-")))
    assert two.format == five.format == "PNG"
    assert two.width == five.width == round(SIZE_INCHES[0] * DPI)
    assert five.height > two.height

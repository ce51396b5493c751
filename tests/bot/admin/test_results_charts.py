"""The results page's SVG chart: every figure in its accessible name, labels escaped, withheld
figures written as such with no bar, intervals drawn as whiskers."""

from __future__ import annotations

from bot.admin.charts import share_bars
from catalogue.charts import ShareBar


def test_share_bars_escape_labels_and_say_what_is_withheld() -> None:
    svg = str(
        share_bars(
            [ShareBar("<b>Good</b>", 0.46, 0.38, 0.53, "46%"), ShareBar("Not sure", None)],
            title="Satisfied?",
            alt="Satisfied?. Good: 46%; Not sure: not shown",
            withheld="not shown (too few answers)",
        )
    )
    assert 'role="img" aria-label="Satisfied?. Good: 46%; Not sure: not shown"' in svg
    assert "&lt;b&gt;Good&lt;/b&gt;" in svg and "<b>" not in svg
    assert svg.count('class="bar"') == 1 and svg.count('class="whisker"') == 1
    assert 'class="withheld">not shown (too few answers)</text>' in svg
    assert ">46%</text>" in svg

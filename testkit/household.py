"""A household survey with repeats, shared by the runner, conversation and end-to-end tests:
a repeat of members asked "Add another?" (with relevance, ``position(..)`` inside a pass and
``count``/``sum``/``indexed-repeat`` after it) and a repeat of children with ``repeat_count``."""

from __future__ import annotations

from pathlib import Path

from surveys.loader import load_survey_text
from surveys.model import Survey

HOUSEHOLD_YAML = """
id: household
title: Household survey
questions:
  - {type: text, name: village, label: "Which village do you live in?"}
  - type: repeat
    name: member
    label: household member
    questions:
      - {type: text, name: member_name, label: "Name of the member?"}
      - {type: integer, name: age, label: "Age of the member?", min: 0, max: 120}
      - type: select_one
        name: works
        label: "Does this member work?"
        relevant: "${age} >= 15"
        choices: [{name: "1", label: "Works"}, {name: "2", label: "Does not work"}]
      - {type: calculate, name: member_no, calculate: "position(..)"}
  - {type: calculate, name: members, calculate: "count(${member})"}
  - {type: calculate, name: total_age, calculate: "sum(${age})"}
  - {type: calculate, name: oldest, calculate: "max(${age})"}
  - {type: calculate, name: first_member, calculate: "indexed-repeat(${member_name}, ${member}, 1)"}
  - {type: integer, name: children, label: "How many children go to school?", min: 0, max: 10}
  - type: repeat
    name: child
    label: child
    repeat_count: "${children}"
    questions:
      - {type: text, name: school, label: "Which school does the child go to?"}
  - {type: integer, name: rooms, label: "How many rooms does the house have?", min: 1, max: 50}
"""


def household_survey() -> Survey:
    return load_survey_text(HOUSEHOLD_YAML, "household.yaml")


def write_household(directory: Path) -> Path:
    """The household survey as a file in the surveys folder ``directory``."""
    path = directory / "household.yaml"
    path.write_text(HOUSEHOLD_YAML, encoding="utf-8")
    return path

"""A survey with a split-sample experiment and a shuffled group, shared by the runner,
conversation, dashboard and command-line tests: arm ``b`` words the income question otherwise;
the three service ratings are asked in an order drawn per response."""

from __future__ import annotations

from surveys.loader import load_survey_text
from surveys.model import Survey

TRIAL_YAML = """
id: trial
title: Household income
experiment:
  name: wording
  arms:
    a: {}
    b:
      labels:
        income: "What did your household earn last month, all sources together?"
questions:
  - {type: integer, name: income, label: "Household income last month?"}
  - type: group
    name: services
    randomize: true
    questions:
      - {type: integer, name: water, label: "Rate the water service (1-5)", min: 1, max: 5}
      - {type: integer, name: power, label: "Rate the power service (1-5)", min: 1, max: 5}
      - {type: integer, name: roads, label: "Rate the roads (1-5)", min: 1, max: 5}
"""
#: What each arm's respondents read of the income question.
WORDING = {"a": "Household income last month?", "b": "What did your household earn last month"}
#: The service questions by name, as their labels begin.
SERVICES = {"water": "Rate the water service", "power": "Rate the power service", "roads": "Rate the roads"}


#: The trial with arm ``b`` wording its own invitation (a broadcast of its own; arm ``a`` gets the round's).
NOTICED_TRIAL_YAML = TRIAL_YAML.replace(
    '        income: "What did your household earn last month, all sources together?"\n',
    '        income: "What did your household earn last month, all sources together?"\n'
    '      notice: "Five minutes about what your household earns"\n',
)


def trial_survey(text: str = TRIAL_YAML) -> Survey:
    return load_survey_text(text, "trial.yaml")

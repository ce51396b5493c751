"""Two waves of a labour force panel, the example of docs/fieldwork.md ("Panels"): shared by the
pure tests, the conversation test and the command-line tests."""

from __future__ import annotations

from pathlib import Path

#: The choice lists both waves use.
CHOICES = """\
choices:
  yes_no:
    - {name: 'yes', label: 'Yes'}
    - {name: 'no', label: 'No'}
  sectors:
    - {name: farming, label: Farming}
    - {name: trade, label: Trade}
    - {name: services, label: Services}
"""

WAVE_1 = (
    """\
id: lfs2026w1
title: Labour force panel, wave 1
panel: {id: lfs_panel, wave: 1}
questions:
  - type: select_one
    name: employed
    label: Did you work for pay last week?
    choices: yes_no
  - type: integer
    name: income
    label: What was your income last month?
    relevant: ${employed} = 'yes'
  - type: select_one
    name: sector
    label: In which sector?
    choices: sectors
    relevant: ${employed} = 'yes'
"""
    + CHOICES
)

WAVE_2 = (
    """\
id: lfs2026w2
title: Labour force panel, wave 2
panel: {id: lfs_panel, wave: 2}
questions:
  - type: note
    name: welcome_back
    label: "Welcome back. Three months ago you earned ${last_wave.income} in ${last_wave.sector}."
    relevant: ${last_wave.income} != ''
  - type: select_one
    name: employed
    label: Did you work for pay last week?
    choices: yes_no
  - type: integer
    name: income
    label: "What was your income last month? (Last time: ${last_wave.income})"
    relevant: ${employed} = 'yes'
    prefill: last_wave
    constraint: ${last_wave.income} = '' or . <= 10 * ${last_wave.income}
    constraint_message: That is more than ten times what you told us last time.
  - type: select_one
    name: sector
    label: In which sector?
    choices: sectors
    relevant: ${employed} = 'yes'
    prefill: last_wave
  - type: calculate
    name: income_change
    calculate: if(${last_wave.income} = '' or ${income} = '', '', ${income} - ${last_wave.income})
"""
    + CHOICES
)


def write_waves(folder: Path, wave_2: str = WAVE_2) -> tuple[Path, Path]:
    """Both waves as survey files in ``folder`` (created), wave 2 as ``wave_2`` says."""
    folder.mkdir(parents=True, exist_ok=True)
    first, second = folder / "lfs2026w1.yaml", folder / "lfs2026w2.yaml"
    first.write_text(WAVE_1, encoding="utf-8")
    second.write_text(wave_2, encoding="utf-8")
    return first, second

"""The pandas route the export benchmark compares with: ``read_sql`` of the same pivoted table
(the same SQL as ``baraza export``), then pandas' own writer. Run by ``bench.export_formats``:

    python -m bench.export_pandas DATABASE_URL FORMAT OUTPUT
"""

from __future__ import annotations

import json
import sys

import pandas as pd
import pyreadstat
from sqlalchemy import create_engine

from bench.export_formats import WORK
from bench.export_survey import SURVEY_ID
from surveys.loader import load_survey_file


def main() -> None:
    url, fmt, output = sys.argv[1:4]
    survey = load_survey_file(WORK / "forms" / f"{SURVEY_ID}.yaml")
    if "sqlite" not in url:
        raise SystemExit("the pandas route runs on SQLite only (no synchronous PostgreSQL driver installed)")
    engine = create_engine(url.replace("+aiosqlite", ""))
    query = (
        "SELECT r.id AS response_id, r.respondent, r.channel, r.language, r.started_at, r.completed_at, "
        "r.survey_version, json_group_object(a.question, a.value) AS answers "
        "FROM responses r LEFT JOIN answers a ON a.response_id = r.id "
        f"WHERE r.survey_id = '{SURVEY_ID}' GROUP BY r.started_at, r.id ORDER BY r.started_at, r.id"
    )
    frame = pd.read_sql(query, engine)
    answers = pd.DataFrame.from_records(
        frame.pop("answers").map(lambda text: json.loads(text) if isinstance(text, str) else (text or {}))
    )
    questions = [q.name for q in survey.data_questions]
    frame = pd.concat([frame, answers.reindex(columns=questions)], axis=1)
    if fmt == "csv":
        frame.to_csv(output, index=False)
    elif fmt == "jsonl":
        frame.to_json(output, orient="records", lines=True, date_format="iso")
    elif fmt == "xlsx":
        frame.to_excel(output, index=False, engine="xlsxwriter")
    else:
        frame = frame.convert_dtypes()
        for column in frame.columns:  # pyreadstat wants plain numpy/object columns
            if str(frame[column].dtype) in ("string", "str"):
                frame[column] = frame[column].astype(object)
        writer = pyreadstat.write_sav if fmt == "sav" else pyreadstat.write_dta
        writer(frame, output)


if __name__ == "__main__":
    main()

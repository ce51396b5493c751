"""Writes the XLSForm spreadsheets in tests/xlsforms/ (run it again after changing a form).

    .venv/bin/python -m testkit.make_forms

household_listing.xlsx      English; integers with constraints, a date, a decimal, "other" via relevant, a calculate
user_consultation.xlsx      English, French, Portuguese, Arabic; skip logic, nested groups with relevant,
                            a region -> district choice filter, select_multiple with count-selected, a likert range
stat_literacy_quiz.xlsx     a quiz (settings kind=quiz) with correct and explanation columns
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from testkit.paths import XLSFORMS

Row = Sequence[Any]


def write_xlsform(
    path: Path,
    survey: Sequence[Row],
    choices: Sequence[Row] = (),
    settings: Sequence[Row] = (),
    osm: Sequence[Row] = (),
) -> Path:
    """One workbook with sheets survey, choices, settings (and osm when given); each given as rows,
    the header first."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "survey"
    for row in survey:
        sheet.append(list(row))
    for title, rows in (("choices", choices), ("settings", settings), ("osm", osm)):
        if rows:
            extra = workbook.create_sheet(title)
            for row in rows:
                extra.append(list(row))
    workbook.save(path)
    return path


# --------------------------------------------------------------------------------------------
# (a) Household listing: English only.

HOUSEHOLD_SURVEY: list[Row] = [
    ["type", "name", "label", "hint", "required", "relevant", "constraint", "constraint_message", "calculation", "appearance"],
    ["start", "start", None, None, None, None, None, None, None, None],
    ["end", "end", None, None, None, None, None, None, None, None],
    ["text", "ea_code", "Enumeration area code", "The four digits on the listing map, e.g. 0412.", "yes", None,
     "regex(., '^[0-9]{4}$')", "The code has exactly four digits.", None, None],
    ["date", "visit_date", "Date of the visit", None, "yes", None, ". <= today()",
     "The visit date cannot be in the future.", None, None],
    ["text", "head_name", "Name of the head of household", None, "yes", None, None, None, None, None],
    ["select_one sex", "head_sex", "Sex of the head of household", None, "yes", None, None, None, None, None],
    ["integer", "head_age", "Age of the head of household in completed years", None, "yes", None,
     ". >= 15 and . <= 110", "The head of household is 15 to 110 years old.", None, None],
    ["integer", "hh_size", "How many people usually live in this household?", "Include the head of household.", "yes",
     None, ". >= 1 and . <= 40", "Enter a number from 1 to 40.", None, None],
    ["integer", "hh_children", "How many of them are under 15 years old?", None, "yes", None,
     ". >= 0 and . < ${hh_size}", "There must be fewer children than people in the household.", None, None],
    ["calculate", "hh_adults", None, None, None, None, None, None, "${hh_size} - ${hh_children}", None],
    ["select_one dwelling", "dwelling_type", "Type of dwelling", None, "yes", None, None, None, None, None],
    ["text", "dwelling_other", "Specify the other type of dwelling", None, "yes", "${dwelling_type} = 'other'", None,
     None, None, None],
    ["select_one tenure", "tenure", "Does the household own or rent this dwelling?", None, "yes", None, None, None, None,
     "horizontal"],
    ["decimal", "monthly_rent", "How much rent does the household pay per month?", "In local currency.", "no",
     "${tenure} = 'rented'", ". > 0", "The rent must be more than 0.", None, None],
    ["select_one yes_no", "has_electricity", "Does the household have electricity?", None, "yes", None, None, None,
     None, None],
    ["note", "listing_done", "Thank you. The household is listed.", None, None, None, None, None, None, None],
]  # fmt: skip
HOUSEHOLD_CHOICES: list[Row] = [
    ["list_name", "name", "label"],
    ["sex", "male", "Male"],
    ["sex", "female", "Female"],
    ["dwelling", "house", "Detached house"],
    ["dwelling", "apartment", "Apartment or flat"],
    ["dwelling", "traditional", "Traditional hut"],
    ["dwelling", "improvised", "Improvised or makeshift"],
    ["dwelling", "other", "Other"],
    ["tenure", "owned", "Owned"],
    ["tenure", "rented", "Rented"],
    ["tenure", "free", "Lives there free"],
    ["yes_no", "yes", "Yes"],
    ["yes_no", "no", "No"],
]
HOUSEHOLD_SETTINGS: list[Row] = [
    ["form_title", "form_id", "version"],
    ["Household listing 2026", "household_listing", "2026031501"],
]

# --------------------------------------------------------------------------------------------
# (b) User consultation on official statistics: English, French, Portuguese, Arabic.

LANGUAGES = ["English (en)", "French (fr)", "Portuguese (pt)", "Arabic (ar)"]


def _texts(column: str) -> list[str]:
    return [f"{column}::{language}" for language in LANGUAGES]


def _row(kind: str, name: str, label: Sequence[str] | None = None, *, hint: Sequence[str] | None = None,
         required: str | None = None, required_message: Sequence[str] | None = None, relevant: str | None = None,
         constraint: str | None = None, constraint_message: Sequence[str] | None = None, calculation: str | None = None,
         choice_filter: str | None = None, appearance: str | None = None, parameters: str | None = None) -> Row:  # fmt: skip
    empty = [None] * 4
    return [
        kind, name, *(label or empty), *(hint or empty), required, *(required_message or empty), relevant,
        constraint, *(constraint_message or empty), calculation, choice_filter, appearance, parameters,
    ]  # fmt: skip


CONSULTATION_SURVEY: list[Row] = [
    ["type", "name", *_texts("label"), *_texts("hint"), "required", *_texts("required_message"), "relevant",
     "constraint", *_texts("constraint_message"), "calculation", "choice_filter", "appearance", "parameters"],
    _row("note", "welcome", [
        "Thank you for taking part in our consultation on official statistics.",
        "Merci de participer à notre consultation sur la statistique officielle.",
        "Obrigado por participar na nossa consulta sobre as estatísticas oficiais.",
        "شكرًا لمشاركتكم في استشارتنا حول الإحصاءات الرسمية.",
    ]),
    _row("select_one user_type", "user_type", [
        "Which best describes you?", "Laquelle de ces catégories vous décrit le mieux ?",
        "Qual destas opções o descreve melhor?", "أيّ مما يلي يصفك بشكل أفضل؟",
    ], required="yes"),
    _row("text", "user_type_other", [
        "Please describe your work or role.", "Veuillez décrire votre travail ou votre rôle.",
        "Descreva o seu trabalho ou função.", "يرجى وصف عملك أو دورك.",
    ], required="yes", relevant="${user_type} = 'other'"),
    _row("select_one region", "region", [
        "In which region do you live?", "Dans quelle région habitez-vous ?",
        "Em que região vive?", "في أي منطقة تعيش؟",
    ], required="yes"),
    _row("select_one district", "district", [
        "In which district?", "Dans quel district ?", "Em que distrito?", "في أي مقاطعة؟",
    ], required="yes", choice_filter="region = ${region}"),
    _row("select_one frequency", "frequency", [
        "How often do you use official statistics?", "À quelle fréquence utilisez-vous la statistique officielle ?",
        "Com que frequência utiliza as estatísticas oficiais?", "كم مرة تستخدم الإحصاءات الرسمية؟",
    ], required="yes"),
    _row("begin_group", "usage", [
        "Your use of statistics", "Votre utilisation des statistiques",
        "A sua utilização das estatísticas", "استخدامك للإحصاءات",
    ], relevant="${frequency} != 'never'"),
    _row("select_multiple topics", "topics", [
        "Which topics do you use most?", "Quels thèmes utilisez-vous le plus ?",
        "Que temas utiliza mais?", "ما المواضيع التي تستخدمها أكثر من غيرها؟",
    ], hint=[
        "Choose up to three.", "Choisissez-en trois au plus.", "Escolha até três.", "اختر ثلاثة مواضيع على الأكثر.",
    ], required="yes", required_message=[
        "Please choose at least one topic.", "Veuillez choisir au moins un thème.",
        "Escolha pelo menos um tema.", "يرجى اختيار موضوع واحد على الأقل.",
    ], constraint="count-selected(.) <= 3", constraint_message=[
        "Choose three topics at most.", "Choisissez trois thèmes au plus.",
        "Escolha no máximo três temas.", "اختر ثلاثة مواضيع على الأكثر.",
    ]),
    _row("select_multiple channels", "channels", [
        "How do you get our statistics?", "Comment obtenez-vous nos statistiques ?",
        "Como obtém as nossas estatísticas?", "كيف تحصل على إحصاءاتنا؟",
    ], required="yes"),
    _row("range", "satisfaction", [
        "Overall, how satisfied are you with our statistics?",
        "Dans l'ensemble, êtes-vous satisfait de nos statistiques ?",
        "De um modo geral, está satisfeito com as nossas estatísticas?",
        "بشكل عام، ما مدى رضاك عن إحصاءاتنا؟",
    ], hint=[
        "1 = very dissatisfied, 5 = very satisfied.", "1 = très insatisfait, 5 = très satisfait.",
        "1 = muito insatisfeito, 5 = muito satisfeito.", "1 = غير راضٍ إطلاقًا، 5 = راضٍ جدًا.",
    ], required="yes", appearance="likert", parameters="start=1 end=5 step=1"),
    _row("select_one yes_no", "found_easily", [
        "Did you find the statistics you needed easily?",
        "Avez-vous trouvé facilement les statistiques dont vous aviez besoin ?",
        "Encontrou facilmente as estatísticas de que precisava?",
        "هل وجدت الإحصاءات التي كنت تحتاجها بسهولة؟",
    ], required="yes"),
    _row("begin_group", "difficulties", [
        "Difficulties", "Difficultés", "Dificuldades", "الصعوبات",
    ], relevant="${found_easily} = 'no'"),
    _row("select_multiple difficulty", "difficulty_reasons", [
        "What made it difficult?", "Qu'est-ce qui a rendu la recherche difficile ?",
        "O que dificultou a pesquisa?", "ما الذي جعل ذلك صعبًا؟",
    ], required="yes"),
    _row("end_group", "difficulties"),
    _row("end_group", "usage"),
    _row("select_one yes_no", "contact_ok", [
        "May we contact you about future consultations?", "Pouvons-nous vous contacter pour de futures consultations ?",
        "Podemos contactá-lo sobre futuras consultas?", "هل يمكننا التواصل معك بشأن الاستشارات المقبلة؟",
    ], required="yes"),
    _row("text", "contact_email", [
        "Your e-mail address", "Votre adresse électronique", "O seu endereço de correio eletrónico",
        "عنوان بريدك الإلكتروني",
    ], required="yes", relevant="${contact_ok} = 'yes'", constraint="regex(., '^[^@ ]+@[^@ ]+[.][^@ ]+$')",
        constraint_message=[
        "This does not look like an e-mail address.", "Cela ne ressemble pas à une adresse électronique.",
        "Isto não parece um endereço de correio eletrónico.", "لا يبدو هذا عنوان بريد إلكتروني صحيحًا.",
    ]),
    _row("calculate", "topic_count", calculation="count-selected(${topics})"),
    _row("text", "suggestions", [
        "What should we improve?", "Que devrions-nous améliorer ?", "O que devemos melhorar?", "ما الذي ينبغي أن نحسّنه؟",
    ], required="no"),
]  # fmt: skip


def _choice(list_name: str, name: str, en: str, fr: str, pt: str, ar: str, region: str | None = None) -> Row:
    return [list_name, name, en, fr, pt, ar, region]


CONSULTATION_CHOICES: list[Row] = [
    ["list_name", "name", *_texts("label"), "region"],
    _choice("user_type", "government", "Government official", "Fonctionnaire", "Funcionário público", "موظف حكومي"),
    _choice("user_type", "researcher", "Researcher or academic", "Chercheur ou universitaire", "Investigador ou académico",
            "باحث أو أكاديمي"),
    _choice("user_type", "media", "Journalist", "Journaliste", "Jornalista", "صحفي"),
    _choice("user_type", "business", "Business", "Entreprise", "Empresa", "قطاع الأعمال"),
    _choice("user_type", "student", "Student", "Étudiant", "Estudante", "طالب"),
    _choice("user_type", "other", "Other", "Autre", "Outro", "أخرى"),
    _choice("region", "north", "North", "Nord", "Norte", "الشمال"),
    _choice("region", "south", "South", "Sud", "Sul", "الجنوب"),
    _choice("region", "coast", "Coast", "Côte", "Litoral", "الساحل"),
    _choice("district", "hillside", "Hillside", "Colline", "Encosta", "التلال", "north"),
    _choice("district", "lakeside", "Lakeside", "Bord du lac", "Beira do lago", "ضفة البحيرة", "north"),
    _choice("district", "riverbend", "Riverbend", "Méandre", "Curva do rio", "منعطف النهر", "south"),
    _choice("district", "plains", "Plains", "Plaines", "Planícies", "السهول", "south"),
    _choice("district", "harbour", "Harbour", "Port", "Porto", "الميناء", "coast"),
    _choice("district", "dunes", "Dunes", "Dunes", "Dunas", "الكثبان", "coast"),
    _choice("frequency", "weekly", "Every week", "Chaque semaine", "Todas as semanas", "كل أسبوع"),
    _choice("frequency", "monthly", "Every month", "Chaque mois", "Todos os meses", "كل شهر"),
    _choice("frequency", "yearly", "A few times a year", "Quelques fois par an", "Algumas vezes por ano",
            "بضع مرات في السنة"),
    _choice("frequency", "never", "Never", "Jamais", "Nunca", "أبدًا"),
    _choice("topics", "population", "Population", "Population", "População", "السكان"),
    _choice("topics", "prices", "Prices and inflation", "Prix et inflation", "Preços e inflação", "الأسعار والتضخم"),
    _choice("topics", "labour", "Labour market", "Marché du travail", "Mercado de trabalho", "سوق العمل"),
    _choice("topics", "economy", "Economy and GDP", "Économie et PIB", "Economia e PIB", "الاقتصاد والناتج المحلي"),
    _choice("topics", "agriculture", "Agriculture", "Agriculture", "Agricultura", "الزراعة"),
    _choice("topics", "health", "Health", "Santé", "Saúde", "الصحة"),
    _choice("channels", "website", "Our website", "Notre site web", "O nosso sítio web", "موقعنا الإلكتروني"),
    _choice("channels", "reports", "Printed reports", "Rapports imprimés", "Relatórios impressos", "التقارير المطبوعة"),
    _choice("channels", "media", "News media", "Médias", "Comunicação social", "وسائل الإعلام"),
    _choice("channels", "social", "Social media", "Réseaux sociaux", "Redes sociais", "وسائل التواصل الاجتماعي"),
    _choice("difficulty", "search", "The search did not work", "La recherche ne fonctionnait pas",
            "A pesquisa não funcionou", "البحث لم يعمل"),
    _choice("difficulty", "missing", "The data did not exist", "Les données n'existaient pas", "Os dados não existiam",
            "البيانات غير موجودة"),
    _choice("difficulty", "format", "The format was hard to use", "Le format était difficile à utiliser",
            "O formato era difícil de usar", "كان استخدام الصيغة صعبًا"),
    _choice("yes_no", "yes", "Yes", "Oui", "Sim", "نعم"),
    _choice("yes_no", "no", "No", "Non", "Não", "لا"),
]  # fmt: skip
CONSULTATION_SETTINGS: list[Row] = [
    ["form_title", "form_id", "default_language", "version"],
    ["User consultation on official statistics 2026", "user_consultation_2026", "English (en)", "2026040101"],
]

# --------------------------------------------------------------------------------------------
# (c) Statistical literacy quiz: kind=quiz, with correct and explanation columns.

QUIZ_SURVEY: list[Row] = [
    ["type", "name", "label", "hint", "required", "constraint", "constraint_message", "correct", "explanation"],
    ["note", "intro_note", "Five questions about everyday statistics. You get the answer after each one.", None, None,
     None, None, None, None],
    ["select_one average", "q_median", "In a village, nine households earn 100 a month and one earns 10,000. Which "
     "average best describes a typical household?", None, "yes", None, None, "median",
     "The median (100) is the middle value and is not pulled up by the one very rich household; the mean is 1,090."],
    ["select_one rise", "q_points", "Unemployment rose from 4% to 5%. How big is the rise?", None, "yes", None, None,
     "points", "It rose by 1 percentage point, which is a 25% increase on the earlier rate of 4%."],
    ["select_one cause", "q_correlation", "Towns that sell more ice cream have more drownings. What is the most likely "
     "explanation?", None, "yes", None, None, "weather",
     "Correlation is not causation: hot weather increases both ice-cream sales and swimming."],
    ["select_one prices", "q_inflation", "Inflation fell from 8% to 3%. What happened to prices?", None, "yes", None,
     None, "slower", "Prices are still rising, but more slowly: 3% a year instead of 8%."],
    ["select_one sample", "q_sample", "A well-designed random sample of 1,000 adults says 40% support a policy. What "
     "does that tell us about all adults?", None, "yes", None, None, "close",
     "A random sample of 1,000 gives an estimate within about 3 percentage points of the true share, 19 times in 20."],
    ["integer", "age", "How old are you? (optional)", "Only to see which age groups take the quiz.", "no",
     ". >= 10 and . <= 120", "Enter an age from 10 to 120.", None, None],
]  # fmt: skip
QUIZ_CHOICES: list[Row] = [
    ["list_name", "name", "label"],
    ["average", "mean", "The mean"],
    ["average", "median", "The median"],
    ["average", "maximum", "The highest income"],
    ["rise", "percent", "By 1%"],
    ["rise", "points", "By 1 percentage point"],
    ["rise", "doubled", "It doubled"],
    ["cause", "icecream", "Ice cream makes swimming dangerous"],
    ["cause", "weather", "Hot weather leads to both"],
    ["cause", "chance", "It is pure chance"],
    ["prices", "fell", "Prices fell"],
    ["prices", "slower", "Prices rose, but more slowly"],
    ["prices", "same", "Prices stayed the same"],
    ["sample", "nothing", "Nothing: 1,000 people are too few"],
    ["sample", "close", "The true share is probably close to 40%"],
    ["sample", "exact", "Exactly 40% of all adults support it"],
]
QUIZ_SETTINGS: list[Row] = [
    ["form_title", "form_id", "version", "kind"],
    ["How well do you know your statistics?", "stat_literacy_quiz", "1", "quiz"],
]

FORMS = {
    "household_listing.xlsx": (HOUSEHOLD_SURVEY, HOUSEHOLD_CHOICES, HOUSEHOLD_SETTINGS),
    "user_consultation.xlsx": (CONSULTATION_SURVEY, CONSULTATION_CHOICES, CONSULTATION_SETTINGS),
    "stat_literacy_quiz.xlsx": (QUIZ_SURVEY, QUIZ_CHOICES, QUIZ_SETTINGS),
}


def main() -> None:
    for file_name, (survey, choices, settings) in FORMS.items():
        path = write_xlsform(XLSFORMS / file_name, survey, choices, settings)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()

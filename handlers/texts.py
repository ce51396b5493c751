"""The bot's own words in each language it speaks.

Survey texts come from the survey files; these are the messages around them (greetings,
errors, buttons). English is the fallback for any language or key that is missing.
"""

from __future__ import annotations

from collections.abc import Mapping

MESSAGES: Mapping[str, Mapping[str, str]] = {
    "en": {
        "greeting": "Hello! I am the chat assistant of the national statistics office.",
        "surveys_open": "These surveys are open. Press one to take part:",
        "no_surveys": "There are no open surveys at the moment. Thank you for your interest!",
        "help": (
            "What I can do:\n"
            "/start – see the open surveys\n"
            "/survey ID – start a survey\n"
            "/cancel – stop the current survey (your answers so far are kept)\n"
            "/help – this message\n\n"
            "Answer a question by pressing a button or typing your answer. "
            "For a choice you can also type its number."
        ),
        "unknown_command": "I do not know the command {command}. Send /help to see what I can do.",
        "not_understood": "I did not understand that. Send /start to see the open surveys or /help for help.",
        "unknown_survey": "There is no open survey called '{survey}'. Send /start to see the open surveys.",
        "survey_start_hint": "You can stop at any time with /cancel; the answers you gave are kept.",
        "already_answered": "You have already answered '{title}'. Thank you!",
        "resuming": "Welcome back! Let us continue where you left off.",
        "cancelled": "The survey is stopped. The answers you gave are kept. Send /start to see the open surveys.",
        "nothing_to_cancel": "There is nothing to cancel. Send /start to see the open surveys.",
        "stale_button": "That button belongs to an earlier question; please answer the question below.",
        "button_skip": "Skip ⏭",
        "button_done": "Done ✔",
        "skip_words": "skip",
        "finished": "Send /start to see other surveys.",
        "in_survey": "You are answering '{title}'.",
        "problem_empty": "Please type an answer.",
        "problem_unknown_choice": "Please press one of the buttons, or type a number from 1 to {count}.",
        "problem_unknown_choices": "Please tick the buttons, or type numbers from 1 to {count} separated by commas.",
        "problem_not_integer": "Please type a whole number, for example 12.",
        "problem_not_number": "Please type a number, for example 12.5.",
        "problem_below_minimum": "The answer must be at least {min}.",
        "problem_above_maximum": "The answer must be at most {max}.",
        "problem_not_in_range": "Please press a button, or type a whole number from {start} to {end}.",
        "problem_not_date": "Please type a date such as 2026-03-31 or 31/03/2026.",
        "problem_too_long": "Please keep the answer under {max} characters.",
        "problem_required": "This question needs an answer.",
        "problem_select_at_least_one": "Please tick at least one answer, then press Done.",
        "problem_press_not_expected": "Please answer the question below.",
        "problem_survey_finished": "This survey is finished.",
        "problem_no_answer_expected": "No answer is needed here.",
        "try_again": "Sorry, I could not save that just now. Please send it again in a moment.",
        "unsupported_message": "I can only read text messages and button presses.",
    },
    "fr": {
        "greeting": "Bonjour ! Je suis l'assistant de l'institut national de la statistique.",
        "surveys_open": "Ces enquêtes sont ouvertes. Appuyez sur l'une d'elles pour participer :",
        "no_surveys": "Aucune enquête n'est ouverte pour le moment. Merci de votre intérêt !",
        "help": (
            "Ce que je sais faire :\n"
            "/start – voir les enquêtes ouvertes\n"
            "/survey ID – commencer une enquête\n"
            "/cancel – arrêter l'enquête en cours (vos réponses sont conservées)\n"
            "/help – ce message\n\n"
            "Répondez en appuyant sur un bouton ou en tapant votre réponse. "
            "Pour un choix, vous pouvez aussi taper son numéro."
        ),
        "unknown_command": "Je ne connais pas la commande {command}. Envoyez /help pour voir ce que je sais faire.",
        "not_understood": "Je n'ai pas compris. Envoyez /start pour voir les enquêtes ouvertes ou /help pour l'aide.",
        "unknown_survey": "Aucune enquête ouverte ne s'appelle « {survey} ». Envoyez /start pour voir les enquêtes.",
        "survey_start_hint": "Vous pouvez arrêter à tout moment avec /cancel ; vos réponses sont conservées.",
        "already_answered": "Vous avez déjà répondu à « {title} ». Merci !",
        "resuming": "Bon retour ! Reprenons là où vous vous êtes arrêté.",
        "cancelled": "L'enquête est arrêtée. Vos réponses sont conservées. Envoyez /start pour voir les enquêtes.",
        "nothing_to_cancel": "Il n'y a rien à annuler. Envoyez /start pour voir les enquêtes ouvertes.",
        "stale_button": "Ce bouton appartient à une question précédente ; répondez à la question ci-dessous.",
        "button_skip": "Passer ⏭",
        "button_done": "Terminé ✔",
        "skip_words": "passer",
        "finished": "Envoyez /start pour voir les autres enquêtes.",
        "in_survey": "Vous répondez à « {title} ».",
        "problem_empty": "Veuillez taper une réponse.",
        "problem_unknown_choice": "Appuyez sur un des boutons, ou tapez un numéro de 1 à {count}.",
        "problem_unknown_choices": "Cochez les boutons, ou tapez des numéros de 1 à {count} séparés par des virgules.",
        "problem_not_integer": "Veuillez taper un nombre entier, par exemple 12.",
        "problem_not_number": "Veuillez taper un nombre, par exemple 12,5.",
        "problem_below_minimum": "La réponse doit être au moins {min}.",
        "problem_above_maximum": "La réponse doit être au plus {max}.",
        "problem_not_in_range": "Appuyez sur un bouton, ou tapez un nombre entier de {start} à {end}.",
        "problem_not_date": "Veuillez taper une date comme 2026-03-31 ou 31/03/2026.",
        "problem_too_long": "Veuillez limiter la réponse à {max} caractères.",
        "problem_required": "Cette question demande une réponse.",
        "problem_select_at_least_one": "Cochez au moins une réponse, puis appuyez sur Terminé.",
        "problem_press_not_expected": "Veuillez répondre à la question ci-dessous.",
        "problem_survey_finished": "Cette enquête est terminée.",
        "problem_no_answer_expected": "Aucune réponse n'est attendue ici.",
        "try_again": "Désolé, je n'ai pas pu enregistrer cela. Veuillez le renvoyer dans un instant.",
        "unsupported_message": "Je ne peux lire que les messages texte et les boutons.",
    },
}

SUPPORTED_LANGUAGES = tuple(MESSAGES)
FALLBACK_LANGUAGE = "en"


def supported_language(hint: str | None) -> str | None:
    """The bot language for a platform language code such as ``fr-CA``, if the bot speaks it."""
    if not hint:
        return None
    base = hint.lower().replace("_", "-").split("-")[0]
    return base if base in MESSAGES else None


class Texts:
    """The bot's messages in one language."""

    def __init__(self, language: str) -> None:
        self.language = language if language in MESSAGES else FALLBACK_LANGUAGE
        self._messages = MESSAGES[self.language]

    def __call__(self, key: str, **params: str) -> str:
        template = self._messages.get(key) or MESSAGES[FALLBACK_LANGUAGE][key]
        return template.format(**params) if params else template

    def is_skip_word(self, text: str) -> bool:
        words = {self("skip_words"), MESSAGES[FALLBACK_LANGUAGE]["skip_words"]}
        return text.strip().casefold() in words

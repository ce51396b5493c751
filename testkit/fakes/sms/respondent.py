"""A survey respondent answering by SMS: as :class:`testkit.fakes.survey_respondent.Respondent`,
but a ``select_multiple`` question is answered by replying all the numbers at once ("2 4"), as
the SMS channel asks, instead of ticking buttons."""

from __future__ import annotations

from testkit.fakes.survey_respondent import Respondent

#: What a person replies for an empty selection: a number no option has.
NO_OPTION = "0"


class SmsRespondent(Respondent):
    async def step(self) -> None:
        message, name, act = self._next()
        if act.kind != "tick":
            await super().step()
            return
        wanted = act.value if isinstance(act.value, tuple) else (act.value,)
        numbers = [reply for row in message.buttons for label, reply in row if label in wanted and reply is not None]
        await self.user.send_text(" ".join(numbers) or NO_OPTION)
        self.attempts[name] = self.attempts.get(name, 0) + 1
        await self._wait(message)
        self.answers_given += 1

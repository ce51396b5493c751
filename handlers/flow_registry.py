"""What the router asks: which conversation flow, button group or command answers a message.

A :class:`Registry` holds the flows (a conversation the user can be in, named by
``conversations.flow``), the button groups (payload prefixes) and the commands. It is filled in
one place, :mod:`handlers.flows`; nothing here knows a particular flow, so that flows reach each
other through the registry instead of importing each other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial

from handlers.context import Context
from handlers.messages import Outbound
from handlers.payloads import PromptPress
from storage.records import Conversation

Replies = Awaitable[list[Outbound]]
#: A step of the flow the user is in: ``/cancel``, ``/back``, ``/skip``, showing where they are.
Step = Callable[[Context, Conversation], Replies]
Command = Callable[[Context, str], Replies]
#: A command that consults the registry itself (``/start``, ``/cancel``, ``/back``, ``/skip``).
NavigationCommand = Callable[["Registry", Context, str], Replies]
#: The admins' own commands: the handler of a command name for an admin, None for anyone else.
AdminCommands = Callable[[Context, str], Command | None]
#: Free text outside any flow; an empty answer passes the text on to the next handler.
FreeText = Callable[[Context, str], Replies]


@dataclass(frozen=True)
class Flow:
    """A conversation the user can be in, with what each kind of message does there.

    ``resume`` shows where the user is after ``/start`` or a page reload, ``repeat`` after a
    redelivered update; None shows the greeting instead. ``on_prompt_press`` takes the presses
    on the flow's prompts (``q:`` payloads); ``back`` and ``skip`` are None where ``/back`` and
    ``/skip`` mean nothing.
    """

    name: str
    on_text: Callable[[Context, Conversation, str], Replies]
    cancel: Step
    resume: Step | None = None
    repeat: Step | None = None
    on_prompt_press: Callable[[Context, Conversation, PromptPress], Replies] | None = None
    back: Step | None = None
    skip: Step | None = None
    on_media: Step | None = None


@dataclass(frozen=True)
class Buttons:
    """Button payloads starting with one of ``prefixes``, and what a press on them does."""

    prefixes: tuple[str, ...]
    on_press: Callable[[Context, str], Replies]


@dataclass(frozen=True)
class Registry:
    """The flows, buttons and commands of the bot; lookups return None for what nobody claims."""

    flows: tuple[Flow, ...]
    buttons: tuple[Buttons, ...]
    commands: Mapping[str, Command]
    navigation: Mapping[str, NavigationCommand] = field(default_factory=dict)
    admin_commands: tuple[AdminCommands, ...] = ()
    free_text: tuple[FreeText, ...] = ()

    def flow_of(self, conversation: Conversation | None) -> Flow | None:
        """The flow ``conversation`` is in; None outside any conversation or for an unknown flow."""
        if conversation is None:
            return None
        return next((flow for flow in self.flows if flow.name == conversation.flow), None)

    def buttons_for(self, payload: str) -> Buttons | None:
        """The button group whose prefix ``payload`` starts with."""
        return next((group for group in self.buttons if payload.startswith(group.prefixes)), None)

    def command(self, ctx: Context, name: str) -> Command | None:
        """The handler of ``/name`` for this sender: an admin's own command first, then everyone's."""
        for admin_command in self.admin_commands:
            handler = admin_command(ctx, name)
            if handler is not None:
                return handler
        navigation = self.navigation.get(name)
        if navigation is not None:
            return partial(navigation, self)
        return self.commands.get(name)

    def command_names(self) -> frozenset[str]:
        """Every command anyone may send (admins' own commands apart)."""
        return frozenset(self.commands) | frozenset(self.navigation)

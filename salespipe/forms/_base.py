"""What every form shares: fields and buttons by name, the message area, field errors, money text.

A form holds no business rule. A button hands the values as typed to one public salespipe
function and shows its answer: the result as a message, a `ValidationError` beside the field it
names, `Busy` as "another user is saving", any other `SalespipeError` as its message. Tracebacks
never reach the user; an unexpected exception in a button is reported in the form and raised
again, so a bug still reaches the log (ipywidgets logs exceptions raised in click handlers).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import ipywidgets as W

from ..db import Database
from ..errors import Busy, SalespipeError, ValidationError

# The words on the buttons (issue 11), and the state-machine action each performing one.
ACTION_LABELS = {
    "qualify": "Qualify",
    "disqualify": "Disqualify",
    "reactivate": "Reactivate",
    "activate": "Activate",
    "revise": "Revise",
    "close": "Close",
    "create_order": "Create order",
    "fulfill": "Fulfill",
    "cancel": "Cancel",
    "create_invoice": "Create invoice",
    "record_payment": "Record payment",
}
BUSY = "another user is saving right now, so nothing was changed. Try again in a moment."

STYLE = """<style>
.sp-form { font-size: 13px; max-width: 1180px; }
.sp-form .sp-title { font-size: 15px; font-weight: 600; margin: 2px 0 4px 0; }
.sp-form .sp-section { font-weight: 600; margin: 8px 0 2px 0; color: #333; }
.sp-form .sp-error { color: #b00020; font-size: 12px; line-height: 1.3; min-height: 0; }
.sp-form .sp-invalid input, .sp-form .sp-invalid select { border-color: #b00020 !important; }
.sp-form .sp-message { min-height: 1.6em; }
.sp-msg { padding: 4px 8px; border-radius: 3px; white-space: pre-wrap; }
.sp-msg-success { background: #e6f4ea; color: #0b5c21; }
.sp-msg-error { background: #fdecea; color: #8a1c1c; }
.sp-msg-warning { background: #fff4e5; color: #7a4b00; }
.sp-msg-info { background: #eef3fb; color: #1f3b66; }
.sp-table { border-collapse: collapse; margin: 2px 0; }
.sp-table th { text-align: left; font-weight: 600; border-bottom: 1px solid #bbb; padding: 2px 8px; }
.sp-table td { border-bottom: 1px solid #eee; padding: 2px 8px; }
.sp-table .num { text-align: right; font-variant-numeric: tabular-nums; }
.sp-table tr.total td { font-weight: 600; border-top: 1px solid #bbb; }
.sp-state { display: inline-block; padding: 1px 8px; border-radius: 10px; background: #eef3fb; }
.sp-grid { display: grid; gap: 0 10px; align-items: center; }
.sp-grid .num { text-align: right; font-variant-numeric: tabular-nums; }
.sp-grid > span { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.sp-head { font-weight: 600; border-bottom: 1px solid #bbb; }
.sp-added { color: #0b5c21; } .sp-removed { color: #8a1c1c; } .sp-changed { color: #7a4b00; }
</style>"""


def money(value: Decimal | int | None) -> str:
    """Money as people read it: 1,234.50 (exact: a Decimal is never turned into a float)."""
    if value is None:
        return ""
    return f"{Decimal(value):,.2f}"


def number(value: Decimal | int | None) -> str:
    """A quantity or percentage without trailing zeros: 32, 1.5, 1,250."""
    if value is None:
        return ""
    d = Decimal(value).normalize()
    return f"{d:,f}"


def given(text: str | None) -> str | None:
    """A text box's value as typed, or None when it is blank (the API's "not given")."""
    return text if text is not None and text.strip() else None


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value))


def slug(label: str) -> str:
    return label.lower().replace(" ", "-").replace("_", "-")


class Form:
    """Base of the forms: `fields`, `buttons`, `message`, `field_errors`, `current`, `widget`."""

    title = "Form"

    def __init__(self, db: Database) -> None:
        self.db = db
        self.fields: dict[str, W.ValueWidget] = {}
        self.buttons: dict[str, W.Button] = {}
        self.field_errors: dict[str, str] = {}
        self.message = ""
        self.current: tuple[str, int] | None = None
        self.read_failures = 0  # reads that could not be shown (Busy, ...) since the form was made
        self._error_labels: dict[str, W.HTML] = {}
        self._boxes: dict[str, W.Box] = {}
        self._message = W.HTML(value="")
        self._message.add_class("sp-message")
        self.widget: W.Box  # set by each form to its root (see _root)

    # -- building ----------------------------------------------------------------------------

    def _root(self, *children: W.Widget) -> W.VBox:
        """The form's widget: the style sheet, its title, the children and the message area."""
        title = W.HTML(f'<div class="sp-title">{esc(self.title)}</div>')
        root = W.VBox([W.HTML(STYLE), title, *children, self._message])
        root.add_class("sp-form")
        root.add_class(f"sp-{slug(type(self).__name__)}")
        return root

    def _field(self, name: str, widget: W.ValueWidget, *, width: str = "260px", label: str = "110px") -> W.VBox:
        """Register an input under the API keyword it feeds; returns it boxed with its error line.

        width: of the whole input, its label (`label` wide) included."""
        widget.add_class(f"sp-field-{name}")
        if hasattr(widget, "style") and hasattr(widget.style, "description_width"):
            widget.style.description_width = label
        widget.layout.width = width
        error = W.HTML(value="", layout=W.Layout(display="none"))
        error.add_class("sp-error")
        self.fields[name] = widget
        self._error_labels[name] = error
        box = W.VBox([widget, error], layout=W.Layout(margin="0 8px 2px 0"))
        self._boxes[name] = box
        return box

    def _text(self, name: str, description: str, placeholder: str = "", **kw: Any) -> W.VBox:
        return self._field(name, W.Text(description=description, placeholder=placeholder), **kw)

    def _button(self, label: str, handler: Callable[[], None], *, style: str = "", icon: str = "") -> W.Button:
        """A button labelled with its action; `handler` runs on click (errors are the handler's to show)."""
        button = W.Button(description=label, button_style=style, icon=icon, layout=W.Layout(width="auto"))
        button.add_class(f"sp-button-{slug(label)}")
        button.on_click(lambda _: self._press(label, handler))
        self.buttons[label] = button
        return button

    def _press(self, label: str, handler: Callable[[], object]) -> None:
        """Run a button's handler. A refusal is shown by the handler; anything else is a bug: the
        form says so (no traceback in front of the user) and the exception goes on to the log."""
        try:
            handler()
        except Exception as exc:
            self.say(f"{label}: unexpected {type(exc).__name__}: {exc} (a bug in salespipe; please report it)", "error")
            raise

    # -- showing -----------------------------------------------------------------------------

    def say(self, text: str, tone: str = "info") -> None:
        """Show a message (success, error, warning or info); `message` keeps its plain text."""
        self.message = text
        self._message.value = f'<div class="sp-msg sp-msg-{tone}">{esc(text)}</div>' if text else ""

    def show_field_error(self, name: str, text: str) -> None:
        self.field_errors[name] = text
        label = self._error_labels[name]
        label.value = esc(text)
        label.layout.display = ""
        self._boxes[name].add_class("sp-invalid")

    def clear_errors(self) -> None:
        for name in list(self.field_errors):
            self._error_labels[name].value = ""
            self._error_labels[name].layout.display = "none"
            self._boxes[name].remove_class("sp-invalid")
        self.field_errors = {}

    def offer(self, labels: Iterable[str], among: Iterable[str]) -> None:
        """Show the buttons `labels` of the group `among` and hide the others of that group."""
        wanted = set(labels)
        for label in among:
            self.buttons[label].layout.display = "" if label in wanted else "none"

    @property
    def offered(self) -> list[str]:
        """The labels of the buttons shown now, in the form's order."""
        return [label for label, b in self.buttons.items() if b.layout.display != "none"]

    # -- acting ------------------------------------------------------------------------------

    def attempt(self, failed: str, call: Callable[..., Any], *args: Any, **kw: Any) -> tuple[bool, Any]:
        """Run one salespipe call; on a refusal show why (prefixed by `failed`) and return (False, None)."""
        self.clear_errors()
        try:
            return True, call(*args, **kw)
        except ValidationError as exc:
            if exc.field in self.fields:
                self.show_field_error(exc.field, str(exc))
            self.say(f"{failed}: {exc}", "error")
        except Busy:
            self.say(f"{failed}: {BUSY}", "warning")
        except SalespipeError as exc:
            self.say(f"{failed}: {exc}", "error")
        except Exception as exc:  # a bug: say so in the form, and let the kernel log have the traceback
            self.say(
                f"{failed}: unexpected {type(exc).__name__}: {exc} (a bug in salespipe; please report it)", "error"
            )
            raise
        return False, None

    def read(self, call: Callable[..., Any], *args: Any, **kw: Any) -> tuple[bool, Any]:
        """A read for the view; Busy or another refusal is shown as a warning instead of the data."""
        try:
            return True, call(*args, **kw)
        except Busy:
            self.say(f"Could not refresh: {BUSY.replace(', so nothing was changed', '')}", "warning")
        except SalespipeError as exc:
            self.say(f"Could not refresh: {exc}", "error")
        self.read_failures += 1
        return False, None

    # -- display -----------------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        """Shown in a notebook as its widget; the plain-text part is the form's own short summary."""
        bundle = self.widget._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = repr(self)
        return bundle

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

"""Every key of the review UI, in one table: the app's bindings and the help screen read it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Key:
    keys: str  # Textual binding keys, comma separated
    action: str
    description: str  # shown in help and (short) in the footer
    label: str  # how the help screen writes the keys
    footer: str = ""  # short label in the footer; empty: not shown there
    priority: bool = False  # acts even when a widget (an input) would take the key


APP_KEYS: tuple[Key, ...] = (
    Key("n,right_square_bracket", "next_change", "next change", "n  ]", footer="change"),
    Key("N,left_square_bracket", "previous_change", "previous change", "N  ["),
    Key("j", "next_component", "next component", "j", footer="component"),
    Key("k", "previous_component", "previous component", "k"),
    Key("u", "toggle_unified", "unified / side by side", "u", footer="unified"),
    Key("w", "toggle_whitespace", "ignore whitespace on / off", "w"),
    Key("z", "toggle_wrap", "wrap long lines on / off", "z"),
    Key("E", "toggle_folds", "expand / collapse all folded unchanged lines", "E"),
    Key("h", "toggle_unchanged", "hide / dim unchanged components", "h"),
    Key("slash", "search", "search in the current component", "/", footer="search"),
    Key("a", "approve", "approve (optional note)", "a", footer="approve"),
    Key("r", "request_changes", "request changes (optional note)", "r", footer="changes"),
    Key("t", "toggle_theme", "dark / light theme", "t"),
    Key("question_mark", "help", "this help", "?", footer="help"),
    Key("q", "quit", "quit", "q", footer="quit"),
    # a terminal program quits on ctrl+c, also from a dialog or the search bar
    Key("ctrl+c", "quit", "quit (also from a dialog or the search bar)", "ctrl+c", priority=True),
)

# Keys handled by a widget rather than the app; listed in help so it shows every key.
WIDGET_KEYS: tuple[tuple[str, str], ...] = (
    ("tab  shift+tab", "move focus: navigator, main pane"),
    ("up down pgup pgdn", "move the cursor a line / a page (the view follows)"),
    ("home end", "cursor to the first / last line or row"),
    ("left right", "scroll sideways (a text with wrapping off)"),
    ("enter", "open the case or file under the cursor; expand the fold at or nearest it"),
    ("escape", "close a dialog, a case or the search bar"),
)

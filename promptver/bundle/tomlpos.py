"""Where the items of an array of tables sit in TOML source (for messages only).

tomllib gives values, not positions; `check` needs the line and column of, say, the
second assertion's ``type`` in ``[evals.golden] assert = [{...}, {...}]`` or under the
second ``[[evals.golden.assert]]``. This scanner reads the text once, aware of strings,
comments and nesting, and returns per item the position of the item and of each of its keys.
The text has already been parsed by tomllib, so it is valid TOML.
"""

from __future__ import annotations

Position = tuple[int, int]  # 1-based line and column


class _Scanner:
    def __init__(self, text: str, target: list[str]):
        self.text = text
        self.target = target
        self.i = 0
        self.items: list[dict[str, Position]] = []
        self._line_starts = [0] + [n + 1 for n, ch in enumerate(text) if ch == "\n"]

    def position(self, offset: int) -> Position:
        import bisect

        line = bisect.bisect_right(self._line_starts, offset)
        return line, offset - self._line_starts[line - 1] + 1

    def peek(self, n: int = 1) -> str:
        return self.text[self.i : self.i + n]

    def skip_space(self, newlines: bool) -> None:
        while self.i < len(self.text):
            ch = self.text[self.i]
            if ch == "#":
                while self.i < len(self.text) and self.text[self.i] != "\n":
                    self.i += 1
            elif ch in " \t\r" or (newlines and ch == "\n"):
                self.i += 1
            else:
                return

    def string(self) -> str:
        """Read a string at ``i``; its value for keys (escapes are not decoded)."""
        for quote in ('"""', "'''"):
            if self.peek(3) == quote:
                end = self.text.index(quote, self.i + 3)
                while self.text[end + 3 : end + 4] == quote[0]:
                    end += 1  # up to two quotes may close the content
                value = self.text[self.i + 3 : end]
                self.i = end + 3
                return value
        quote = self.text[self.i]
        j = self.i + 1
        while self.text[j] != quote:
            j += 2 if quote == '"' and self.text[j] == "\\" else 1
        value = self.text[self.i + 1 : j]
        self.i = j + 1
        return value

    def key(self) -> list[str]:
        parts = []
        while True:
            self.skip_space(False)
            if self.peek() in ('"', "'"):
                parts.append(self.string())
            else:
                start = self.i
                while self.i < len(self.text) and (self.text[self.i].isalnum() or self.text[self.i] in "_-"):
                    self.i += 1
                parts.append(self.text[start : self.i])
            self.skip_space(False)
            if self.peek() != ".":
                return parts
            self.i += 1

    def value(self, path: list[str]) -> None:
        self.skip_space(False)
        ch = self.peek()
        if ch in ('"', "'"):
            self.string()
        elif ch == "[":
            self.i += 1
            while True:
                self.skip_space(True)
                if self.peek() == "]":
                    self.i += 1
                    return
                if path == self.target and self.peek() == "{":
                    self.items.append({"": self.position(self.i)})
                    self.inline_table(self.items[-1])
                else:
                    self.value([])
                self.skip_space(True)
                if self.peek() == ",":
                    self.i += 1
        elif ch == "{":
            self.inline_table(None)
        else:
            while self.i < len(self.text) and self.text[self.i] not in ",]}\n#":
                self.i += 1

    def inline_table(self, keys: dict[str, Position] | None) -> None:
        self.i += 1  # {
        while True:
            self.skip_space(True)
            if self.peek() == "}":
                self.i += 1
                return
            start = self.i
            key = self.key()
            if keys is not None:
                keys.setdefault(key[0], self.position(start))
            self.i += 1  # =
            self.value([])
            self.skip_space(True)
            if self.peek() == ",":
                self.i += 1

    def scan(self) -> list[dict[str, Position]]:
        table: list[str] = []
        in_item = False
        while True:
            self.skip_space(True)
            if self.i >= len(self.text):
                return self.items
            if self.peek() == "[":
                start = self.i
                double = self.peek(2) == "[["
                self.i += 2 if double else 1
                table = self.key()
                self.i += 2 if double else 1
                in_item = double and table == self.target
                if in_item:
                    self.items.append({"": self.position(start)})
                continue
            start = self.i
            key = self.key()
            self.i += 1  # =
            if in_item:
                self.items[-1].setdefault(key[0], self.position(start))
            self.value(table + key)


def array_items(text: str, path: list[str]) -> list[dict[str, Position]]:
    """For the array of tables at ``path`` (e.g. ``["evals", "golden", "assert"]``), per item
    the position of the item (key ``""``) and of each of its keys; [] when unreadable."""
    try:
        return _Scanner(text, path).scan()
    except (ValueError, IndexError):
        return []

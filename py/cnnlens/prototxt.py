"""Protobuf text format (``.prototxt``, ``.pbtxt``) → nested messages, without a schema.

The text format is what Caffe's network definitions (and Netscope's input) are written in::

    name: "AlexNet"          # a scalar field: name, colon, value
    layer {                  # a message field: name, optional colon, { ... } or < ... >
      type: "Convolution"
      convolution_param { num_output: 96 kernel_size: 11 stride: 4 }
    }
    input_dim: 1 input_dim: 3   # a repeated field is the same name again ...
    dims: [1, 3, 224, 224]      # ... or a list

Values are strings (single or double quotes, C escapes, adjacent strings joined), numbers
(``int`` when written as a whole decimal, octal or hex number, else ``float``; ``inf``
and ``nan`` too) and identifiers (enum values such as ``MAX``, and ``true``/``false``),
kept as :class:`Identifier` so a reader can tell ``type: CONVOLUTION`` from
``type: "Convolution"``. Without the schema nothing says which fields repeat, so a
:class:`Message` keeps every field in order and its reader picks :meth:`Message.get`
(the last value, as protobuf does for a singular field) or :meth:`Message.all`.

Bad text raises :class:`PrototxtError` naming the line and column.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from cnnlens.errors import CnnlensError


class PrototxtError(CnnlensError, ValueError):
    """The text is not protobuf text format; the message names the line and column."""


class Identifier(str):
    """A bare word value: an enum value (``MAX``) or a boolean (``true``)."""

    __slots__ = ()


@dataclass(frozen=True)
class Message:
    """One message: its fields in file order, and the line it starts on (1 for the file)."""

    fields: tuple[tuple[str, object], ...]
    line: int = 1

    def all(self, name: str) -> list[object]:
        """Every value of field ``name``, in order (a repeated field)."""
        return [value for key, value in self.fields if key == name]

    def get(self, name: str, default: object = None) -> object:
        """The last value of field ``name`` (a singular field), else ``default``."""
        values = self.all(name)
        return values[-1] if values else default

    def messages(self, name: str) -> list[Message]:
        """Every message value of field ``name``."""
        return [value for value in self.all(name) if isinstance(value, Message)]

    def message(self, name: str) -> Message | None:
        """The last message value of field ``name``, if any."""
        found = self.messages(name)
        return found[-1] if found else None

    def __contains__(self, name: object) -> bool:
        return any(key == name for key, _ in self.fields)


# ---------------------------------------------------------------- tokens

_TOKEN = re.compile(r"""
    (?P<space>[ \t\r\f\v]+)
  | (?P<newline>\n)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<number>[-+]?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)[fF]?
               |[-+](?:inf|infinity|nan)\b)
  | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<punct>[{}<>\[\]:,;])
""", re.VERBOSE | re.IGNORECASE)

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v",
            "\\": "\\", "'": "'", '"': '"', "?": "?"}
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|u[0-9a-fA-F]{4}|.)")
MAX_DEPTH = 100
"""Messages nested deeper than this are refused (a network definition nests a handful)."""


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    line: int
    column: int

    def describe(self) -> str:
        return "the end of the text" if self.kind == "end" else repr(self.text)


def _tokens(text: str) -> Iterator[_Token]:
    line, line_start, position = 1, 0, 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        column = position - line_start + 1
        if match is None:
            quote = text[position] in "\"'"
            what = "a string that does not end on its line" if quote else repr(text[position])
            raise PrototxtError(f"line {line}, column {column}: unexpected {what}")
        kind = match.lastgroup or ""
        if kind == "newline":
            line, line_start = line + 1, match.end()
        elif kind not in ("space", "comment"):
            yield _Token(kind, match.group(), line, column)
        position = match.end()
    yield _Token("end", "", line, position - line_start + 1)


def _unescape(body: str, token: _Token) -> str:
    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if len(code) > 1 and code[0] in "xu":
            return chr(int(code[1:], 16))
        if code[0] in "01234567":
            return chr(int(code, 8))
        if code in _ESCAPES:
            return _ESCAPES[code]
        raise PrototxtError(f"line {token.line}, column {token.column}: unknown escape "
                            f"'\\{code}' in a string")
    return _ESCAPE.sub(one, body)


def _number(text: str) -> int | float:
    if re.fullmatch(r"[-+]?0[xX][0-9a-fA-F]+", text):
        return int(text, 16)
    if re.fullmatch(r"[-+]?0[0-7]+", text):
        return int(text, 8)
    if re.fullmatch(r"[-+]?\d+", text):
        return int(text)
    is_word = text.lstrip("+-")[:1].isalpha()  # -inf, +nan: their f is no float suffix
    return float(text if is_word else text.rstrip("fF"))

# ---------------------------------------------------------------- grammar


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.token = next(self.tokens)
        self.depth = 0

    def fail(self, expected: str) -> PrototxtError:
        token = self.token
        return PrototxtError(f"line {token.line}, column {token.column}: expected {expected}, "
                             f"found {token.describe()}")

    def advance(self) -> _Token:
        token, self.token = self.token, next(self.tokens)
        return token

    def accept(self, text: str) -> bool:
        if self.token.kind == "punct" and self.token.text == text:
            self.advance()
            return True
        return False

    def message(self, close: str | None, line: int) -> Message:
        if self.depth > MAX_DEPTH:
            raise PrototxtError(f"line {self.token.line}, column {self.token.column}: messages "
                                f"nested deeper than {MAX_DEPTH}")
        self.depth += 1
        fields: list[tuple[str, object]] = []
        while True:
            if (close is None and self.token.kind == "end") or (
                    close is not None and self.accept(close)):
                self.depth -= 1
                return Message(tuple(fields), line)
            if self.token.kind != "word":
                wanted = "a field name" if close is None else f"a field name or {close!r}"
                raise self.fail(wanted)
            name = self.advance()
            fields.extend((name.text, value) for value in self.field(name))
            if not self.accept(","):
                self.accept(";")

    def field(self, name: _Token) -> list[object]:
        colon = self.accept(":")
        for opening, closing in (("{", "}"), ("<", ">")):
            if self.accept(opening):
                return [self.message(closing, name.line)]
        if not colon:
            raise self.fail(f"':' or '{{' after {name.text!r}")
        if self.accept("["):
            values: list[object] = []
            while not self.accept("]"):
                if values and not self.accept(","):
                    raise self.fail("',' or ']' in a list")
                values.append(self.list_item(name))
            return values
        return [self.scalar()]

    def list_item(self, name: _Token) -> object:
        for opening, closing in (("{", "}"), ("<", ">")):
            if self.accept(opening):
                return self.message(closing, name.line)
        return self.scalar()

    def scalar(self) -> object:
        token = self.token
        if token.kind == "string":
            parts = []
            while self.token.kind == "string":
                text = self.advance().text
                parts.append(_unescape(text[1:-1], token))
            return "".join(parts)
        if token.kind == "number":
            self.advance()
            return _number(token.text)
        if token.kind == "word":
            self.advance()
            if token.text.lower() in ("inf", "infinity", "nan"):
                return float(token.text)
            return Identifier(token.text)
        raise self.fail("a value (a string, a number or a name)")


def parse(text: str) -> Message:
    """The whole text as one message (its fields are the file's top-level fields)."""
    return _Parser(text).message(None, 1)

"""The protobuf text-format parser (py/cnnlens/prototxt.py): expected values written by hand."""

from __future__ import annotations

import math

import pytest

from cnnlens.prototxt import Identifier, Message, PrototxtError, parse


def test_nested_messages_and_scalars() -> None:
    root = parse('name: "net"\nlayer {\n  name: "c"\n  convolution_param { num_output: 96 '
                 'kernel_size: 11 }\n}\n')
    assert root.get("name") == "net"
    layer = root.message("layer")
    assert layer is not None and layer.line == 2
    params = layer.message("convolution_param")
    assert params is not None
    assert params.fields == (("num_output", 96), ("kernel_size", 11))


def test_repeated_fields_keep_order_and_get_takes_the_last() -> None:
    root = parse("dim: 1 dim: 3 dim: 224 dim: 224 layer { a: 1 } layer { a: 2 }")
    assert root.all("dim") == [1, 3, 224, 224]
    assert root.get("dim") == 224
    assert [m.get("a") for m in root.messages("layer")] == [1, 2]
    assert root.get("missing", "default") == "default"
    assert "dim" in root and "missing" not in root


def test_list_syntax_and_angle_brackets_and_separators() -> None:
    root = parse("dims: [1, 2, 3]; shape < dim: 4, dim: 5 >, items: [{ v: 1 }, { v: 2 }]")
    assert root.all("dims") == [1, 2, 3]
    shape = root.message("shape")
    assert shape is not None and shape.all("dim") == [4, 5]
    assert [m.get("v") for m in root.messages("items")] == [1, 2]


def test_comments_are_ignored_everywhere() -> None:
    text = "# header\nname: \"a#b\"  # not part of the string\nlayer { # inside\n x: 1 # end\n}\n#"
    root = parse(text)
    assert root.get("name") == "a#b"
    layer = root.message("layer")
    assert layer is not None and layer.fields == (("x", 1),)


def test_strings_with_escapes_and_adjacent_parts() -> None:
    root = parse(r"""a: "tab\tnew\nquote\"back\\" b: 'single \'q\'' c: "x" 'y' "z" """
                 r"""d: "\x41\101\u00e9" """)
    assert root.get("a") == 'tab\tnew\nquote"back\\'
    assert root.get("b") == "single 'q'"
    assert root.get("c") == "xyz"
    assert root.get("d") == "AAé"


def test_numbers_and_identifiers() -> None:
    root = parse("i: -3 h: 0x1F o: 017 f: 0.0001 e: 1e-3 g: 2.5f b: true m: MAX n: -inf z: nan")
    assert root.get("i") == -3 and isinstance(root.get("i"), int)
    assert root.get("h") == 31 and root.get("o") == 15
    assert root.get("f") == 0.0001 and root.get("e") == 0.001 and root.get("g") == 2.5
    assert root.get("b") == "true" and isinstance(root.get("b"), Identifier)
    assert root.get("m") == "MAX" and isinstance(root.get("m"), Identifier)
    assert root.get("n") == -math.inf and math.isnan(root.get("z"))  # type: ignore[arg-type]
    quoted = parse('t: "MAX"').get("t")
    assert quoted == "MAX" and not isinstance(quoted, Identifier)


def test_both_caffe_syntaxes_parse() -> None:
    new = parse('layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1" }')
    old = parse('layers { name: "conv1" type: CONVOLUTION bottom: "data" top: "conv1" }')
    assert new.message("layer").get("type") == "Convolution"  # type: ignore[union-attr]
    kind = old.message("layers").get("type")  # type: ignore[union-attr]
    assert kind == "CONVOLUTION" and isinstance(kind, Identifier)


def test_empty_text_is_an_empty_message() -> None:
    assert parse("") == Message(())
    assert parse("  # only a comment\n") == Message(())


@pytest.mark.parametrize(("text", "message"), [
    ('layer {\n  name: "x"\n  num_output 3\n}', "line 3, column 14: expected ':' or '{' after "
                                                "'num_output', found '3'"),
    ('layer {\n  name: "x"\n', "line 3, column 1: expected a field name or '}', found the end"),
    ("a: 1\n}\n", "line 2, column 1: expected a field name, found '}'"),
    ('a: "no end\nb: 1', "line 1, column 4: unexpected a string that does not end on its line"),
    ("a: 1\n  b: @", "line 2, column 6: unexpected '@'"),
    ("a: [1 2]", "line 1, column 7: expected ',' or ']' in a list, found '2'"),
    ("a:", "line 1, column 3: expected a value (a string, a number or a name), found the end"),
    (r'a: "\q"', r"line 1, column 4: unknown escape '\q' in a string"),
    (r'a: "\x"', r"line 1, column 4: unknown escape '\x' in a string"),
    ("a {" * 1000, "line 1, column 304: messages nested deeper than 100"),
])
def test_bad_text_names_the_line_and_column(text: str, message: str) -> None:
    with pytest.raises(PrototxtError) as caught:
        parse(text)
    assert str(caught.value).startswith(message)

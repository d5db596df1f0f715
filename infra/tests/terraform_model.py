"""A read-only model of the Terraform in infra/ for the invariant tests.

python-hcl2 parses the files; this module follows the references the invariants depend on
(`local.x`, `var.x` through module calls, `module.m.output`, `each.value.a.b`, dynamic-block
iterators, `jsondecode(file(...))`, `{for t in xs : t.K => t}`) so a test can ask what value an
argument really gets, e.g. which JSON file a Glue table's columns come from. `terraform plan`
would do this better but needs the AWS provider, which cannot be downloaded here. Anything this
small evaluator does not understand raises `Unsupported`, so a test fails loudly instead of
passing on a guess; attributes only AWS knows (ARNs, URLs) come back as `Ref` values naming the
resource they belong to.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2

INFRA_DIR = Path(__file__).resolve().parent.parent


class Unsupported(Exception):
    """An expression the evaluator cannot resolve."""


@dataclass(frozen=True)
class Ref:
    """A value only known after apply: `address` in the module at `module_path`."""

    module_path: tuple[str, ...]
    address: str
    template: bool = False  # address is a rendered template holding other Refs

    def __str__(self) -> str:
        return self.address if self.template else f"<{'.'.join(self.module_path)}:{self.address}>"


def _unquote_label(label: str) -> str:
    return label[1:-1] if label.startswith('"') and label.endswith('"') else label


def _strip_meta(value: Any) -> Any:
    """Drop python-hcl2's `__is_block__`/comment markers, keep everything else as parsed."""
    if isinstance(value, dict):
        return {k: _strip_meta(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list):
        return [_strip_meta(v) for v in value]
    return value


@dataclass
class Module:
    """The merged top-level blocks of all *.tf files in one directory."""

    directory: Path
    resources: dict[tuple[str, str], dict] = field(default_factory=dict)
    data: dict[tuple[str, str], dict] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, dict] = field(default_factory=dict)
    outputs: dict[str, dict] = field(default_factory=dict)
    modules: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Path) -> "Module":
        module = cls(directory=directory)
        for tf_file in sorted(directory.glob("*.tf")):
            with tf_file.open() as handle:
                parsed = _strip_meta(hcl2.load(handle))
            for block in parsed.get("resource", []):
                for rtype, named in block.items():
                    for name, body in named.items():
                        module.resources[(_unquote_label(rtype), _unquote_label(name))] = body
            for block in parsed.get("data", []):
                for dtype, named in block.items():
                    for name, body in named.items():
                        module.data[(_unquote_label(dtype), _unquote_label(name))] = body
            for block in parsed.get("locals", []):
                module.locals.update(block)
            for kind, target in (
                ("variable", module.variables),
                ("output", module.outputs),
                ("module", module.modules),
            ):
                for block in parsed.get(kind, []):
                    for name, body in block.items():
                        target[_unquote_label(name)] = body
        return module

    def resources_of_type(self, rtype: str) -> dict[str, dict]:
        return {name: body for (t, name), body in self.resources.items() if t == rtype}

    def data_of_type(self, dtype: str) -> dict[str, dict]:
        return {name: body for (t, name), body in self.data.items() if t == dtype}


_TRAVERSAL = re.compile(r'^[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*|\[\d+\]|\["[^"]*"\])*$')
_STEP = re.compile(r'\.([A-Za-z_][\w-]*)|\[(\d+)\]|\["([^"]*)"\]')
_JSONDECODE_FILE = re.compile(r'^jsondecode\(file\((".*")\)\)$')
_FOR_OBJECT = re.compile(r"^\{\s*for\s+(\w+)\s+in\s+(.+?)\s*:\s*(.+?)\s*=>\s*(\w+)\s*\}$")
_FOR_LIST = re.compile(r"^\[\s*for\s+(\w+)\s+in\s+(.+?)\s*:\s*(.+?)\s*\]$")
_CALL = re.compile(r"^(\w+)\((.*)\)$", re.S)
# Pure functions the wiring uses; anything else is Unsupported.
_FUNCTIONS = {
    "toset": lambda xs: sorted(set(xs)),
    "values": lambda d: list(d.values()),
    "keys": lambda d: list(d.keys()),
    "sort": sorted,
    "concat": lambda *lists: [item for items in lists for item in items],
    "coalesce": lambda *values: next(v for v in values if v is not None and v != ""),
    "lookup": lambda d, key, default: d.get(key, default),
}

# Computed attributes that equal an argument (provider docs: a bucket's id is its name).
_ATTRIBUTE_ALIASES = {("aws_s3_bucket", "id"): "bucket"}


@dataclass
class Scope:
    """Where an expression is evaluated: a module, the call that instantiated it, iterators."""

    module: Module
    module_path: tuple[str, ...] = ()
    call_args: dict | None = None
    parent: "Scope | None" = None
    iterators: dict[str, Any] = field(default_factory=dict)

    def with_iterators(self, **iterators: Any) -> "Scope":
        return Scope(self.module, self.module_path, self.call_args, self.parent,
                     {**self.iterators, **iterators})

    def child(self, call_name: str) -> "Scope":
        call = self.module.modules.get(call_name)
        if call is None:
            raise Unsupported(f"no module {call_name!r} in {self.module.directory}")
        source = evaluate(call["source"], self)
        child_module = Module.load((self.module.directory / source).resolve())
        return Scope(child_module, self.module_path + (call_name,), call, self)


def evaluate(value: Any, scope: Scope) -> Any:
    """The value of a parsed HCL argument (literal, list, object or expression string)."""
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    if isinstance(value, list):
        return [evaluate(item, scope) for item in value]
    if isinstance(value, dict):
        return {
            (evaluate(k, scope) if k.startswith("${") else _unquote_label(k)): evaluate(v, scope)
            for k, v in value.items()
        }
    if not isinstance(value, str):
        raise Unsupported(repr(value))
    if value.startswith('"') and value.endswith('"') and len(value) >= 2:
        return _render_template(value[1:-1], scope)
    if value.startswith("${") and value.endswith("}"):
        return evaluate_expression(value[2:-1].strip(), scope)
    if value in ("true", "false"):
        return value == "true"
    if value == "null":
        return None
    raise Unsupported(value)


def _render_template(template: str, scope: Scope) -> Any:
    """A string template; if a part is only known after apply, a Ref whose address is the
    template with each such part written as <module.path:address>."""
    parts, unknown = [], False
    for piece in re.split(r"(\$\{[^{}]*\})", template):
        if piece.startswith("${"):
            resolved = evaluate_expression(piece[2:-1].strip(), scope)
            unknown = unknown or isinstance(resolved, Ref)
            parts.append(str(resolved))
        else:
            parts.append(piece.replace('\\"', '"').replace("\\\\", "\\"))
    return Ref((), "".join(parts), template=True) if unknown else "".join(parts)


def evaluate_expression(expr: str, scope: Scope) -> Any:
    if expr in ("true", "false", "null"):
        return {"true": True, "false": False, "null": None}[expr]
    if re.fullmatch(r"-?\d+", expr):
        return int(expr)
    if expr.startswith("(") and expr.endswith(")") and _balanced(expr[1:-1]):
        return evaluate_expression(expr[1:-1].strip(), scope)
    if expr.startswith('"') and expr.endswith('"'):
        return _render_template(expr[1:-1], scope)
    match = _JSONDECODE_FILE.match(expr)
    if match:
        path = Path(evaluate(match.group(1), scope))
        if not path.is_absolute():
            path = scope.module.directory / path
        return json.loads(path.read_text())
    match = _FOR_OBJECT.match(expr)
    if match:
        var, collection, key_expr, value_var = match.groups()
        if value_var != var:
            raise Unsupported(expr)
        items = evaluate_expression(collection, scope)
        iterable = items.values() if isinstance(items, dict) else items
        return {
            evaluate_expression(key_expr, scope.with_iterators(**{var: item})): item
            for item in iterable
        }
    match = _FOR_LIST.match(expr)
    if match:
        var, collection, item_expr = match.groups()
        items = evaluate_expression(collection, scope)
        if isinstance(items, Ref):  # e.g. the ARNs of a for_each resource's instances
            return [Ref(scope.module_path, expr)]
        iterable = items.values() if isinstance(items, dict) else items
        return [evaluate_expression(item_expr, scope.with_iterators(**{var: item}))
                for item in iterable]
    match = _CALL.match(expr)
    if match and _balanced(match.group(2)):
        name, inner = match.groups()
        args = _split_args(inner)
        if name == "try":
            for arg in args:
                try:
                    return evaluate_expression(arg, scope)
                except Unsupported:
                    continue
            raise Unsupported(expr)
        if name in _FUNCTIONS:
            return _FUNCTIONS[name](*(evaluate_expression(arg, scope) for arg in args))
        raise Unsupported(expr)
    if expr.startswith("[") and expr.endswith("]") and _balanced(expr[1:-1]):
        return [evaluate_expression(a, scope) for a in _split_args(expr[1:-1]) if a]
    if _TRAVERSAL.match(expr):
        return _traverse(expr, scope)
    raise Unsupported(expr)


def _split_args(text: str) -> list[str]:
    """Splits a call's argument list at top-level commas (outside brackets and strings)."""
    args, depth, current, in_string = [], 0, [], False
    for index, char in enumerate(text):
        if char == '"' and (index == 0 or text[index - 1] != "\\"):
            in_string = not in_string
        elif not in_string and char in "([{":
            depth += 1
        elif not in_string and char in ")]}":
            depth -= 1
        elif not in_string and depth == 0 and char == ",":
            args.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    args.append("".join(current).strip())
    return [a for a in args if a]


def _balanced(text: str) -> bool:
    depth, in_string = 0, False
    for index, char in enumerate(text):
        if char == '"' and (index == 0 or text[index - 1] != "\\"):
            in_string = not in_string
        elif not in_string and char in "([{":
            depth += 1
        elif not in_string and char in ")]}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0 and not in_string


def _steps(expr: str) -> tuple[str, list[str | int]]:
    root = re.match(r"[A-Za-z_][\w-]*", expr).group(0)
    steps: list[str | int] = []
    for attr, index, key in _STEP.findall(expr[len(root):]):
        steps.append(int(index) if index else (attr or key))
    return root, steps


def _apply(value: Any, steps: list[str | int], expr: str) -> Any:
    for step in steps:
        if isinstance(value, Ref):
            return Ref(value.module_path, f"{value.address}.{step}")
        try:
            value = value[step]
        except (KeyError, IndexError, TypeError) as err:
            raise Unsupported(f"{expr}: no {step!r}") from err
    return value


def _traverse(expr: str, scope: Scope) -> Any:
    root, steps = _steps(expr)
    if root in scope.iterators:
        return _apply(scope.iterators[root], steps, expr)
    if root == "path" and steps[:1] == ["module"]:
        return str(scope.module.directory)
    if root == "local":
        name = steps[0]
        if name not in scope.module.locals:
            raise Unsupported(f"no local {name!r} in {scope.module.directory}")
        return _apply(evaluate(scope.module.locals[name], scope), steps[1:], expr)
    if root == "var":
        name = steps[0]
        if scope.call_args is not None and name in scope.call_args:
            value = evaluate(scope.call_args[name], scope.parent)
        elif "default" in scope.module.variables.get(name, {}):
            value = evaluate(scope.module.variables[name]["default"], scope)
        else:
            raise Unsupported(f"var.{name} has no value in {scope.module.directory}")
        return _apply(value, steps[1:], expr)
    if root == "module":
        child = scope.child(steps[0])
        output = child.module.outputs.get(steps[1])
        if output is None:
            raise Unsupported(f"module {steps[0]} has no output {steps[1]!r}")
        return _apply(evaluate(output["value"], child), steps[2:], expr)
    if root == "data":
        return Ref(scope.module_path, expr)
    if "_" in root and steps:  # a resource (aws_x.name) or its attribute (aws_x.name.attr...)
        body = scope.module.resources.get((root, str(steps[0])))
        if body is None:
            raise Unsupported(f"no resource {root}.{steps[0]} in {scope.module.directory}")
        if len(steps) == 1:
            return Ref(scope.module_path, expr)
        attribute = _ATTRIBUTE_ALIASES.get((root, steps[1]), steps[1])
        if attribute in body and "for_each" not in body and "count" not in body:
            return _apply(evaluate(body[attribute], scope), steps[2:], expr)
        return Ref(scope.module_path, expr)
    raise Unsupported(expr)


def root_scope() -> Scope:
    return Scope(Module.load(INFRA_DIR))


def blocks(body: dict, name: str) -> list[dict]:
    """The nested blocks `name` of a resource body (python-hcl2 gives a list)."""
    value = body.get(name, [])
    return value if isinstance(value, list) else [value]


def dynamic_blocks(body: dict, name: str, scope: Scope) -> list[dict]:
    """Expands `dynamic "name" { for_each = ..., content { ... } }` into evaluated contents."""
    expanded = []
    for dynamic in blocks(body, "dynamic"):
        for label, spec in dynamic.items():
            if _unquote_label(label) != name:
                continue
            collection = evaluate(spec["for_each"], scope)
            items = collection.items() if isinstance(collection, dict) else enumerate(collection)
            for key, item in items:
                inner = scope.with_iterators(**{name: {"key": key, "value": item}})
                (content,) = spec["content"]
                expanded.append({k: evaluate(v, inner) for k, v in content.items()})
    return expanded

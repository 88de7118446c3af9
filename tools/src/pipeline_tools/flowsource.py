"""Read a flow's name and parameters from its source, without importing its dependencies."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from pipeline_tools.errors import ConfigError


@dataclass(frozen=True)
class Parameter:
    """One parameter of a flow function."""

    name: str
    required: bool
    line: int


@dataclass(frozen=True)
class FlowFunction:
    """A function decorated with Prefect's `@flow` and where it stands."""

    function: str
    flow_name: str | None
    parameters: tuple[Parameter, ...]
    accepts_any_keyword: bool
    line: int


def read_flows(path: Path) -> dict[str, FlowFunction]:
    """Every `@flow` function defined at the top level of `path`, by function name."""
    try:
        tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    except SyntaxError as error:
        raise ConfigError(f"{path}:{error.lineno}: {error.msg}; fix the Python syntax") from None
    flows = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            decorator = _flow_decorator(node)
            if decorator is not None:
                flows[node.name] = _describe(node, decorator)
    return flows


def _flow_decorator(node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.expr | None:
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name == "flow":
            return decorator
    return None


def _describe(node: ast.FunctionDef | ast.AsyncFunctionDef, decorator: ast.expr) -> FlowFunction:
    arguments = node.args
    positional = [*arguments.posonlyargs, *arguments.args]
    first_default = len(positional) - len(arguments.defaults)
    parameters = [
        Parameter(argument.arg, index < first_default, argument.lineno)
        for index, argument in enumerate(positional)
    ]
    parameters += [
        Parameter(argument.arg, default is None, argument.lineno)
        for argument, default in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True)
    ]
    return FlowFunction(
        function=node.name,
        flow_name=_flow_name(decorator),
        parameters=tuple(parameters),
        accepts_any_keyword=arguments.kwarg is not None,
        line=node.lineno,
    )


def _flow_name(decorator: ast.expr) -> str | None:
    if isinstance(decorator, ast.Call):
        for keyword in decorator.keywords:
            if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                return str(keyword.value.value)
    return None

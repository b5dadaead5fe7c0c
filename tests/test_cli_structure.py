"""The shape of ``tinynet/cli/``: one module per command, a shared ``common.py``, no command importing
another (so each can be read, and imported, alone)."""
import ast
import pathlib
import subprocess
import sys

import pytest

from tinynet import cli

CLI = pathlib.Path(cli.__file__).parent
ROOT = CLI.parent.parent


def imported_cli_modules(path):
    """The names of ``tinynet.cli`` modules that the file at ``path`` imports (``from .train import …``,
    ``from . import train``, ``import tinynet.cli.train``, ``from tinynet.cli import train``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level == 1 or module.startswith("tinynet.cli"):
                base = module.removeprefix("tinynet.cli").lstrip(".")
                found |= {base.split(".")[0]} if base else {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[2] for a in node.names if a.name.startswith("tinynet.cli.")}
    return found


def test_every_command_is_a_module_of_its_own():
    assert set(cli.COMMAND_MODULES) == {"train", "eval", "predict", "finetune", "summary", "check", "serve", "doctor"}
    for name in cli.COMMAND_MODULES:
        assert (CLI / f"{name}.py").is_file(), name
    cli.build_parser()
    assert list(cli.COMMANDS)[:len(cli.COMMAND_MODULES)] == list(cli.COMMAND_MODULES)


@pytest.mark.parametrize("path", sorted(CLI.glob("*.py")), ids=lambda p: p.name)
def test_no_command_module_imports_another(path):
    commands = set(cli.COMMAND_MODULES)
    imported = imported_cli_modules(path) & commands
    if path.stem in commands:
        assert not imported - {path.stem}, f"{path.name} imports the command module(s) {imported}"
    elif path.name != "__init__.py":            # shared modules (common.py, finetuning.py) import no command
        assert not imported, f"{path.name} is shared by the commands but imports {imported}"


def test_the_checker_sees_every_form_of_import(tmp_path):
    source = tmp_path / "x.py"
    for text in ("from .train import run", "from . import eval", "import tinynet.cli.predict",
                 "from tinynet.cli import summary", "from tinynet.cli.finetune import add_arguments"):
        source.write_text(text)
        assert imported_cli_modules(source) & set(cli.COMMAND_MODULES), text
    source.write_text("from .common import CLIError\nfrom .. import train")
    assert not imported_cli_modules(source) & set(cli.COMMAND_MODULES)


@pytest.mark.parametrize("name", cli.COMMAND_MODULES)
def test_each_command_module_imports_alone(name):
    """In a fresh interpreter, ``import tinynet.cli.NAME`` works and loads no other command module."""
    others = [m for m in cli.COMMAND_MODULES if m != name]
    code = (f"import sys, tinynet.cli.{name} as m\n"
            f"assert callable(m.run) and callable(m.add_arguments) and m.HELP\n"
            f"loaded = [o for o in {others!r} if 'tinynet.cli.' + o in sys.modules]\n"
            f"assert not loaded, loaded\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr


def test_python_m_tinynet_cli_and_the_entry_point():
    r = subprocess.run([sys.executable, "-m", "tinynet.cli", "summary", "lenet"], capture_output=True, text=True,
                       cwd=ROOT)
    assert r.returncode == 0 and "total parameters: 21,840" in r.stdout
    r = subprocess.run([sys.executable, "-m", "tinynet.cli", "train", "--epochs", "0"], capture_output=True,
                       text=True, cwd=ROOT)
    assert r.returncode == 2 and r.stderr.startswith("tinynet train: error: ") and len(r.stderr.splitlines()) == 1
    assert 'tinynet = "tinynet.cli:main"' in (ROOT / "pyproject.toml").read_text()


def test_the_fine_tuning_defaults_are_the_options_defaults():
    """``tinynet train --resume`` of a fine-tuned checkpoint fills in ``finetuning.SETTINGS``: the same
    defaults ``tinynet finetune`` parses."""
    from tinynet.cli import common, finetune, finetuning
    parser = common.OneLineParser(prog="tinynet finetune")
    finetune.add_arguments(parser)
    parsed = vars(parser.parse_args(["--task", "mnist", "--method", "full"]))
    assert {**parsed, "task": None, "method": None} == finetuning.SETTINGS

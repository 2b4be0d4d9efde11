"""The editor configurations in ``editors/`` against the adapter they start (``mlpvm dap``): each declares
exactly the launch attributes the adapter takes, starts the project's own command, covers the source files
of every machine, and a session launched with the configuration an editor writes for a new user runs a
program to its end. VS Code's extension code runs on node against a stand-in for the ``vscode`` module."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from mlpvm import machines
from mlpvm.debug import dap
from tests.conftest import ROOT
from tests.test_dap import GCD, GCD_OUTPUT, start

VSCODE = ROOT / "editors" / "vscode"
NVIM = ROOT / "editors" / "nvim" / "mlpvm-dap.lua"
EDITOR_KEYS = {"type", "request", "name"}  # every DAP configuration has them; the adapter ignores them


def manifest() -> dict:
    return json.loads((VSCODE / "package.json").read_text())


def debugger() -> dict:
    (entry,) = manifest()["contributes"]["debuggers"]
    return entry


def nvim_launch_keys() -> set[str]:
    """The keys of the Lua ``launch`` table, commented-out options included (they are documented choices)."""
    body = re.search(r"local launch = \{(.*?)\n\}", NVIM.read_text(), re.S).group(1)
    return set(re.findall(r"(?:^|,|--)\s*(\w+)\s*=", body, re.M))


def test_vscode_declares_exactly_the_launch_attributes_of_the_adapter():
    attributes = debugger()["configurationAttributes"]["launch"]
    assert set(attributes["properties"]) == set(dap.LAUNCH)
    assert attributes["required"] == ["program"]


def test_nvim_uses_only_launch_attributes_of_the_adapter():
    keys = nvim_launch_keys()
    assert {"program", "input", "engine", "weights", "noCheck"} <= keys
    assert keys <= set(dap.LAUNCH) | EDITOR_KEYS


def test_both_editors_start_the_projects_own_command():
    scripts = (ROOT / "pyproject.toml").read_text().partition("[project.scripts]")[2]  # tomllib: Python 3.11+
    assert re.match(r'\s*mlpvm = "mlpvm.cli:main"\n', scripts)
    default = manifest()["contributes"]["configuration"]["properties"]["mlpvm.adapterCommand"]["default"]
    assert default == ["mlpvm", "dap"]
    lua = NVIM.read_text()
    assert re.search(r'command = "mlpvm",\s*\n\s*args = \{ "dap" \}', lua)


def test_every_machines_source_files_are_debuggable():
    suffixes = {m.source_suffix for m in machines.MACHINES.values()}
    languages = manifest()["contributes"]["languages"]
    assert {s for lang in languages for s in lang["extensions"]} == suffixes
    ids = {lang["id"] for lang in languages}
    assert {b["language"] for b in manifest()["contributes"]["breakpoints"]} == ids == set(debugger()["languages"])
    assert {f"dap.configurations.{s[1:]}" for s in suffixes} <= set(
        re.findall(r"dap\.configurations\.\w+", NVIM.read_text())
    )


@pytest.mark.parametrize("editor", ["vscode", "nvim"])
def test_the_configuration_a_new_user_gets_runs_a_program_to_its_end(editor):
    if editor == "vscode":
        (config,) = debugger()["initialConfigurations"]
        config = {k: v for k, v in config.items() if k not in EDITOR_KEYS}
    else:
        config = {"program": "${file}", "input": "", "stopOnEntry": False}  # the Lua table's live entries
        assert all(f"{k} =" in NVIM.read_text() for k in config)
    assert config.pop("program") == "${file}"
    c = start(program=GCD, **config)
    c.ok("configurationDone")
    assert c.wait("exited")["exitCode"] == 0
    assert c.output() == GCD_OUTPUT
    c.ok("disconnect")


NODE_STUB = """
const Module = require("module");
const made = [];
const vscode = {
  workspace: { getConfiguration: (s) => ({
    get: (k) => PACKAGE.contributes.configuration.properties[s + "." + k].default }) },
  DebugAdapterExecutable: class { constructor(command, args) { this.command = command; this.args = args; } },
  debug: { registerDebugAdapterDescriptorFactory: (type, f) => { made.push([type, f]); return {}; } },
};
const load = Module._load;
Module._load = function (request, ...rest) {
  return request === "vscode" ? vscode : load.call(this, request, ...rest);
};
const ext = require(process.argv[1] + "/extension.js");
const context = { subscriptions: [] };
ext.activate(context);
const [[type, factory]] = made;
const d = factory.createDebugAdapterDescriptor({ type });
console.log(JSON.stringify({ type, command: d.command, args: d.args, subscriptions: context.subscriptions.length }));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_vscode_extension_starts_the_adapter_for_mlpvm_sessions():
    script = f"const PACKAGE = require(process.argv[1] + '/package.json');\n{NODE_STUB}"
    result = subprocess.run(["node", "-e", script, str(VSCODE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"type": "mlpvm", "command": "mlpvm", "args": ["dap"], "subscriptions": 1}
    assert debugger()["type"] == "mlpvm" and manifest()["main"] == "./extension.js"

#!/usr/bin/env python3
"""Checks the deploy files against the binary they run.

Every YAML and JSON file under deploy/ must parse; every sluice command line in them (container
args, AWS Batch commands) must name a command the binary has, with flags that command takes;
every environment variable they set (and the Dockerfile's ENV) must be one the binary or its
methods module reads; the KEDA scaler's query must run against a sluice database.

Usage: check-deploy.py SLUICE_BINARY DEPLOY_DIR
"""
import json
import pathlib
import re
import sqlite3
import subprocess
import sys
import tempfile

import yaml

binary = pathlib.Path(sys.argv[1])
deploy = pathlib.Path(sys.argv[2])
problems = []
readable = binary.read_bytes()
module = binary.parent / "libsluice_methods.so"
if module.exists():
    readable += module.read_bytes()
# Read by the runtime libraries sluice uses, not by sluice's own code.
LIBRARY_VARIABLES = {"OPENBLAS_NUM_THREADS"}


def command_help(words):
    """The help of the longest prefix of `words` that is a sluice command, and that prefix."""
    for k in range(len(words), 0, -1):
        out = subprocess.run([str(binary), *words[:k], "--help"], capture_output=True, text=True)
        usage = next((l for l in out.stdout.splitlines() if l.startswith("Usage:")), "")
        # CLI11 answers --help after an unknown command with the top-level help: check the
        # usage line names the command.
        if re.search(r"sluice " + re.escape(" ".join(words[:k])) + r"( |$)", usage):
            return out.stdout, words[:k]
    return None, []


def check_command(args, where):
    words = []
    for arg in args:
        if arg.startswith("-"):
            break
        words.append(arg)
    text, command = command_help(words)
    if text is None:
        problems.append(f"{where}: '{' '.join(words)}' is not a sluice command")
        return
    # A subcommand takes its parents' flags too (they fall through).
    flags = set()
    for j in range(1, len(command) + 1):
        parent, _ = command_help(command[:j])
        flags |= set(re.findall(r"(--[a-z][a-z0-9-]*)", parent or ""))
    for arg in args:
        if arg.startswith("--") and arg.split("=")[0] not in flags:
            problems.append(f"{where}: sluice {' '.join(command)} has no flag {arg.split('=')[0]}")


def check_variable(name, where):
    # The name as a whole string of the binary, not part of a longer one.
    whole = re.compile(rb"(?<![A-Z0-9_])" + re.escape(name.encode()) + rb"(?![A-Z0-9_])")
    if name not in LIBRARY_VARIABLES and not whole.search(readable):
        problems.append(f"{where}: sluice does not read the environment variable {name}")


def containers(document):
    spec = (document or {}).get("spec", {})
    template = spec.get("template") or spec.get("jobTemplate", {}).get("spec", {}).get("template")
    return (template or {}).get("spec", {}).get("containers", [])


checked = 0
for path in sorted(deploy.iterdir()):
    where = path.name
    try:
        if path.suffix in (".yaml", ".yml"):
            documents = list(yaml.safe_load_all(path.read_text()))
        elif path.suffix == ".json":
            documents = [json.loads(path.read_text())]
        else:
            documents = []
    except (yaml.YAMLError, json.JSONDecodeError) as error:
        problems.append(f"{where}: does not parse: {error}")
        continue
    for document in documents:
        checked += 1
        for container in containers(document):
            if "args" in container:
                check_command(container["args"], f"{where} container {container['name']}")
            for variable in container.get("env", []):
                check_variable(variable["name"], where)
        if document and document.get("kind") == "ScaledObject":
            for trigger in document["spec"]["triggers"]:
                if trigger["type"] == "postgresql":
                    # The query must run on a sluice schema (SQLite's jobs table has the same
                    # columns as Postgres').
                    with tempfile.TemporaryDirectory() as data:
                        subprocess.run([str(binary), "jobs", "--data", data],
                                       capture_output=True, check=False)
                        try:
                            sqlite3.connect(f"{data}/sluice.db").execute(
                                trigger["metadata"]["query"]).fetchall()
                        except sqlite3.Error as error:
                            problems.append(f"{where}: the KEDA query fails: {error}")
        if document and "containerProperties" in document:  # AWS Batch
            check_command(document["containerProperties"]["command"], where)
            for variable in document["containerProperties"].get("environment", []):
                check_variable(variable["name"], where)
    if path.name == "Dockerfile":
        for line in path.read_text().splitlines():
            if line.startswith("ENV "):
                for name in re.findall(r"([A-Z_][A-Z0-9_]*)=", line):
                    if name != "PATH":
                        check_variable(name, where)

for problem in problems:
    print(f"check-deploy: {problem}", file=sys.stderr)
print(f"check-deploy: {checked} documents checked, {len(problems)} problems")
sys.exit(1 if problems else 0)

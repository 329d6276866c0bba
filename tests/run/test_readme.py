"""The README's tour as a newcomer follows it, on non-default ports: its command blocks run in a
shell in a directory holding the stack's ``var/`` and the project's ``.venv``, with nothing but what
the README says (``source .venv/bin/activate``, ``source var/env.sh``) to find the stack.

Steps that wait for the clock (section 3: minutes until a same-day deadline) are left to
tests/run/test_restart.py; the simulator (section 5) to tests/cli/test_simulate.py.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from tests.run.conftest import SECRET, StackRun

REPOSITORY = Path(__file__).resolve().parents[2]
README = REPOSITORY / "README.md"
# Section 2 is the browser; 2b the same with the CLI and curl, whose commands 4 and 5 build on.
TOUR_SECTIONS = ("### 2b.", "### 4.", "### 5.")


def tour_commands() -> str:
    """The ``sh`` blocks of the tour's sections that run without waiting for the clock."""
    text = README.read_text(encoding="utf-8")
    sections = re.split(r"^(?=##+ )", text, flags=re.MULTILINE)
    blocks = []
    for section in sections:
        if section.startswith(TOUR_SECTIONS):
            blocks += re.findall(r"^```sh\n(.*?)^```", section, flags=re.MULTILINE | re.DOTALL)
    lines = [line for block in blocks for line in block.splitlines()]
    return "\n".join(line for line in lines if not line.startswith("daiban simulate"))


def test_the_repository_points_only_inside_itself() -> None:
    """Every relative link of the README and docs/ resolves; no file names a document that a
    clone does not have."""
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPOSITORY, capture_output=True, text=True, check=True
    ).stdout.split()
    # Spelled in pieces, so that this file does not find itself.
    folder, design, contract = "sha" + "red/", "DES" + "IGN §", "API" + r"\.md"
    outside = re.compile(rf"(?<![\w.-])(?:\.\./)?{folder}|\b{design}|(?<![/\w]){contract}")
    for name in tracked:
        path = REPOSITORY / name
        if path.suffix not in (".py", ".md", ".yaml", ".yml", ".toml", ".example", ".json", ""):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        assert not outside.search(text), f"{name}: {outside.search(text)}"
    for page in [README, *(REPOSITORY / "docs").glob("*.md")]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            assert (page.parent / target).exists(), f"{page.name} links to {target}"


def test_the_tour_runs_as_written_on_other_ports(stack: StackRun) -> None:
    assert stack.api_port != 8000 and stack.temporal_port != 7233
    stack.start()
    (stack.root / ".venv").symlink_to(REPOSITORY / ".venv")
    script = "set -eo pipefail\n" + tour_commands()
    # Nothing in the environment points at the stack: the README's two `source` lines must do.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DAIBAN_", "TEMPORAL_")) and k != "VIRTUAL_ENV"
    }
    env |= {"DAIBAN_JWT_SECRET": SECRET, "COLUMNS": "80"}
    # The README's `source .venv/bin/activate` puts `daiban` and `temporal` on the PATH; its
    # symlinked copy here names the original's directory, so put that first the same way.
    env["PATH"] = f"{REPOSITORY / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=stack.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    stack.interrupt()
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "exit code 6" in output  # forwarding before accepting: 409
    flat = re.sub(r"\s+", " ", output)  # lines wrap at 80 columns
    assert "is at 乡镇受理中" in flat and "最低生活保障审核确认" in output
    assert "ledger intact" in output
    assert "binary/encrypted" in output  # the history, undecoded
    # The workflow's input, decoded through the API's codec, with the API's masking: a supervisor
    # sees the resident masked, never in clear.
    assert '"王*英"' in output and '"王秀英"' not in output
    assert "a refusal" not in output and "note is required for refuse" in output
    assert "Statistics per township" in output and "姜山镇" in output

"""The commands that only look at plugins or files start without torch, numpy or music21."""

import subprocess
import sys

import pytest

HEAVY = ("torch", "numpy", "music21")
PROBE = """
import sys
sys.argv = ["charmony", *sys.argv[1:]]
from charmony.cli import main
try:
    main()
except SystemExit:
    pass
print("imported:", ",".join(name for name in {heavy!r} if name in sys.modules), file=sys.stderr)
"""


@pytest.mark.parametrize("command", [["--help"], ["plugins"], ["check", "tune.abc", "poem.txt", "code.py"], ["train", "--help"]])
def test_light_commands_import_no_torch_numpy_or_music21(command, tmp_path):
    (tmp_path / "tune.abc").write_text("X:1\nT:Scale\nM:4/4\nL:1/8\nK:C\nCDEF GABc|]\n")
    (tmp_path / "poem.txt").write_text("白日依山尽，黄河入海流。\n欲穷千里目，更上一层楼。\n")
    (tmp_path / "code.py").write_text("def f():\n    return 1\n")
    result = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *command], capture_output=True,
                            text=True, cwd=tmp_path, timeout=60)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip().splitlines()[-1] == "imported:", result.stderr

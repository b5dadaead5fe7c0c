"""``run(capsys, *argv)``: run ``tinynet ARGV`` in this process; (exit code, stdout, stderr)."""
from tinynet import cli


def run(capsys, *argv):
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err

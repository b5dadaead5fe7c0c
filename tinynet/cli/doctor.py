"""``tinynet doctor``: the backends, versions, BLAS and thread settings, and whether a GPU works."""
import json

from .. import doctor

HELP = "show what tinynet runs on here: backends, versions, BLAS, threads, whether a GPU works"


def add_arguments(p):
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args):
    r = doctor.report()
    print(json.dumps(r, indent=1) if args.json else doctor.format_report(r))
    return 0

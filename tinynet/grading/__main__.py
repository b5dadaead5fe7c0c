"""``python -m tinynet.grading FILE`` (the same as ``tinynet check FILE``)."""
import sys

from .cli import main

sys.exit(main())

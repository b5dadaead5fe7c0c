"""``python -m tinynet.cli …``: the ``tinynet`` command."""
import sys

from . import main

sys.exit(main())

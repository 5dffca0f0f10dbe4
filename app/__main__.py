"""``python -m app [PROJECT]``: start the window."""

import sys

from app.main import main

sys.exit(main())

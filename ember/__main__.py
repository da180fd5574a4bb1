"""``python -m ember run script.py`` / ``python -m ember info``."""
import sys

from .cli import main

sys.exit(main())

import sys

from harness.cli import console_main

sys.exit(console_main())

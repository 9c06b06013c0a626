import sys

from texpaste.cli import main

sys.exit(main())

"""``python -m jobs [--metrics-port N]``: the same as ``sge-recon scheduler``."""

import sys

from sge_recon.cli import main

if __name__ == "__main__":
    main(["scheduler", *sys.argv[1:]])

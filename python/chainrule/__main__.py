"""`chainrule ...` and `python -m chainrule ...`: the command-line program installed with the
module (chainrule/bin/chainrule in the wheel), with the same arguments and exit codes."""
import os
import sys


def main():
    """Runs the command-line program with sys.argv's arguments (replaces this process)."""
    from . import cli_path
    path = cli_path()
    os.execv(path, [path] + sys.argv[1:])


if __name__ == "__main__":
    main()

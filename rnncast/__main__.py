"""`python -m rnncast` runs the command-line interface."""

from rnncast.cli.app import main

if __name__ == "__main__":
    main()

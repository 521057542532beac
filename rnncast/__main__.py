"""`python -m rnncast` runs the command-line interface."""

from rnncast.cli import main

if __name__ == "__main__":
    main()

"""`python -m yts_deploy` is the `yts` command."""

from yts_deploy.cli import app

if __name__ == "__main__":
    app(prog_name="yts")

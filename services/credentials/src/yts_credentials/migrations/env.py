from yts_chassis.migrations import run_env
from yts_credentials.store import metadata

run_env(metadata)

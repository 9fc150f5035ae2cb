from yts_chassis.migrations import run_env
from yts_reporting.store import metadata

run_env(metadata)

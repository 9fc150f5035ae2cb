from yts_chassis.migrations import run_env
from yts_notifications.store import metadata

run_env(metadata)

from yts_chassis.migrations import run_env
from yts_enrolment.store import metadata

run_env(metadata)

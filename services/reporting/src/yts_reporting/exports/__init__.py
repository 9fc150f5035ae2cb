"""The exports: delivered sessions as CSV (``sessions``, from the rows ``session_rows`` lists)
and the indicators as an XLSX workbook, a sheet per breakdown (``workbook``). Neither holds
personal data: sessions carry counts only, trainers appear only as counts.

Both are written for people by default: sheet names, column headers and categories (districts,
genders) in the reader's language, from the dashboard's catalogues. ``columns="keys"`` gives
the stable machine names instead (snake_case headers, district and gender codes), for scripts
(``wording``).
"""

from yts_reporting.exports.session_rows import SessionRow, session_rows
from yts_reporting.exports.sessions import SESSION_COLUMNS, sessions_csv
from yts_reporting.exports.wording import Columns, Wording
from yts_reporting.exports.workbook import indicators_xlsx

__all__ = [
    "SESSION_COLUMNS",
    "Columns",
    "SessionRow",
    "Wording",
    "indicators_xlsx",
    "session_rows",
    "sessions_csv",
]

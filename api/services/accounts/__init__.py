"""Account use cases: self-registration, roster import, password resets and role changes
by staff, finding an account by any of its identifiers, the password rules, and the
per-account login lock.

Each database function is one unit of work on a session the caller opened
(``api.store.db.transaction``) and takes the time as ``now``; hashing is passed in as
``hasher`` (``api.services.passwords.hash_password``), so this package never imports the
HTTP shell. The identifier rules are examengine's (``examengine.ids``); this package
applies them to whole requests and rosters and says, per field or per line, what is
wrong — in English and in Chinese.

The modules, by concept (callers import from the package, which re-exports them all):

- ``error``: ``FieldProblem``, the ``AccountError`` family, the labels and Beijing time
  their messages use;
- ``rule``: the name, gender, identifier and password rules, the initial password;
- ``lookup``: ``Account`` (an account as the API shows it) and ``find_account``;
- ``registration``: a learner's self-registration (``register``);
- ``employment``: the one writer of an account's employer, with the registry of
  employers and who worked where when (``employ_new``, ``assign_employer``,
  ``employment_history``, ``employer_at``; decision 0025);
- ``staff``: password resets and role changes by staff;
- ``roster``: reading and importing rosters, and their error files (not all-or-nothing:
  valid lines become accounts, the others are reported line by line);
- ``session``: ending an account's login sessions (the session generation,
  ``end_sessions``, mirrored in a store by ``SessionGenerations``; decision 0014);
- ``lock``: the login lock per account and client address, and per account from all
  addresses (``LoginLocks``), kept in a Litestar store rather than in the database.
  See docs/decisions/0006-accounts.md and 0014;
- ``_shared``: the hasher's type, which identifiers are taken, the account event log.
"""

from api.services.accounts._shared import Hasher
from api.services.accounts.activation import (
    ACTIVATION_PATH,
    NO_PASSWORD,
    ActivationInvalidError,
    Links,
    activate,
    force_change_of_old_initial_password,
    issue_activations,
    links_for,
)
from api.services.accounts.employment import (
    EmploymentRecord,
    EmploymentSpan,
    assign_employer,
    employ_new,
    employer_at,
    employment_history,
    employment_of,
    move_to_employer,
)
from api.services.accounts.error import (
    FIELD_LABELS,
    AccountError,
    AccountExistsError,
    AccountInvalidError,
    AccountLockedError,
    AccountNotFoundError,
    AccountRefusedError,
    EmployerExistsError,
    EmployerNotFoundError,
    FieldProblem,
    RosterUnreadableError,
)
from api.services.accounts.lock import (
    AccountWindow,
    LockKeys,
    LockPolicy,
    LockState,
    LoginLocks,
    closed_until_ms,
    lock_keys,
    record_account_failure,
    record_failure,
)
from api.services.accounts.lookup import Account, account, find_account
from api.services.accounts.registration import (
    LongText,
    PasswordText,
    Registration,
    ShortText,
    register,
)
from api.services.accounts.roster import (
    COLUMNS,
    MAX_ROSTER_LINES,
    REASON_EN_HEADER,
    REASON_HEADER,
    REQUIRED_COLUMNS,
    ROW_HEADER,
    XLSX_MAGIC,
    Roster,
    RosterImport,
    RosterLine,
    RosterReport,
    RosterRow,
    import_roster,
    read_roster,
    roster_error_file,
)
from api.services.accounts.rule import (
    INITIAL_PASSWORD_PREFIX,
    MAX_EMPLOYER,
    MAX_NAME,
    MIN_PASSWORD,
    NAME_DOT,
    beijing_date,
    check_employer,
    check_gender,
    check_name,
    gender_of_id,
    id_corrections,
    initial_password,
    password_problems,
)
from api.services.accounts.session import SessionGenerations, end_sessions
from api.services.accounts.staff import PasswordReset, reset_password, set_roles

__all__ = [
    "ACTIVATION_PATH",
    "COLUMNS",
    "FIELD_LABELS",
    "INITIAL_PASSWORD_PREFIX",
    "MAX_EMPLOYER",
    "MAX_NAME",
    "MAX_ROSTER_LINES",
    "MIN_PASSWORD",
    "NAME_DOT",
    "NO_PASSWORD",
    "REASON_EN_HEADER",
    "REASON_HEADER",
    "REQUIRED_COLUMNS",
    "ROW_HEADER",
    "XLSX_MAGIC",
    "Account",
    "AccountError",
    "AccountExistsError",
    "AccountInvalidError",
    "AccountLockedError",
    "AccountNotFoundError",
    "AccountRefusedError",
    "AccountWindow",
    "ActivationInvalidError",
    "EmployerExistsError",
    "EmployerNotFoundError",
    "EmploymentRecord",
    "EmploymentSpan",
    "FieldProblem",
    "Hasher",
    "Links",
    "LockKeys",
    "LockPolicy",
    "LockState",
    "LoginLocks",
    "LongText",
    "PasswordReset",
    "PasswordText",
    "Registration",
    "Roster",
    "RosterImport",
    "RosterLine",
    "RosterReport",
    "RosterRow",
    "RosterUnreadableError",
    "SessionGenerations",
    "ShortText",
    "account",
    "activate",
    "assign_employer",
    "beijing_date",
    "check_employer",
    "check_gender",
    "check_name",
    "closed_until_ms",
    "employ_new",
    "employer_at",
    "employment_history",
    "employment_of",
    "end_sessions",
    "find_account",
    "force_change_of_old_initial_password",
    "gender_of_id",
    "id_corrections",
    "import_roster",
    "initial_password",
    "issue_activations",
    "links_for",
    "lock_keys",
    "move_to_employer",
    "password_problems",
    "read_roster",
    "record_account_failure",
    "record_failure",
    "register",
    "reset_password",
    "roster_error_file",
    "set_roles",
]

"""CPython's C module `_sqlite3`, re-created in Python over the sqlite3 cap.

pylon's WASI CPython has no SQLite; the sqlite3 cap (a separate Wasm component, SQLite
compiled for wasm32-wasip2) provides it through the generated extension `_sqlite3_cap`.
This module mirrors Modules/_sqlite/*.c of CPython 3.13 (same classes, attributes,
exception classes and messages), so that the unchanged `sqlite3` package of the stdlib
(`sqlite3/__init__.py`, `dbapi2.py`, `dump.py`) works on top of it.

What cannot be done: SQLite calling back into Python. The cap cannot import from the core
(that would make a cycle in the composition), so user-defined functions, aggregates, window
functions, collations, authorizers and progress handlers (whose results SQLite needs while
it runs) raise NotSupportedError. Trace callbacks only observe: the cap records the
statements SQLite runs and this module calls the trace callback with them as soon as the
cap call that ran them returns (after the statement, where CPython calls it before). Threads do not exist in pylon; SQLite runs single-threaded
(`threadsafety` is 0).
"""

import _sqlite3_cap as _cap
import os as _os
import sys as _sys
import warnings as _warnings
import weakref as _weakref
from _thread import get_ident as _get_ident

# ---- constants ------------------------------------------------------------------------

_CONSTANTS = {
    'SQLITE_ABORT': 4, 'SQLITE_AUTH': 23, 'SQLITE_BUSY': 5, 'SQLITE_CANTOPEN': 14,
    'SQLITE_CONSTRAINT': 19, 'SQLITE_CORRUPT': 11, 'SQLITE_DONE': 101, 'SQLITE_EMPTY': 16,
    'SQLITE_ERROR': 1, 'SQLITE_FORMAT': 24, 'SQLITE_FULL': 13, 'SQLITE_INTERNAL': 2,
    'SQLITE_INTERRUPT': 9, 'SQLITE_IOERR': 10, 'SQLITE_LOCKED': 6, 'SQLITE_MISMATCH': 20,
    'SQLITE_MISUSE': 21, 'SQLITE_NOLFS': 22, 'SQLITE_NOMEM': 7, 'SQLITE_NOTADB': 26,
    'SQLITE_NOTFOUND': 12, 'SQLITE_OK': 0, 'SQLITE_PERM': 3, 'SQLITE_PROTOCOL': 15,
    'SQLITE_RANGE': 25, 'SQLITE_READONLY': 8, 'SQLITE_ROW': 100, 'SQLITE_SCHEMA': 17,
    'SQLITE_TOOBIG': 18, 'SQLITE_NOTICE': 27, 'SQLITE_WARNING': 28,
    'SQLITE_ABORT_ROLLBACK': 516, 'SQLITE_BUSY_RECOVERY': 261,
    'SQLITE_CANTOPEN_FULLPATH': 782, 'SQLITE_CANTOPEN_ISDIR': 526,
    'SQLITE_CANTOPEN_NOTEMPDIR': 270, 'SQLITE_CORRUPT_VTAB': 267, 'SQLITE_IOERR_ACCESS': 3338,
    'SQLITE_IOERR_BLOCKED': 2826, 'SQLITE_IOERR_CHECKRESERVEDLOCK': 3594,
    'SQLITE_IOERR_CLOSE': 4106, 'SQLITE_IOERR_DELETE': 2570, 'SQLITE_IOERR_DELETE_NOENT': 5898,
    'SQLITE_IOERR_DIR_CLOSE': 4362, 'SQLITE_IOERR_DIR_FSYNC': 1290, 'SQLITE_IOERR_FSTAT': 1802,
    'SQLITE_IOERR_FSYNC': 1034, 'SQLITE_IOERR_LOCK': 3850, 'SQLITE_IOERR_NOMEM': 3082,
    'SQLITE_IOERR_RDLOCK': 2314, 'SQLITE_IOERR_READ': 266, 'SQLITE_IOERR_SEEK': 5642,
    'SQLITE_IOERR_SHMLOCK': 5130, 'SQLITE_IOERR_SHMMAP': 5386, 'SQLITE_IOERR_SHMOPEN': 4618,
    'SQLITE_IOERR_SHMSIZE': 4874, 'SQLITE_IOERR_SHORT_READ': 522, 'SQLITE_IOERR_TRUNCATE': 1546,
    'SQLITE_IOERR_UNLOCK': 2058, 'SQLITE_IOERR_WRITE': 778, 'SQLITE_LOCKED_SHAREDCACHE': 262,
    'SQLITE_READONLY_CANTLOCK': 520, 'SQLITE_READONLY_RECOVERY': 264,
    'SQLITE_CONSTRAINT_CHECK': 275, 'SQLITE_CONSTRAINT_COMMITHOOK': 531,
    'SQLITE_CONSTRAINT_FOREIGNKEY': 787, 'SQLITE_CONSTRAINT_FUNCTION': 1043,
    'SQLITE_CONSTRAINT_NOTNULL': 1299, 'SQLITE_CONSTRAINT_PRIMARYKEY': 1555,
    'SQLITE_CONSTRAINT_TRIGGER': 1811, 'SQLITE_CONSTRAINT_UNIQUE': 2067,
    'SQLITE_CONSTRAINT_VTAB': 2323, 'SQLITE_READONLY_ROLLBACK': 776, 'SQLITE_IOERR_MMAP': 6154,
    'SQLITE_NOTICE_RECOVER_ROLLBACK': 539, 'SQLITE_NOTICE_RECOVER_WAL': 283,
    'SQLITE_BUSY_SNAPSHOT': 517, 'SQLITE_IOERR_GETTEMPPATH': 6410,
    'SQLITE_WARNING_AUTOINDEX': 284, 'SQLITE_CANTOPEN_CONVPATH': 1038,
    'SQLITE_IOERR_CONVPATH': 6666, 'SQLITE_CONSTRAINT_ROWID': 2579,
    'SQLITE_READONLY_DBMOVED': 1032, 'SQLITE_AUTH_USER': 279, 'SQLITE_IOERR_VNODE': 6922,
    'SQLITE_IOERR_AUTH': 7178, 'SQLITE_OK_LOAD_PERMANENTLY': 256,
    'SQLITE_IOERR_BEGIN_ATOMIC': 7434, 'SQLITE_IOERR_COMMIT_ATOMIC': 7690,
    'SQLITE_IOERR_ROLLBACK_ATOMIC': 7946, 'SQLITE_ERROR_MISSING_COLLSEQ': 257,
    'SQLITE_ERROR_RETRY': 513, 'SQLITE_READONLY_CANTINIT': 1288,
    'SQLITE_READONLY_DIRECTORY': 1544, 'SQLITE_CORRUPT_SEQUENCE': 523, 'SQLITE_LOCKED_VTAB': 518,
    'SQLITE_CANTOPEN_DIRTYWAL': 1294, 'SQLITE_ERROR_SNAPSHOT': 769,
    'SQLITE_CANTOPEN_SYMLINK': 1550, 'SQLITE_CONSTRAINT_PINNED': 2835, 'SQLITE_OK_SYMLINK': 512,
    'SQLITE_BUSY_TIMEOUT': 773, 'SQLITE_CORRUPT_INDEX': 779, 'SQLITE_IOERR_DATA': 8202,
    'SQLITE_IOERR_CORRUPTFS': 8458,
    'PARSE_DECLTYPES': 1, 'PARSE_COLNAMES': 2, 'SQLITE_DENY': 1, 'SQLITE_IGNORE': 2,
    'SQLITE_CREATE_INDEX': 1, 'SQLITE_CREATE_TABLE': 2, 'SQLITE_CREATE_TEMP_INDEX': 3,
    'SQLITE_CREATE_TEMP_TABLE': 4, 'SQLITE_CREATE_TEMP_TRIGGER': 5, 'SQLITE_CREATE_TEMP_VIEW': 6,
    'SQLITE_CREATE_TRIGGER': 7, 'SQLITE_CREATE_VIEW': 8, 'SQLITE_DELETE': 9,
    'SQLITE_DROP_INDEX': 10, 'SQLITE_DROP_TABLE': 11, 'SQLITE_DROP_TEMP_INDEX': 12,
    'SQLITE_DROP_TEMP_TABLE': 13, 'SQLITE_DROP_TEMP_TRIGGER': 14, 'SQLITE_DROP_TEMP_VIEW': 15,
    'SQLITE_DROP_TRIGGER': 16, 'SQLITE_DROP_VIEW': 17, 'SQLITE_INSERT': 18, 'SQLITE_PRAGMA': 19,
    'SQLITE_READ': 20, 'SQLITE_SELECT': 21, 'SQLITE_TRANSACTION': 22, 'SQLITE_UPDATE': 23,
    'SQLITE_ATTACH': 24, 'SQLITE_DETACH': 25, 'SQLITE_ALTER_TABLE': 26, 'SQLITE_REINDEX': 27,
    'SQLITE_ANALYZE': 28, 'SQLITE_CREATE_VTABLE': 29, 'SQLITE_DROP_VTABLE': 30,
    'SQLITE_FUNCTION': 31, 'SQLITE_SAVEPOINT': 32, 'SQLITE_RECURSIVE': 33,
    'SQLITE_LIMIT_LENGTH': 0, 'SQLITE_LIMIT_SQL_LENGTH': 1, 'SQLITE_LIMIT_COLUMN': 2,
    'SQLITE_LIMIT_EXPR_DEPTH': 3, 'SQLITE_LIMIT_COMPOUND_SELECT': 4, 'SQLITE_LIMIT_VDBE_OP': 5,
    'SQLITE_LIMIT_FUNCTION_ARG': 6, 'SQLITE_LIMIT_ATTACHED': 7,
    'SQLITE_LIMIT_LIKE_PATTERN_LENGTH': 8, 'SQLITE_LIMIT_VARIABLE_NUMBER': 9,
    'SQLITE_LIMIT_TRIGGER_DEPTH': 10, 'SQLITE_LIMIT_WORKER_THREADS': 11,
    'SQLITE_DBCONFIG_ENABLE_FKEY': 1002, 'SQLITE_DBCONFIG_ENABLE_TRIGGER': 1003,
    'SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER': 1004, 'SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION': 1005,
    'SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE': 1006, 'SQLITE_DBCONFIG_ENABLE_QPSG': 1007,
    'SQLITE_DBCONFIG_TRIGGER_EQP': 1008, 'SQLITE_DBCONFIG_RESET_DATABASE': 1009,
    'SQLITE_DBCONFIG_DEFENSIVE': 1010, 'SQLITE_DBCONFIG_WRITABLE_SCHEMA': 1011,
    'SQLITE_DBCONFIG_DQS_DDL': 1014, 'SQLITE_DBCONFIG_DQS_DML': 1013,
    'SQLITE_DBCONFIG_LEGACY_ALTER_TABLE': 1012, 'SQLITE_DBCONFIG_ENABLE_VIEW': 1015,
    'SQLITE_DBCONFIG_LEGACY_FILE_FORMAT': 1016, 'SQLITE_DBCONFIG_TRUSTED_SCHEMA': 1017,
    'LEGACY_TRANSACTION_CONTROL': -1,
}
globals().update(_CONSTANTS)

# The names of result codes, for `sqlite_errorname` (module.c's error_codes table).
_ERROR_NAMES = {}
for _name, _value in _CONSTANTS.items():
    if _name.startswith('SQLITE_') and not _name.startswith(('SQLITE_LIMIT_', 'SQLITE_DBCONFIG_')) \
            and (_value in (0, 100, 101) or _name in (
                'SQLITE_ABORT', 'SQLITE_AUTH', 'SQLITE_BUSY', 'SQLITE_CANTOPEN', 'SQLITE_CONSTRAINT',
                'SQLITE_CORRUPT', 'SQLITE_EMPTY', 'SQLITE_ERROR', 'SQLITE_FORMAT', 'SQLITE_FULL',
                'SQLITE_INTERNAL', 'SQLITE_INTERRUPT', 'SQLITE_IOERR', 'SQLITE_LOCKED',
                'SQLITE_MISMATCH', 'SQLITE_MISUSE', 'SQLITE_NOLFS', 'SQLITE_NOMEM', 'SQLITE_NOTADB',
                'SQLITE_NOTFOUND', 'SQLITE_PERM', 'SQLITE_PROTOCOL', 'SQLITE_RANGE',
                'SQLITE_READONLY', 'SQLITE_SCHEMA', 'SQLITE_TOOBIG', 'SQLITE_NOTICE',
                'SQLITE_WARNING') or _value > 255):
        _ERROR_NAMES.setdefault(_value, _name)
del _name, _value

_PARSE_DECLTYPES = 1
_PARSE_COLNAMES = 2
_LEGACY = -1

_OPEN_READWRITE = 0x00000002
_OPEN_CREATE = 0x00000004
_OPEN_URI = 0x00000040

_INT_CONFIGS = frozenset(v for k, v in _CONSTANTS.items() if k.startswith('SQLITE_DBCONFIG_'))

sqlite_version = _cap.version()
_deprecated_version = '2.6.0'
threadsafety = {0: 0, 1: 3, 2: 1}[_cap.threadsafe()]

# ---- exceptions -----------------------------------------------------------------------


class Error(Exception):
    pass


Error.__module__ = 'sqlite3'


class Warning(Exception):
    pass


class InterfaceError(Error):
    pass


class DatabaseError(Error):
    pass


class InternalError(DatabaseError):
    pass


class OperationalError(DatabaseError):
    pass


class ProgrammingError(DatabaseError):
    pass


class IntegrityError(DatabaseError):
    pass


class DataError(DatabaseError):
    pass


class NotSupportedError(DatabaseError):
    pass


for _exc in (Error, Warning, InterfaceError, DatabaseError, InternalError, OperationalError,
             ProgrammingError, IntegrityError, DataError, NotSupportedError):
    _exc.__module__ = 'sqlite3'
del _exc

_PRIMARY_CLASS = {
    2: InternalError, 12: InternalError,
    1: OperationalError, 3: OperationalError, 4: OperationalError, 5: OperationalError,
    6: OperationalError, 8: OperationalError, 9: OperationalError, 10: OperationalError,
    13: OperationalError, 14: OperationalError, 15: OperationalError, 16: OperationalError,
    17: OperationalError,
    11: DatabaseError,
    18: DataError,
    19: IntegrityError, 20: IntegrityError,
    21: InterfaceError, 25: InterfaceError,
}


def _exception(err):
    """The DB-API exception for a cap `sqlite-error` (util.c's `_pysqlite_seterror`)."""
    code, extended, message = err
    if code == 7:
        return MemoryError()
    exc = _PRIMARY_CLASS.get(code, DatabaseError)(message)
    exc.sqlite_errorcode = extended
    exc.sqlite_errorname = _ERROR_NAMES.get(extended, 'unknown')
    return exc


def _raise(wit_error):
    exc = _exception(wit_error.value)
    exc.__cause__ = None
    exc.__suppress_context__ = True
    raise exc


_WitError = _cap.WitError
_CALLBACKS_UNSUPPORTED = (
    "{} is not supported in pylon: SQLite runs in a separate component (the sqlite3 cap), "
    "which cannot call back into Python")


class _Unraisable:
    """What sys.unraisablehook receives (the C API's PyErr_FormatUnraisable)."""

    def __init__(self, exc, err_msg, obj):
        self.exc_type = type(exc)
        self.exc_value = exc
        self.exc_traceback = exc.__traceback__
        self.err_msg = err_msg
        self.object = obj


def _callback_failed(exc, callable_):
    """connection.c's print_or_clear_traceback."""
    if _enable_callback_tracebacks:
        _sys.unraisablehook(_Unraisable(exc, f"Exception ignored on sqlite3 callback {callable_!r}", None))


def _unsupported(what):
    return NotSupportedError(_CALLBACKS_UNSUPPORTED.format(what))


# ---- adaptation (microprotocols.c) ----------------------------------------------------


class PrepareProtocol:
    """PEP 246 style object adaption protocol type."""

    def __init__(self, *args, **kwargs):
        pass


PrepareProtocol.__module__ = 'sqlite3'

adapters = {}
converters = {}
_base_type_adapted = False
_enable_callback_tracebacks = False


def register_adapter(type, adapter, /):
    """Register a function to adapt Python objects to SQLite values."""
    global _base_type_adapted
    if type in (int, float, str, bytearray):
        _base_type_adapted = True
        _FAST_CASES.clear()
    _FAST_CASES.pop(type, None)
    adapters[(type, PrepareProtocol)] = adapter


def register_converter(typename, converter, /):
    """Register a function to convert SQLite values to Python objects."""
    if not isinstance(typename, str):
        raise TypeError(f"register_converter() argument 1 must be str, not {_type_name(typename)}")
    converters[typename.upper()] = converter


def _type_name(obj):
    return type(obj).__name__


def enable_callback_tracebacks(enable, /):
    """Enable or disable callback functions throwing errors to stderr."""
    global _enable_callback_tracebacks
    _enable_callback_tracebacks = int(enable)


_NO_ALT = object()


def adapt(obj, proto=PrepareProtocol, alt=_NO_ALT, /):
    """Adapt given object to given protocol."""
    return _adapt(obj, proto, alt)


def _adapt(obj, proto, alt):
    adapter = adapters.get((type(obj), proto))
    if adapter is not None:
        return adapter(obj)
    adapt_ = getattr(proto, '__adapt__', None)
    if adapt_ is not None:
        try:
            adapted = adapt_(obj)
        except TypeError:
            adapted = None
        if adapted is not None:
            return adapted
    conform = getattr(obj, '__conform__', None)
    if conform is not None:
        try:
            adapted = conform(proto)
        except TypeError:
            adapted = None
        if adapted is not None:
            return adapted
    if alt is not _NO_ALT:
        return alt
    raise ProgrammingError("can't adapt")


def complete_statement(statement):
    """Checks if a string contains a complete SQL statement."""
    if not isinstance(statement, str):
        raise TypeError(f"complete_statement() argument 'statement' must be str, not {type(statement).__name__}")
    if '\0' in statement:
        raise ValueError("embedded null character")
    return _cap.complete(statement)


# ---- values across the boundary -------------------------------------------------------

# Parameters of these exact types need no adaptation and map straight to a `value` case
# (cursor.c's need_adapt/bind_param); a type leaves the table once an adapter is registered.
_FAST_CASES = {int: 'integer', float: 'real', str: 'text', bytes: 'blob', type(None): 'null'}
_COLUMN_CASES = {int: 'integers', float: 'reals', str: 'texts', bytes: 'blobs'}
_COLUMN_OF = {'integer': 'integers', 'real': 'reals', 'text': 'texts', 'blob': 'blobs'}


def _FAST_COLUMN_CASES():
    """The typed-list cases still usable (a type with an adapter is not)."""
    return {_COLUMN_OF[c] for c in _FAST_CASES.values() if c in _COLUMN_OF}


_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_NULL = ('null', None)


def _value(obj, pos):
    """A Python parameter as a cap `value` (cursor.c's bind_param)."""
    if obj is None:
        return _NULL
    t = type(obj)
    if t is int or (t is not float and t is not str and isinstance(obj, int)):
        if not _INT64_MIN <= obj <= _INT64_MAX:
            raise OverflowError("Python int too large to convert to SQLite INTEGER")
        return ('integer', int(obj))
    if t is float or (t is not str and isinstance(obj, float)):
        return ('real', float(obj))
    if t is str or isinstance(obj, str):
        return ('text', str(obj))
    try:
        view = memoryview(obj)
    except TypeError:
        raise ProgrammingError(
            f"Error binding parameter {pos}: type '{t.__name__}' is not supported") from None
    return ('blob', view.cast('B') if view.ndim != 1 or view.format != 'B' else view)


def _adapted(obj):
    if not _base_type_adapted and type(obj) in (int, float, str, bytearray):
        return obj
    return _adapt(obj, PrepareProtocol, obj)


# ---- statements -----------------------------------------------------------------------


def _lstrip_sql(sql):
    """CPython's lstrip_sql: `sql` without leading whitespace and comments."""
    pos, n = 0, len(sql)
    while pos < n:
        c = sql[pos]
        if c in ' \t\f\n\r':
            pos += 1
        elif c == '-' and sql.startswith('--', pos):
            end = sql.find('\n', pos + 2)
            if end < 0:
                return ''
            pos = end + 1
        elif c == '/' and sql.startswith('/*', pos):
            end = sql.find('*/', pos + 2)
            if end < 0:
                return ''
            pos = end + 2
        else:
            return sql[pos:]
    return ''


class _Statement:
    """A prepared statement (statement.c) and what is known about it."""

    __slots__ = ('st', 'names', 'qmark', 'columns', 'readonly', 'is_dml', 'busy', '__weakref__')

    def __init__(self, *args, **kwargs):
        raise TypeError(f"cannot create '{__name__}._Statement' instances")

    @classmethod
    def _create(cls, connection, sql):
        self = object.__new__(cls)
        self._prepare(connection, sql)
        return self

    def _prepare(self, connection, sql):
        db = connection._db
        _check_sql_length(connection, sql)
        if '\0' in sql:
            raise ProgrammingError("the query contains a null character")
        try:
            prepared = db.prepare(sql)
        except _WitError as e:
            _raise(e)
        st = prepared.statement
        if prepared.has_tail:
            if st is not None:
                st.close()
            raise ProgrammingError("You can only execute one statement at a time.")
        self.st = st
        self.names = prepared.parameter_names
        self.qmark = all(name is None or name[0] == '?' for name in self.names)
        self.columns = prepared.columns
        self.readonly = prepared.readonly
        head = _lstrip_sql(sql)[:7].lower()
        self.is_dml = head.startswith(('insert', 'update', 'delete', 'replace'))
        self.busy = False

    def reset(self):
        if self.busy:
            self.busy = False
            if self.st is not None:
                self.st.reset()


def _check_sql_length(connection, sql):
    """DataError past SQLITE_LIMIT_SQL_LENGTH (the connection keeps the current limit)."""
    limit = connection._sql_limit
    if len(sql) > limit // 4 and len(sql.encode('utf-8', 'surrogatepass')) > limit:
        raise DataError("query string is too large")


# ---- Connection -----------------------------------------------------------------------

_ISOLATION_LEVELS = ('', 'DEFERRED', 'IMMEDIATE', 'EXCLUSIVE')


def _isolation_level(value):
    if value is None:
        return None
    if isinstance(value, str):
        if '\0' in value:
            raise ValueError("embedded null character")
        for level in _ISOLATION_LEVELS:
            if value.upper() == level:
                return level
        raise ValueError("isolation_level string must be '', 'DEFERRED', 'IMMEDIATE', or 'EXCLUSIVE'")
    raise TypeError("isolation_level must be str or None")


def _autocommit(value):
    if value is True:
        return True
    if value is False:
        return False
    if isinstance(value, int) and value == _LEGACY:
        return _LEGACY
    raise ValueError("autocommit must be True, False, or sqlite3.LEGACY_TRANSACTION_CONTROL")


def _path(database, uri):
    """A file name for the cap's SQLite: absolute, because the cap has a working
    directory of its own (its WASI instance's), not the interpreter's."""
    name = _os.fsdecode(database)
    if uri:
        if name.startswith('file:'):
            rest = name[5:]
            if rest and not rest.startswith('/') and not rest.startswith(('?', '#')):
                if not rest.startswith(':memory:'):
                    return 'file:' + _os.path.abspath(rest.split('?', 1)[0].split('#', 1)[0]) + \
                        rest[len(rest.split('?', 1)[0].split('#', 1)[0]):]
        return name
    if name == '' or name == ':memory:':
        return name
    return _os.path.abspath(name)


class Connection:
    """SQLite database connection object."""

    def __init__(self, database, *args, **kwargs):
        if args:
            _warnings.warn(
                "Passing more than 1 positional argument to _sqlite3.Connection() is deprecated. "
                "Parameters 'timeout', 'detect_types', 'isolation_level', 'check_same_thread', "
                "'factory', 'cached_statements' and 'uri' will become keyword-only parameters in "
                "Python 3.15.", DeprecationWarning, stacklevel=_user_stacklevel())
        self._init(database, *args, **kwargs)

    def _init(self, database, timeout=5.0, detect_types=0, isolation_level='',
              check_same_thread=True, factory=None, cached_statements=128, uri=False, *,
              autocommit=_LEGACY):
        _sys.audit("sqlite3.connect", database)
        encoded = _os.fsencode(database)
        if b'\0' in encoded:
            raise ValueError("embedded null byte")
        timeout = float(timeout)
        detect_types = _index(detect_types)
        level = _isolation_level(isolation_level)
        check_same_thread = bool(check_same_thread)
        cached_statements = _index(cached_statements)
        uri = bool(uri)
        mode = _autocommit(autocommit)
        if getattr(self, '_initialized', False):
            self._initialized = False
            self._close_db()
        flags = _OPEN_READWRITE | _OPEN_CREATE | (_OPEN_URI if uri else 0)
        try:
            db = _cap.Connection.open(_path(database, uri), flags, None)
        except _WitError as e:
            _raise(e)
        try:
            db.busy_timeout(int(timeout * 1000))
        except _WitError:
            pass
        self._db = db
        self._sql_limit = db.limit(1, -1)
        self._detect_types = detect_types
        self._isolation_level = level
        self._autocommit = mode
        self._check_same_thread = check_same_thread
        self._thread_ident = _get_ident()
        self._statement_cache = _make_statement_cache(self, cached_statements)
        self._cursors = []
        self._blobs = []
        self._trace = None
        self.row_factory = None
        self.text_factory = str
        self._initialized = True
        _sys.audit("sqlite3.connect/handle", self)
        if mode is False:
            self._exec("BEGIN")

    # Exceptions as attributes (Connection.Error, ...).
    Warning = Warning
    Error = Error
    InterfaceError = InterfaceError
    DatabaseError = DatabaseError
    DataError = DataError
    OperationalError = OperationalError
    IntegrityError = IntegrityError
    InternalError = InternalError
    ProgrammingError = ProgrammingError
    NotSupportedError = NotSupportedError

    def _exec(self, sql):
        try:
            self._db.execute_script(sql)
        except _WitError as e:
            _raise(e)
        finally:
            if self._trace is not None:
                self._flush_trace()

    def _flush_trace(self):
        """Runs the trace callback for the statements the last cap call ran."""
        callback, db = self._trace, self.__dict__.get('_db')
        if callback is None or db is None:
            return
        for sql, expanded in db.take_trace():
            if not expanded:
                _callback_failed(DataError("Expanded SQL string exceeds the maximum string length"), callback)
            try:
                callback(sql)
            except Exception as exc:
                _callback_failed(exc, callback)

    def _check(self):
        if not self.__dict__.get('_initialized'):
            raise ProgrammingError("Base Connection.__init__ not called.")
        if self._db is None:
            raise ProgrammingError("Cannot operate on a closed database.")

    def _check_thread(self):
        if getattr(self, '_check_same_thread', False) and _get_ident() != self._thread_ident:
            raise ProgrammingError(
                "SQLite objects created in a thread can only be used in that same thread. "
                f"The object was created in thread id {self._thread_ident} and this is thread id "
                f"{_get_ident()}.")

    def _usable(self):
        self._check_thread()
        self._check()

    def _close_db(self):
        db = self.__dict__.get('_db')
        if db is None:
            return
        try:
            if self._autocommit is False and not db.autocommit():
                self._exec("ROLLBACK")
        finally:
            self._db = None
            cache = self.__dict__.get('_statement_cache')
            if cache is not None:
                cache.cache_clear()
            for ref in self._blobs:
                b = ref()
                if b is not None:
                    b._close_handle()
            db.close()

    def __del__(self):
        if self.__dict__.get('_db') is not None:
            try:
                _warnings.warn(f"unclosed database in {self!r}", ResourceWarning, stacklevel=1, source=self)
            except Exception:
                pass
            try:
                self._close_db()
            except Exception:
                pass

    def close(self):
        """Close the database connection.

        Any pending transaction is not committed implicitly."""
        self._check_thread()
        if not getattr(self, '_initialized', False) and '_db' not in self.__dict__:
            raise ProgrammingError("Base Connection.__init__ not called.")
        self._close_db()

    def cursor(self, factory=_NO_ALT):
        """Return a cursor for the connection."""
        self._usable()
        if factory is _NO_ALT:
            factory = Cursor
        cursor = factory(self)
        if not issubclass(type(cursor), Cursor):
            raise TypeError(f"factory must return a cursor, not {type(cursor).__name__}")
        self._cursors = [r for r in self._cursors if r() is not None]
        if self.row_factory is not None:
            cursor.row_factory = self.row_factory
        return cursor

    def __call__(self, *args, **kwargs):
        self._usable()
        if kwargs:
            raise TypeError("sqlite3.Connection() takes no keyword arguments")
        if len(args) != 1:
            raise TypeError(f"function takes exactly 1 argument ({len(args)} given)")
        sql = args[0]
        if not isinstance(sql, str):
            raise TypeError(f"argument must be str, not {type(sql).__name__}")
        return _Statement._create(self, sql)

    def execute(self, sql, parameters=None, /):
        """Executes an SQL statement."""
        cursor = self.cursor()
        cursor._execute(False, sql, parameters)
        return cursor

    def executemany(self, sql, parameters, /):
        """Repeatedly executes an SQL statement."""
        cursor = self.cursor()
        cursor._execute(True, sql, parameters)
        return cursor

    def executescript(self, sql_script, /):
        """Executes multiple SQL statements at once."""
        cursor = self.cursor()
        cursor.executescript(sql_script)
        return cursor

    def commit(self):
        """Commit any pending transaction to the database.

        If there is no open transaction, this method is a no-op."""
        self._usable()
        if self._autocommit == _LEGACY and self._autocommit is not True and self._autocommit is not False:
            if not self._db.autocommit():
                self._exec("COMMIT")
        elif self._autocommit is False:
            self._exec("COMMIT")
            self._exec("BEGIN")

    def rollback(self):
        """Roll back to the start of any pending transaction.

        If there is no open transaction, this method is a no-op."""
        self._usable()
        if self._autocommit is not True and self._autocommit is not False:
            if not self._db.autocommit():
                self._exec("ROLLBACK")
        elif self._autocommit is False:
            self._exec("ROLLBACK")
            self._exec("BEGIN")

    def __enter__(self):
        self._check()
        return self

    def __exit__(self, exc_type, exc_value, exc_tb, /):
        if exc_type is None and exc_value is None and exc_tb is None:
            try:
                self.commit()
            except BaseException as exc:
                try:
                    self.rollback()
                except BaseException as exc2:
                    raise exc2 from exc
                raise
        else:
            self.rollback()
        return False

    @property
    def isolation_level(self):
        self._check()
        return self._isolation_level

    @isolation_level.setter
    def isolation_level(self, value):
        if value is None:
            self._isolation_level = None
            self.commit()
            return
        self._isolation_level = _isolation_level(value)

    @isolation_level.deleter
    def isolation_level(self):
        raise AttributeError("cannot delete attribute")

    @property
    def autocommit(self):
        self._usable()
        return self._autocommit

    @autocommit.setter
    def autocommit(self, value):
        self._usable()
        self._autocommit = _autocommit(value)
        if self._autocommit is True:
            if not self._db.autocommit():
                self._exec("COMMIT")
        elif self._autocommit is False:
            if self._db.autocommit():
                self._exec("BEGIN")

    @property
    def total_changes(self):
        self._check()
        return self._db.total_changes()

    @property
    def in_transaction(self):
        self._check()
        return not self._db.autocommit()

    def interrupt(self):
        """Abort any pending database operation."""
        self._check()
        self._db.interrupt()

    def iterdump(self, *, filter=None):
        """Returns iterator to the dump of the database in an SQL text format."""
        self._check()
        from sqlite3.dump import _iterdump
        return _iterdump(self, filter=filter)

    def backup(self, target, *, pages=-1, progress=None, name="main", sleep=0.250):
        """Makes a backup of the database."""
        self._usable()
        if not isinstance(target, Connection):
            raise TypeError(f"backup() argument 'target' must be sqlite3.Connection, not {type(target).__name__}")
        target._check()
        if target is self:
            raise ValueError("target cannot be the same connection instance")
        if progress is not None and not callable(progress):
            raise TypeError("progress argument must be a callable")
        pages = _index(pages)
        if not isinstance(name, str):
            raise TypeError(f"backup() argument 'name' must be str, not {type(name).__name__}")
        sleep = float(sleep)
        if pages == 0:
            pages = -1
        try:
            bk = _cap.Backup.create(target._db, "main", self._db, name)
        except _WitError as e:
            _raise(e)
        try:
            while True:
                status, remaining, pagecount = bk.step(pages)
                if progress is not None:
                    progress(status, remaining, pagecount)
                if status in (5, 6):
                    import time
                    time.sleep(sleep)
                if status not in (0, 5, 6):
                    break
            try:
                bk.finish()
            except _WitError as e:
                _raise(e)
        finally:
            bk.close()

    def blobopen(self, table, column, row, /, *, readonly=False, name="main"):
        """Open and return a BLOB object."""
        self._usable()
        for what, v in (('table', table), ('column', column), ('name', name)):
            if not isinstance(v, str):
                raise TypeError(f"blobopen() argument '{what}' must be str, not {type(v).__name__}")
        if not isinstance(row, int):
            raise TypeError("expected 'int'")
        if not _INT64_MIN <= row <= _INT64_MAX:
            raise OverflowError("Python int too large to convert to SQLite INTEGER")
        try:
            handle = self._db.blob_open(name, table, column, row, bool(readonly))
        except _WitError as e:
            code = e.value[0]
            if code == 21:
                raise InterfaceError(_cap.errstr(21)) from None
            _raise(e)
        blob = Blob._new(self, handle)
        self._blobs = [r for r in self._blobs if r() is not None]
        self._blobs.append(_weakref.ref(blob))
        return blob

    def serialize(self, *, name="main"):
        """Serialize a database into a byte string."""
        self._usable()
        try:
            return self._db.serialize(name)
        except _WitError:
            raise OperationalError(f"unable to serialize '{name}'") from None

    def deserialize(self, data, /, *, name="main"):
        """Load a serialized database."""
        self._usable()
        if isinstance(data, str):
            data = data.encode()
        try:
            self._db.deserialize(name, data)
        except _WitError as e:
            _raise(e)

    def setlimit(self, category, limit, /):
        """Set connection run-time limits."""
        self._usable()
        category = _index(category)
        old = self._db.limit(category, _index(limit))
        if old < 0:
            raise ProgrammingError("'category' is out of bounds")
        if category == 1:
            self._sql_limit = self._db.limit(1, -1)
        return old

    def getlimit(self, category, /):
        """Get connection run-time limits."""
        return self.setlimit(category, -1)

    def setconfig(self, op, enable=True, /):
        """Set a boolean connection configuration option."""
        self._usable()
        op = _index(op)
        if op not in _INT_CONFIGS:
            raise ValueError(f"unknown config 'op': {op}")
        try:
            return self._db.db_config(op, 1 if enable else 0)
        except _WitError as e:
            _raise(e)

    def getconfig(self, op, /):
        """Query a boolean connection configuration option."""
        self._usable()
        op = _index(op)
        if op not in _INT_CONFIGS:
            raise ValueError(f"unknown config 'op': {op}")
        try:
            return self._db.db_config(op, -1)
        except _WitError as e:
            _raise(e)

    # SQLite calling back into Python: not possible across the component boundary.

    def create_function(self, name, narg, func, *, deterministic=False):
        self._usable()
        raise _unsupported("create_function()")

    def create_aggregate(self, name, n_arg, aggregate_class):
        self._usable()
        raise _unsupported("create_aggregate()")

    def create_window_function(self, name, num_params, aggregate_class, /):
        self._usable()
        raise _unsupported("create_window_function()")

    def create_collation(self, name, callback, /):
        self._usable()
        raise _unsupported("create_collation()")

    def set_authorizer(self, authorizer_callback):
        self._usable()
        if authorizer_callback is None:
            return
        raise _unsupported("set_authorizer()")

    def set_progress_handler(self, progress_handler, n):
        self._usable()
        if progress_handler is None:
            return
        raise _unsupported("set_progress_handler()")

    def set_trace_callback(self, *args, **kwargs):
        """Set a trace callback called for each SQL statement (passed as unicode).

        In pylon the callback runs when the cap call that ran the statement returns."""
        if 'trace_callback' in kwargs:
            _warnings.warn(
                "Passing keyword argument 'trace_callback' to "
                "_sqlite3.Connection.set_trace_callback() is deprecated. Parameter "
                "'trace_callback' will become positional-only in Python 3.15.",
                DeprecationWarning, stacklevel=_user_stacklevel())
            args = args + (kwargs.pop('trace_callback'),)
        if kwargs or len(args) != 1:
            raise TypeError("set_trace_callback() takes exactly one argument")
        trace_callback, = args
        self._usable()
        if trace_callback is None:
            self._db.set_trace(False)
            self._trace = None
        else:
            self._flush_trace()
            self._trace = trace_callback
            self._db.set_trace(True)


Connection.__module__ = 'sqlite3'


class _CallSignature:
    """`inspect.signature(connection)` is "(sql, /)", as for the C type's __call__ (which
    checks the connection before its arguments, hence `*args` here)."""

    def __get__(self, obj, cls=None):
        return None if obj is None else "(sql, /)"


Connection.__signature__ = _CallSignature()


def _make_statement_cache(connection, size):
    ref = _weakref.ref(connection)

    def make(sql):
        return _Statement._create(ref(), sql)
    if size <= 0:
        size = 0
    from functools import lru_cache
    return lru_cache(maxsize=size)(make)


def _index(value):
    if isinstance(value, float):
        raise TypeError("'float' object cannot be interpreted as an integer")
    return value.__index__() if not isinstance(value, int) else value


def _connect_warn(nargs):
    _warnings.warn(
        "Passing more than 1 positional argument to sqlite3.connect() is deprecated. "
        "Parameters 'timeout', 'detect_types', 'isolation_level', 'check_same_thread', "
        "'factory', 'cached_statements' and 'uri' will become keyword-only parameters in "
        "Python 3.15.", DeprecationWarning, stacklevel=_user_stacklevel())


def connect(database, *args, **kwargs):
    """Open a connection to the SQLite database file 'database'.

    You can use ":memory:" to open a database connection to a database that
    resides in RAM instead of on disk."""
    if 1 <= len(args) <= 7:
        _connect_warn(len(args) + 1)
    factory = args[4] if len(args) > 4 else kwargs.get('factory', Connection)
    return factory(database, *args, **kwargs)


# ---- Cursor ---------------------------------------------------------------------------

_BATCH = 256
_MANY_CHUNK = 4096  # the most rows one `run_many` call takes


class Cursor:
    """SQLite database cursor class."""

    def __init__(self, connection, /):
        if not isinstance(connection, Connection):
            raise TypeError(f"Cursor() argument 1 must be sqlite3.Connection, not {type(connection).__name__}")
        if getattr(self, '_locked', False):
            raise ProgrammingError("Recursive use of cursors not allowed.")
        self._connection = connection
        self._statement = None
        self._rows = []
        self._pos = 0
        self._done = True
        self._raw_text = False
        self._cast = None
        self._description = None
        self._lastrowid = None
        self._rowcount = -1
        self.arraysize = 1
        self._closed = False
        self._locked = False
        self.row_factory = None
        connection._check_thread()
        connection._cursors.append(_weakref.ref(self))
        self._initialized = True

    connection = property(lambda self: self._connection)
    description = property(lambda self: self._description)
    lastrowid = property(lambda self: self._lastrowid)
    rowcount = property(lambda self: self._rowcount)

    def _check(self):
        if not getattr(self, '_initialized', False):
            raise ProgrammingError("Base Cursor.__init__ not called.")
        if self._closed:
            raise ProgrammingError("Cannot operate on a closed cursor.")
        self._connection._usable()
        if self._locked:
            raise ProgrammingError("Recursive use of cursors not allowed.")

    def _reset_statement(self):
        st = self._statement
        if st is not None:
            st.reset()
        self._statement = None
        self._rows = []
        self._pos = 0
        self._done = True

    def execute(self, sql, parameters=(), /):
        """Executes an SQL statement."""
        self._execute(False, sql, parameters)
        return self

    def executemany(self, sql, seq_of_parameters, /):
        """Repeatedly executes an SQL statement."""
        self._execute(True, sql, seq_of_parameters)
        return self

    def _execute(self, multiple, sql, second):
        if not isinstance(sql, str):
            raise TypeError(f"execute() argument 1 must be str, not {type(sql).__name__}")
        self._check()
        self._locked = True
        conn = self._connection
        try:
            if multiple:
                params_iter = iter(second)
            else:
                params_iter = None
                if second is None:
                    second = ()
            self._description = None
            self._reset_statement()
            st = conn._statement_cache(sql)
            if multiple and st.readonly:
                raise ProgrammingError("executemany() can only execute DML statements.")
            if st.busy:
                st = _Statement._create(conn, sql)
            self._statement = st
            self._rowcount = 0 if st.is_dml else -1
            begin = None
            if conn._autocommit is not True and conn._autocommit is not False \
                    and conn._isolation_level is not None and st.is_dml:
                begin = "BEGIN " + conn._isolation_level
            self._cast = self._build_cast_map(st)
            opts = self._fetch_options(st)
            if st.st is None:
                # Only comments or whitespace: nothing to run.
                params = self._bind(st, second) if not multiple else None
                if multiple:
                    for p in params_iter:
                        self._bind(st, p)
                self._done = True
            elif multiple:
                # Rows go to the cap in chunks: one call per chunk, bounded memory.
                rows = []
                for p in params_iter:
                    rows.append(p)
                    if len(rows) == _MANY_CHUNK:
                        self._run_many(st, rows, begin)
                        rows = []
                if rows:
                    self._run_many(st, rows, begin)
                self._set_description(st)
            else:
                values = self._bind(st, second)
                try:
                    page = st.st.run(values, begin, (1, opts[1], opts[2]))
                except _WitError as e:
                    _raise(e)
                except OverflowError:
                    raise OverflowError("Python int too large to convert to SQLite INTEGER") from None
                st.busy = not page.done
                self._take(page, opts[1])
                if page.columns is not None:
                    self._description = None
                self._set_description(st)
                if page.done and st.is_dml:
                    self._rowcount += page.changes
                self._lastrowid = page.last_insert_rowid
            if multiple:
                self._statement = None
            elif self._done:
                self._statement = None
        except BaseException:
            if self._statement is not None:
                self._statement.reset()
                self._statement = None
            self._rows = []
            self._done = True
            self._rowcount = -1
            raise
        finally:
            self._locked = False
            if conn._trace is not None:
                conn._flush_trace()
        return self

    def _run_many(self, st, rows, begin):
        """Runs `st` for a chunk of parameter rows in one cap call, as columns."""
        try:
            page = st.st.run_many(self._columns(st, rows), len(rows), begin)
        except _WitError as e:
            _raise(e)
        except OverflowError:
            raise OverflowError("Python int too large to convert to SQLite INTEGER") from None
        if st.is_dml:
            self._rowcount += page.changes
        if page.columns is not None:
            st.columns = page.columns

    def _columns(self, st, rows):
        """The `param-column`s of a chunk of rows: a column whose values all have one plain
        type (int, float, str, bytes, without adapters) crosses as a typed list."""
        n = len(st.names)
        if st.qmark and all((type(p) is tuple or type(p) is list) and len(p) == n for p in rows):
            columns = []
            for i, col in enumerate(zip(*rows)):
                types = set(map(type, col))
                case = _COLUMN_CASES.get(types.pop()) if len(types) == 1 else None
                if case is not None and case in _FAST_COLUMN_CASES():
                    columns.append((case, col))
                else:
                    try:
                        columns.append(('values', [(_FAST_CASES[type(v)], v) for v in col]))
                    except KeyError:
                        columns.append(('values', [_value(_adapted(v), i + 1) for v in col]))
            return columns
        bound = [self._bind(st, p) for p in rows]
        return [('values', [row[i] for row in bound]) for i in range(n)]

    def _take(self, page, as_bytes):
        self._rows = page.rows
        self._pos = 0
        self._done = page.done
        # The batch needs the slow conversion path: undecodable text, or text fetched as
        # bytes (a text_factory other than str when it was fetched).
        self._raw_text = page.undecodable or as_bytes
        columns = page.columns
        st = self._statement
        if columns is not None and st is not None:
            st.columns = columns
            self._cast = self._build_cast_map(st)

    def _undecodable_error(self, i, payload):
        """cursor.c's error for TEXT that is not UTF-8 (text_factory str)."""
        st = self._statement
        name = st.columns[i][0] if st is not None and i < len(st.columns) else '?'
        text = payload.split(b'\0', 1)[0]
        msg = f"Could not decode to UTF-8 column '{name}' with text '".encode() + text + b"'"
        return OperationalError(msg[:198].decode('ascii', 'replace'))

    def _set_description(self, st):
        if self._description is None and st.columns:
            self._description = tuple(
                (self._column_name(name), None, None, None, None, None, None) for name, _ in st.columns)

    def _column_name(self, name):
        if self._connection._detect_types & _PARSE_COLNAMES:
            i = name.find('[')
            if i >= 0:
                # Strip " [type]" (and the blank before it), as _pysqlite_build_column_name.
                return name[:i].rstrip(' ') if name[:i].endswith(' ') else name[:i]
        return name

    def _build_cast_map(self, st):
        detect = self._connection._detect_types
        if not detect:
            return None
        cast = []
        for name, decltype in st.columns:
            conv = None
            if detect & _PARSE_COLNAMES:
                start = name.find('[')
                if start >= 0:
                    end = name.find(']', start + 1)
                    if end >= 0:
                        conv = converters.get(name[start + 1:end].upper())
            if conv is None and detect & _PARSE_DECLTYPES and decltype:
                key = decltype
                for j, ch in enumerate(decltype):
                    if ch == ' ' or ch == '(':
                        key = decltype[:j]
                        break
                conv = converters.get(key.upper())
            cast.append(conv)
        return cast if any(c is not None for c in cast) else None

    def _fetch_options(self, st):
        tf = self._connection.text_factory
        bytes_cols = [i for i, c in enumerate(self._cast) if c is not None] if self._cast else []
        return (0, tf is not str, bytes_cols)

    def _bind(self, st, params):
        names = st.names
        n = len(names)
        if (type(params) is tuple or type(params) is list) and st.qmark and len(params) == n:
            # The common case: one dict lookup per value. Ints out of the 64-bit range make
            # the cap call fail with OverflowError, re-raised with CPython's message.
            try:
                return [(_FAST_CASES[type(v)], v) for v in params]
            except KeyError:
                pass
        if type(params) is tuple or type(params) is list or (
                not isinstance(params, dict) and hasattr(type(params), '__getitem__')
                and hasattr(type(params), '__len__')):
            if len(params) != n:
                raise ProgrammingError(
                    f"Incorrect number of bindings supplied. The current statement uses {n}, "
                    f"and there are {len(params)} supplied.")
            values = []
            for i in range(n):
                name = names[i]
                if name is not None and name[0] != '?':
                    _warnings.warn(
                        f"Binding {i + 1} ('{name}') is a named parameter, but you supplied a "
                        "sequence which requires nameless (qmark) placeholders. Starting with "
                        "Python 3.14 an sqlite3.ProgrammingError will be raised.",
                        DeprecationWarning, stacklevel=_user_stacklevel())
                values.append(_value(_adapted(params[i]), i + 1))
            return values
        if isinstance(params, dict):
            values = []
            for i in range(n):
                name = names[i]
                if name is None:
                    raise ProgrammingError(
                        f"Binding {i + 1} has no name, but you supplied a dictionary (which has only names).")
                key = name[1:]
                try:
                    v = params[key]
                except LookupError:
                    raise ProgrammingError(
                        f"You did not supply a value for binding parameter :{key}.") from None
                values.append(_value(_adapted(v), i + 1))
            return values
        raise ProgrammingError("parameters are of unsupported type")

    def executescript(self, sql_script, /):
        """Executes multiple SQL statements at once."""
        if not isinstance(sql_script, str):
            raise TypeError(f"executescript() argument must be str, not {type(sql_script).__name__}")
        if '\0' in sql_script:
            raise ValueError("embedded null character")
        self._check()
        conn = self._connection
        db = conn._db
        _check_sql_length(conn, sql_script)
        if conn._autocommit is not True and conn._autocommit is not False and not db.autocommit():
            conn._exec("COMMIT")
        conn._exec(sql_script)
        return self

    def _next_row(self):
        """The next raw row (a tuple of converted values) or None."""
        if self._pos >= len(self._rows):
            st = self._statement
            if self._done or st is None:
                return None
            opts = self._fetch_options(st)
            try:
                page = st.st.fetch((_BATCH, opts[1], opts[2]))
            except _WitError as e:
                st.busy = False
                self._statement = None
                self._rows = []
                self._done = True
                _raise(e)
            self._take(page, opts[1])
            if page.done:
                st.busy = False
                if st.is_dml:
                    self._rowcount = page.changes
            if not self._rows:
                self._statement = None
                return None
        raw = self._rows[self._pos]
        self._pos += 1
        st = self._statement
        if self._pos >= len(self._rows) and not self._done and st is not None and st.is_dml:
            # CPython steps after handing out a row: the end of an UPDATE ... RETURNING is
            # seen (and rowcount set) with its last row.
            opts = self._fetch_options(st)
            try:
                page = st.st.fetch((1, opts[1], opts[2]))
            except _WitError as e:
                st.busy = False
                self._statement = None
                self._rows = []
                self._done = True
                _raise(e)
            self._take(page, opts[1])
            self._pos = 0
            if page.done:
                st.busy = False
                self._rowcount = page.changes
        if self._pos >= len(self._rows) and self._done:
            st = self._statement
            if st is not None:
                st.busy = False
            self._statement = None
        return self._convert(raw)

    def _convert(self, raw):
        cast = self._cast
        tf = self._connection.text_factory
        if cast is None and tf is str and not self._raw_text:
            return tuple([v[1] for v in raw])
        out = []
        for i, (case, payload) in enumerate(raw):
            conv = cast[i] if cast is not None and i < len(cast) else None
            if conv is not None:
                out.append(None if payload is None else conv(payload))
            elif case == 'text_bytes' or (case == 'text' and tf is not str):
                if case == 'text':
                    payload = payload.encode('utf-8', 'surrogatepass')
                if tf is bytes:
                    out.append(payload)
                elif tf is bytearray:
                    out.append(bytearray(payload))
                elif tf is str:
                    try:
                        out.append(payload.decode('utf-8'))
                    except UnicodeDecodeError:
                        raise self._undecodable_error(i, payload) from None
                else:
                    out.append(tf(payload))
            else:
                out.append(payload)
        return tuple(out)

    def __iter__(self):
        return self

    def __next__(self):
        self._check()
        self._locked = True
        try:
            row = self._next_row()
        finally:
            self._locked = False
            conn = self._connection
            if conn._trace is not None:
                conn._flush_trace()
        if row is None:
            raise StopIteration
        if self.row_factory is not None:
            row = self.row_factory(self, row)
        return row

    def fetchone(self):
        """Fetches one row from the resultset."""
        try:
            return self.__next__()
        except StopIteration:
            return None

    def fetchmany(self, size=None):
        """Fetches several rows from the resultset."""
        if size is None:
            size = self.arraysize
        size = _index(size)
        rows = []
        for row in self:
            rows.append(row)
            if len(rows) == size:
                break
        return rows

    def fetchall(self):
        """Fetches all rows from the resultset."""
        return list(self)

    def setinputsizes(self, sizes, /):
        """Required by DB-API. Does nothing in sqlite3."""

    def setoutputsize(self, size, column=None, /):
        """Required by DB-API. Does nothing in sqlite3."""

    def close(self):
        """Closes the cursor."""
        if getattr(self, '_locked', False):
            raise ProgrammingError("Recursive use of cursors not allowed.")
        if not hasattr(self, '_connection'):
            raise ProgrammingError("Base Cursor.__init__ not called.")
        self._connection._usable()
        self._reset_statement()
        self._closed = True

    def __del__(self):
        st = self.__dict__.get('_statement')
        if st is not None:
            try:
                st.reset()
            except Exception:
                pass


Cursor.__module__ = 'sqlite3'


def _user_stacklevel():
    """The stack level of the first frame outside this module (for warnings)."""
    frame = _sys._getframe(1)
    level = 1
    while frame is not None and frame.f_globals.get('__name__') == __name__:
        frame = frame.f_back
        level += 1
    return level


# ---- Row ------------------------------------------------------------------------------


class Row:
    """A row with access by column name (case-insensitive) and by index."""

    __slots__ = ('_data', '_description')

    def __new__(cls, cursor, data, /):
        if not issubclass(type(cursor), Cursor):
            raise TypeError(f"Row() argument 1 must be sqlite3.Cursor, not {type(cursor).__name__}")
        if not isinstance(data, tuple):
            raise TypeError(f"Row() argument 2 must be tuple, not {type(data).__name__}")
        self = object.__new__(cls)
        self._data = data
        self._description = cursor.description
        return self

    def __getitem__(self, key):
        if isinstance(key, int):
            return self._data[key]
        if isinstance(key, str):
            desc = self._description
            if desc is None:
                raise IndexError(f"No item with key {key!r}")
            for i, d in enumerate(desc):
                name = d[0]
                if name == key or (key.isascii() and isinstance(name, str) and name.isascii()
                                   and name.lower() == key.lower()):
                    return self._data[i]
            raise IndexError("No item with that key")
        if isinstance(key, slice):
            return self._data[key]
        raise IndexError("Index must be int or string")

    def __len__(self):
        return len(self._data)

    def __iter__(self):
        return iter(self._data)

    def keys(self):
        """Returns the keys of the row."""
        if self._description is None:
            return []
        return [d[0] for d in self._description]

    def __hash__(self):
        return hash(self._description) ^ hash(self._data)

    def __eq__(self, other):
        if isinstance(other, Row):
            if self._description == other._description:
                return self._data == other._data
            return False
        return NotImplemented

    def __ne__(self, other):
        if isinstance(other, Row):
            if self._description == other._description:
                return self._data != other._data
            return True
        return NotImplemented


Row.__module__ = 'sqlite3'


# ---- Blob -----------------------------------------------------------------------------


class Blob:
    """An open BLOB (Connection.blobopen)."""

    def __init__(self, *args, **kwargs):
        raise TypeError("cannot create 'sqlite3.Blob' instances")

    @classmethod
    def _new(cls, connection, handle):
        self = object.__new__(cls)
        self._connection = connection
        self._handle = handle
        self._offset = 0
        return self

    def _close_handle(self):
        h = self.__dict__.get('_handle')
        if h is not None:
            self._handle = None
            h.close()

    def _blob(self):
        self._connection._check()
        self._connection._check_thread()
        if self._handle is None:
            raise ProgrammingError("Cannot operate on a closed blob.")
        return self._handle

    def _error(self, e):
        _raise(e)

    def close(self):
        """Close the blob."""
        self._connection._check()
        self._connection._check_thread()
        self._close_handle()

    def __len__(self):
        return self._blob().length()

    def read(self, length=-1, /):
        """Read data at the current offset position."""
        h = self._blob()
        length = _index(length)
        n = h.length()
        max_len = n - self._offset
        if length < 0 or length > max_len:
            length = max_len
        if length == 0:
            return b''
        try:
            data = h.read(self._offset, length)
        except _WitError as e:
            self._error(e)
        self._offset += length
        return data

    def write(self, data, /):
        """Write data at the current offset."""
        h = self._blob()
        data = bytes(memoryview(data))
        if len(data) > h.length() - self._offset:
            raise ValueError("data longer than blob length")
        try:
            h.write(self._offset, data)
        except _WitError as e:
            self._error(e)
        self._offset += len(data)

    def seek(self, offset, origin=0, /):
        """Set the current access position to offset."""
        h = self._blob()
        offset = _index(offset)
        origin = _index(origin)
        if not -(1 << 31) <= offset < (1 << 31):
            raise OverflowError("Python int too large to convert to C int")
        n = h.length()
        if origin == 0:
            pass
        elif origin == 1:
            if offset > (1 << 31) - 1 - self._offset:
                raise OverflowError("seek offset results in overflow")
            offset += self._offset
        elif origin == 2:
            if offset > (1 << 31) - 1 - n:
                raise OverflowError("seek offset results in overflow")
            offset += n
        else:
            raise ValueError("'origin' should be os.SEEK_SET, os.SEEK_CUR, or os.SEEK_END")
        if offset < 0 or offset > n:
            raise ValueError("offset out of blob range")
        self._offset = offset

    def tell(self):
        """Return the current access position for the blob."""
        self._blob()
        return self._offset

    def __enter__(self):
        self._blob()
        return self

    def __exit__(self, *args):
        self._blob()
        self.close()
        return False

    __iter__ = None

    def _all(self, h):
        n = h.length()
        if n == 0:
            return b''
        try:
            return h.read(0, n)
        except _WitError as e:
            self._error(e)

    def __getitem__(self, key):
        h = self._blob()
        n = h.length()
        if hasattr(key, '__index__'):
            i = _blob_index(key)
            if i < 0:
                i += n
            if i < 0 or i >= n:
                raise IndexError("Blob index out of range")
            try:
                return h.read(i, 1)[0]
            except _WitError as e:
                self._error(e)
        if isinstance(key, slice):
            start, stop, step = key.indices(n)
            if step == 1:
                if stop <= start:
                    return b''
                try:
                    return h.read(start, stop - start)
                except _WitError as e:
                    self._error(e)
            return self._all(h)[key]
        raise TypeError("Blob indices must be integers")

    def __setitem__(self, key, value):
        h = self._blob()
        n = h.length()
        if hasattr(key, '__index__'):
            i = _blob_index(key)
            if i < 0:
                i += n
            if i < 0 or i >= n:
                raise IndexError("Blob index out of range")
            if not isinstance(value, int):
                raise TypeError(f"'{type(value).__name__}' object cannot be interpreted as an integer")
            if not 0 <= value < 256:
                raise ValueError("byte must be in range(0, 256)")
            try:
                h.write(i, bytes([value]))
            except _WitError as e:
                self._error(e)
            return
        if isinstance(key, slice):
            start, stop, step = key.indices(n)
            view = memoryview(value)
            if not view.c_contiguous:
                raise BufferError("memoryview: underlying buffer is not C-contiguous")
            data = bytes(view)
            length = len(range(start, stop, step))
            if len(data) != length:
                raise IndexError("Blob slice assignment is wrong size")
            if length == 0:
                return
            try:
                if step == 1:
                    h.write(start, data)
                else:
                    whole = bytearray(self._all(h))
                    whole[start:stop:step] = data
                    h.write(0, bytes(whole))
            except _WitError as e:
                self._error(e)
            return
        raise TypeError("Blob indices must be integers")

    def __delitem__(self, key):
        if isinstance(key, slice):
            raise TypeError("Blob doesn't support slice deletion")
        raise TypeError("Blob doesn't support item deletion")


Blob.__module__ = 'sqlite3'


def _blob_index(key):
    i = key.__index__()
    if not -(1 << 63) <= i < (1 << 63):
        raise IndexError(f"cannot fit '{type(key).__name__}' into an index-sized integer")
    return i

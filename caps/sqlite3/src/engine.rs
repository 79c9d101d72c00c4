//! SQLite's C API behind a small safe layer. A [`Connection`] shares its handle with its
//! statements, blobs and backups through an `Rc<Db>`. Closing the connection
//! (`sqlite3_close_v2`) leaves them valid: statements keep working on the closed ("zombie")
//! connection until they are finalized, as CPython's re-initialised connections rely on;
//! blobs and backups fail with `SQLITE_MISUSE`.

use core::ffi::{c_char, c_int, c_void};
use std::cell::{Cell, RefCell};
use std::ffi::{CStr, CString};
use std::ptr;
use std::rc::{Rc, Weak};

use libsqlite3_sys as ffi;

unsafe extern "C" {
    // In SQLite's API since 3.7.14, but not in the crate's bundled bindings.
    fn sqlite3_close_v2(db: *mut ffi::sqlite3) -> c_int;
}

/// A value as SQLite stores it.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    /// TEXT as bytes: asked for, or not valid UTF-8.
    TextBytes(Vec<u8>),
    Blob(Vec<u8>),
}

/// One parameter's values for a batch of rows ([`Statement::run_many`]).
#[derive(Clone, Debug, PartialEq)]
pub enum ParamColumn {
    Integers(Vec<i64>),
    Reals(Vec<f64>),
    Texts(Vec<String>),
    Blobs(Vec<Vec<u8>>),
    Values(Vec<Value>),
}

impl Value {
    /// Roughly what the value weighs in a page, for [`PAGE_BYTES`].
    fn size(&self) -> usize {
        16 + match self {
            Value::Text(s) => s.len(),
            Value::TextBytes(b) | Value::Blob(b) => b.len(),
            _ => 0,
        }
    }
}

impl ParamColumn {
    fn len(&self) -> usize {
        match self {
            ParamColumn::Integers(v) => v.len(),
            ParamColumn::Reals(v) => v.len(),
            ParamColumn::Texts(v) => v.len(),
            ParamColumn::Blobs(v) => v.len(),
            ParamColumn::Values(v) => v.len(),
        }
    }
}

/// A failure: primary and extended result codes and the message.
#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    pub code: i32,
    pub extended_code: i32,
    pub message: String,
}

impl Error {
    /// An error with SQLite's standard text for `code`.
    pub fn from_code(code: c_int) -> Error {
        Error { code: code & 0xff, extended_code: code, message: errstr(code) }
    }

    fn misuse(message: &str) -> Error {
        Error { code: ffi::SQLITE_MISUSE, extended_code: ffi::SQLITE_MISUSE, message: message.to_owned() }
    }
}

pub type Result<T> = core::result::Result<T, Error>;

/// The `sqlite3_db_config` ops `Connection::db_config` accepts: the boolean options, whose
/// variadic arguments are `(int onoff, int *result)`. The others take pointers or other
/// shapes (`MAINDBNAME` a `const char*`, `LOOKASIDE` a buffer and two ints) or an integer
/// that is not a boolean (`FP_DIGITS`): passing them `(int, int*)` would hand SQLite an
/// integer as a pointer.
pub const BOOLEAN_DBCONFIG_OPS: [c_int; 21] = [
    ffi::SQLITE_DBCONFIG_ENABLE_FKEY,
    ffi::SQLITE_DBCONFIG_ENABLE_TRIGGER,
    ffi::SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER,
    ffi::SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION,
    ffi::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
    ffi::SQLITE_DBCONFIG_ENABLE_QPSG,
    ffi::SQLITE_DBCONFIG_TRIGGER_EQP,
    ffi::SQLITE_DBCONFIG_RESET_DATABASE,
    ffi::SQLITE_DBCONFIG_DEFENSIVE,
    ffi::SQLITE_DBCONFIG_WRITABLE_SCHEMA,
    ffi::SQLITE_DBCONFIG_LEGACY_ALTER_TABLE,
    ffi::SQLITE_DBCONFIG_DQS_DML,
    ffi::SQLITE_DBCONFIG_DQS_DDL,
    ffi::SQLITE_DBCONFIG_ENABLE_VIEW,
    ffi::SQLITE_DBCONFIG_LEGACY_FILE_FORMAT,
    ffi::SQLITE_DBCONFIG_TRUSTED_SCHEMA,
    ffi::SQLITE_DBCONFIG_STMT_SCANSTATUS,
    ffi::SQLITE_DBCONFIG_REVERSE_SCANORDER,
    ffi::SQLITE_DBCONFIG_ENABLE_ATTACH_CREATE,
    ffi::SQLITE_DBCONFIG_ENABLE_ATTACH_WRITE,
    ffi::SQLITE_DBCONFIG_ENABLE_COMMENTS,
];

/// Most rows one `Statement::run_many` call runs (the facade sends chunks of this many): a
/// call's work is bounded by it times one run of the statement, whatever the count asks.
pub const MAX_RUN_MANY_ROWS: usize = 4096;

/// The longest a connection waits for a lock (`busy_timeout` takes no more). In one pylon
/// instance the holder of a lock is another connection of the same single thread, which
/// cannot release it while this one sleeps (only `unix-dotfile` locks are shared with other
/// processes): a long timeout would only hang the call, e.g. for the 24 days of 2**31-1 ms.
pub const MAX_BUSY_TIMEOUT_MS: i32 = 10_000;

/// A page ends after the row that takes its values past this many bytes, whatever
/// `max_rows` says (`done` stays false; `fetch` goes on): a query that never ends, or huge
/// values, must not exhaust the instance's memory in one call.
pub const PAGE_BYTES: usize = 64 << 20;

/// `bytes` copied, or SQLITE_NOMEM when the instance's memory cannot hold them (an
/// allocation failure would abort the component).
fn copy_bytes(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut v = Vec::new();
    v.try_reserve_exact(bytes.len()).map_err(|_| Error::from_code(ffi::SQLITE_NOMEM))?;
    v.extend_from_slice(bytes);
    Ok(v)
}

fn misuse_owned(message: String) -> Error {
    Error { code: ffi::SQLITE_MISUSE, extended_code: ffi::SQLITE_MISUSE, message }
}

/// The connection's current error, as `_pysqlite_seterror` reads it.
fn db_error(db: *mut ffi::sqlite3) -> Error {
    unsafe {
        let code = ffi::sqlite3_errcode(db);
        let extended = ffi::sqlite3_extended_errcode(db);
        let msg = ffi::sqlite3_errmsg(db);
        let message = if msg.is_null() { errstr(code) } else { CStr::from_ptr(msg).to_string_lossy().into_owned() };
        Error { code: code & 0xff, extended_code: extended, message }
    }
}

pub fn errstr(code: c_int) -> String {
    unsafe {
        let s = ffi::sqlite3_errstr(code);
        if s.is_null() { String::from("unknown error") } else { CStr::from_ptr(s).to_string_lossy().into_owned() }
    }
}

pub fn version() -> String {
    unsafe { CStr::from_ptr(ffi::sqlite3_libversion()).to_string_lossy().into_owned() }
}

pub fn version_number() -> i32 {
    unsafe { ffi::sqlite3_libversion_number() }
}

pub fn threadsafe() -> i32 {
    unsafe { ffi::sqlite3_threadsafe() }
}

pub fn complete(sql: &str) -> bool {
    match CString::new(sql) {
        Ok(c) => unsafe { ffi::sqlite3_complete(c.as_ptr()) != 0 },
        Err(_) => false,
    }
}

fn cstring(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::misuse("embedded null character"))
}

/// The handle shared by a connection and everything opened on it.
struct Db {
    raw: Cell<*mut ffi::sqlite3>,
    /// Statements recorded by the trace hook, while tracing is on.
    trace: RefCell<Vec<Traced>>,
    /// The unfinished backups that write into this database. SQLite keeps a closed
    /// connection alive (a zombie) for the backups it is the *source* of, not for those it
    /// is the destination of: closing it frees it under them. So `close` finishes them first.
    backups_into: BackupList,
    /// The unfinished backups that read from it (see [`authorize`]).
    backups_from: BackupList,
}

type BackupList = RefCell<Vec<Weak<Cell<*mut ffi::sqlite3_backup>>>>;

/// Whether any backup of `list` is unfinished.
fn unfinished(list: &BackupList) -> bool {
    list.borrow().iter().any(|b| b.upgrade().is_some_and(|raw| !raw.get().is_null()))
}

/// Adds `raw` to `list`, dropping the entries of backups that are gone.
fn enlist(list: &BackupList, raw: &Rc<Cell<*mut ffi::sqlite3_backup>>) {
    let mut list = list.borrow_mut();
    list.retain(|b| b.strong_count() > 0);
    list.push(Rc::downgrade(raw));
}

/// The connection's authorizer (`sqlite3_set_authorizer`; the cap's own: Python's cannot be
/// called from here). It refuses one thing: changing `temp_store` while a backup reads from
/// the connection, because SQLite then closes the TEMP database under the backup, which
/// goes on reading freed memory. Everything else is allowed.
unsafe extern "C" fn authorize(
    ctx: *mut c_void,
    action: c_int,
    name: *const c_char,
    value: *const c_char,
    _schema: *const c_char,
    _trigger: *const c_char,
) -> c_int {
    if action != ffi::SQLITE_PRAGMA || ctx.is_null() || name.is_null() || value.is_null() {
        return ffi::SQLITE_OK;
    }
    let pragma = unsafe { CStr::from_ptr(name) }.to_bytes();
    let db = unsafe { &*(ctx as *const Db) };
    let temp_store = pragma.eq_ignore_ascii_case(b"temp_store") || pragma.eq_ignore_ascii_case(b"temp_store_directory");
    if temp_store && unfinished(&db.backups_from) { ffi::SQLITE_DENY } else { ffi::SQLITE_OK }
}

/// A statement SQLite ran while tracing was on.
#[derive(Clone, Debug, PartialEq)]
pub struct Traced {
    pub sql: String,
    pub expanded: bool,
}

/// The `sqlite3_trace_v2` hook: records the statement in the `Db` that `ctx` points to (an
/// `Rc` allocation that outlives the connection's statements, which hold it).
unsafe extern "C" fn trace_hook(kind: core::ffi::c_uint, ctx: *mut c_void, stmt: *mut c_void, sql: *mut c_void) -> c_int {
    if kind != ffi::SQLITE_TRACE_STMT || ctx.is_null() {
        return 0;
    }
    let db = unsafe { &*(ctx as *const Db) };
    let expanded = unsafe { ffi::sqlite3_expanded_sql(stmt.cast()) };
    let traced = if expanded.is_null() {
        let text = if sql.is_null() { String::new() } else { unsafe { CStr::from_ptr(sql.cast()) }.to_string_lossy().into_owned() };
        Traced { sql: text, expanded: false }
    } else {
        let text = unsafe { CStr::from_ptr(expanded) }.to_string_lossy().into_owned();
        unsafe { ffi::sqlite3_free(expanded.cast()) };
        Traced { sql: text, expanded: true }
    };
    if let Ok(mut trace) = db.trace.try_borrow_mut() {
        trace.push(traced);
    }
    0
}

impl Db {
    /// The connection to work on: open, and not the destination of an unfinished backup.
    fn get(&self) -> Result<*mut ffi::sqlite3> {
        let db = self.open()?;
        self.not_in_backup()?;
        Ok(db)
    }

    /// The connection, unless closed (for the backup itself and for plain counters).
    fn open(&self) -> Result<*mut ffi::sqlite3> {
        let db = self.raw.get();
        if db.is_null() { Err(Error::misuse("Cannot operate on a closed database.")) } else { Ok(db) }
    }

    /// SQLite does not support using a backup's destination until the backup is finished
    /// (a write or a deserialize there while it runs crashes `sqlite3_backup_step`), so
    /// the connection, its statements and its blobs refuse to run meanwhile.
    fn not_in_backup(&self) -> Result<()> {
        if unfinished(&self.backups_into) {
            return Err(Error {
                code: ffi::SQLITE_BUSY,
                extended_code: ffi::SQLITE_BUSY,
                message: "the connection is the destination of an unfinished backup (finish or close the backup first)".into(),
            });
        }
        Ok(())
    }

    fn new(raw: *mut ffi::sqlite3) -> Db {
        Db { raw: Cell::new(raw), trace: RefCell::new(Vec::new()), backups_into: RefCell::default(), backups_from: RefCell::default() }
    }

    fn close(&self) {
        let db = self.raw.replace(ptr::null_mut());
        for backup in self.backups_into.take() {
            if let Some(raw) = backup.upgrade().map(|cell| cell.replace(ptr::null_mut())).filter(|raw| !raw.is_null()) {
                unsafe { ffi::sqlite3_backup_finish(raw) };
            }
        }
        if !db.is_null() {
            // v2: with statements, blobs or backups still alive the connection lingers
            // until the last of them is finalized (by its drop).
            unsafe { sqlite3_close_v2(db) };
        }
    }
}

/// A database connection; closed when dropped.
pub struct Connection {
    db: Rc<Db>,
}

/// How a batch of rows is converted.
#[derive(Clone, Debug, Default)]
pub struct FetchOptions {
    /// 0: no limit.
    pub max_rows: u32,
    pub text_as_bytes: bool,
    /// Columns whose non-NULL values come as the bytes of `sqlite3_column_blob`.
    pub bytes_columns: Vec<u32>,
}

/// A batch of rows and the counters after it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Page {
    pub rows: Vec<Vec<Value>>,
    pub done: bool,
    pub changes: i64,
    pub last_insert_rowid: i64,
    /// Some TEXT was not valid UTF-8 and came as `TextBytes` unasked.
    pub undecodable: bool,
    /// The result columns, when the statement was re-prepared since last reported.
    pub columns: Option<Vec<Column>>,
}

/// A column of a statement's result.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub name: String,
    pub decltype: Option<String>,
}

static INIT: std::sync::Once = std::sync::Once::new();

fn initialize() {
    INIT.call_once(|| unsafe {
        // libsqlite3-sys compiles with SQLITE_USE_URI=1; CPython (and a stock SQLite) take
        // file names literally unless `uri=True` asks for SQLITE_OPEN_URI.
        ffi::sqlite3_config(ffi::SQLITE_CONFIG_URI, 0 as c_int);
        ffi::sqlite3_initialize();
        #[cfg(target_os = "wasi")]
        crate::wasi_vfs::install();
    });
}

impl Connection {
    pub fn open(path: &str, flags: i32, vfs: Option<&str>) -> Result<Connection> {
        initialize();
        let path = cstring(path)?;
        let vfs = vfs.map(cstring).transpose()?;
        let mut db = ptr::null_mut();
        let rc = unsafe {
            ffi::sqlite3_open_v2(path.as_ptr(), &mut db, flags, vfs.as_ref().map_or(ptr::null(), |v| v.as_ptr()))
        };
        if rc != ffi::SQLITE_OK {
            let err = if db.is_null() { Error::from_code(rc) } else { db_error(db) };
            unsafe { sqlite3_close_v2(db) };
            return Err(err);
        }
        let conn = Connection { db: Rc::new(Db::new(db)) };
        // The Db outlives the sqlite3 connection: statements (which may be re-prepared)
        // keep both alive, a zombie connection included.
        unsafe { ffi::sqlite3_set_authorizer(db, Some(authorize), Rc::as_ptr(&conn.db) as *mut c_void) };
        // libsqlite3-sys compiles with SQLITE_DEFAULT_FOREIGN_KEYS=1; back to SQLite's default
        // (PRAGMA foreign_keys still turns it on).
        conn.db_config(ffi::SQLITE_DBCONFIG_ENABLE_FKEY, 0)?;
        // Temporary tables and indices in memory: the sandbox may have no writable
        // temporary directory at all (PRAGMA temp_store can still change it).
        conn.execute_script("PRAGMA temp_store = MEMORY")?;
        Ok(conn)
    }

    pub fn prepare(&self, sql: &str) -> Result<(Option<Statement>, bool)> {
        let db = self.db.get()?;
        let mut stmt = ptr::null_mut();
        let mut tail: *const c_char = ptr::null();
        let len = c_int::try_from(sql.len()).map_err(|_| Error::from_code(ffi::SQLITE_TOOBIG))?;
        let rc = unsafe { ffi::sqlite3_prepare_v2(db, sql.as_ptr().cast(), len, &mut stmt, &mut tail) };
        if rc != ffi::SQLITE_OK {
            return Err(db_error(db));
        }
        let used = if tail.is_null() { sql.len() } else { (tail as usize) - (sql.as_ptr() as usize) };
        let has_tail = lstrip_sql(&sql.as_bytes()[used.min(sql.len())..]).is_some();
        let stmt = (!stmt.is_null()).then(|| Statement { db: self.db.clone(), raw: stmt, reprepared: Cell::new(0) });
        Ok((stmt, has_tail))
    }

    pub fn execute_script(&self, sql: &str) -> Result<()> {
        let db = self.db.get()?;
        let sql = cstring(sql)?;
        let rc = unsafe { ffi::sqlite3_exec(db, sql.as_ptr(), None, ptr::null_mut(), ptr::null_mut()) };
        if rc != ffi::SQLITE_OK { Err(db_error(db)) } else { Ok(()) }
    }

    /// Counters and flags, also readable while a backup writes into the connection.
    fn with_db<T>(&self, f: impl FnOnce(*mut ffi::sqlite3) -> T, closed: T) -> T {
        match self.db.open() {
            Ok(db) => f(db),
            Err(_) => closed,
        }
    }

    pub fn changes(&self) -> i64 {
        self.with_db(|db| unsafe { ffi::sqlite3_changes64(db) }, 0)
    }

    pub fn total_changes(&self) -> i64 {
        self.with_db(|db| unsafe { ffi::sqlite3_total_changes64(db) }, 0)
    }

    pub fn last_insert_rowid(&self) -> i64 {
        self.with_db(|db| unsafe { ffi::sqlite3_last_insert_rowid(db) }, 0)
    }

    pub fn autocommit(&self) -> bool {
        self.with_db(|db| unsafe { ffi::sqlite3_get_autocommit(db) != 0 }, true)
    }

    /// At most [`MAX_BUSY_TIMEOUT_MS`].
    pub fn busy_timeout(&self, ms: i32) -> Result<()> {
        let db = self.db.get()?;
        let rc = unsafe { ffi::sqlite3_busy_timeout(db, ms.min(MAX_BUSY_TIMEOUT_MS)) };
        if rc != ffi::SQLITE_OK { Err(db_error(db)) } else { Ok(()) }
    }

    pub fn interrupt(&self) {
        self.with_db(|db| unsafe { ffi::sqlite3_interrupt(db) }, ());
    }

    pub fn limit(&self, category: i32, value: i32) -> i32 {
        self.with_db(|db| unsafe { ffi::sqlite3_limit(db, category, value) }, -1)
    }

    /// A boolean option ([`BOOLEAN_DBCONFIG_OPS`]); any other op is refused, by name.
    pub fn db_config(&self, op: i32, value: i32) -> Result<bool> {
        if !BOOLEAN_DBCONFIG_OPS.contains(&op) {
            let what = match op {
                ffi::SQLITE_DBCONFIG_MAINDBNAME => " (SQLITE_DBCONFIG_MAINDBNAME takes a string)".to_owned(),
                ffi::SQLITE_DBCONFIG_LOOKASIDE => " (SQLITE_DBCONFIG_LOOKASIDE takes a buffer)".to_owned(),
                ffi::SQLITE_DBCONFIG_FP_DIGITS => " (SQLITE_DBCONFIG_FP_DIGITS is not a boolean option)".to_owned(),
                _ => String::new(),
            };
            return Err(misuse_owned(format!(
                "db_config: unsupported op {op}{what}; only the boolean options {}..={} are accepted",
                ffi::SQLITE_DBCONFIG_ENABLE_FKEY,
                ffi::SQLITE_DBCONFIG_ENABLE_COMMENTS
            )));
        }
        let db = self.db.get()?;
        let mut out: c_int = 0;
        let rc = unsafe { ffi::sqlite3_db_config(db, op, value, &mut out as *mut c_int) };
        if rc != ffi::SQLITE_OK { Err(db_error(db)) } else { Ok(out != 0) }
    }

    pub fn serialize(&self, name: &str) -> Result<Vec<u8>> {
        let db = self.db.get()?;
        let name = cstring(name)?;
        let mut size: ffi::sqlite3_int64 = 0;
        let data = unsafe { ffi::sqlite3_serialize(db, name.as_ptr(), &mut size, 0) };
        if data.is_null() {
            return Err(Error {
                code: ffi::SQLITE_ERROR,
                extended_code: ffi::SQLITE_ERROR,
                message: format!("unable to serialize '{}'", name.to_string_lossy()),
            });
        }
        let bytes = copy_bytes(unsafe { std::slice::from_raw_parts(data, usize::try_from(size).unwrap_or(0)) });
        unsafe { ffi::sqlite3_free(data.cast()) };
        bytes
    }

    pub fn deserialize(&self, name: &str, data: &[u8]) -> Result<()> {
        let db = self.db.get()?;
        let name = cstring(name)?;
        let size = data.len() as ffi::sqlite3_int64;
        let buf = unsafe { ffi::sqlite3_malloc64(data.len().max(1) as u64) } as *mut u8;
        if buf.is_null() {
            return Err(Error::from_code(ffi::SQLITE_NOMEM));
        }
        unsafe { ptr::copy_nonoverlapping(data.as_ptr(), buf, data.len()) };
        let flags = ffi::SQLITE_DESERIALIZE_FREEONCLOSE | ffi::SQLITE_DESERIALIZE_RESIZEABLE;
        let rc = unsafe { ffi::sqlite3_deserialize(db, name.as_ptr(), buf, size, size, flags) };
        if rc != ffi::SQLITE_OK { Err(db_error(db)) } else { Ok(()) }
    }

    /// Starts or stops recording the statements SQLite runs (see [`Connection::take_trace`]).
    pub fn set_trace(&self, enabled: bool) {
        let Ok(db) = self.db.get() else { return };
        let ctx = Rc::as_ptr(&self.db) as *mut c_void;
        unsafe {
            if enabled {
                ffi::sqlite3_trace_v2(db, ffi::SQLITE_TRACE_STMT, Some(trace_hook), ctx);
            } else {
                ffi::sqlite3_trace_v2(db, 0, None, ptr::null_mut());
            }
        }
        if !enabled {
            self.db.trace.borrow_mut().clear();
        }
    }

    /// The statements recorded since the last call.
    pub fn take_trace(&self) -> Vec<Traced> {
        std::mem::take(&mut *self.db.trace.borrow_mut())
    }

    pub fn blob_open(&self, schema: &str, table: &str, column: &str, row: i64, readonly: bool) -> Result<Blob> {
        let db = self.db.get()?;
        let (schema, table, column) = (cstring(schema)?, cstring(table)?, cstring(column)?);
        let mut blob = ptr::null_mut();
        let rc = unsafe {
            ffi::sqlite3_blob_open(db, schema.as_ptr(), table.as_ptr(), column.as_ptr(), row, c_int::from(!readonly), &mut blob)
        };
        if rc != ffi::SQLITE_OK {
            return Err(db_error(db));
        }
        Ok(Blob { db: self.db.clone(), raw: blob })
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.db.close();
    }
}

/// CPython's `lstrip_sql`: the rest of `sql` after whitespace and comments, if any.
pub fn lstrip_sql(sql: &[u8]) -> Option<usize> {
    let mut pos = 0;
    while pos < sql.len() {
        match sql[pos] {
            0 => return None,
            b' ' | b'\t' | b'\x0c' | b'\n' | b'\r' => pos += 1,
            b'-' if sql.get(pos + 1) == Some(&b'-') => {
                pos += 2;
                while pos < sql.len() && sql[pos] != b'\n' && sql[pos] != 0 {
                    pos += 1;
                }
                if pos >= sql.len() || sql[pos] == 0 {
                    return None;
                }
            }
            b'/' if sql.get(pos + 1) == Some(&b'*') => {
                pos += 2;
                while pos < sql.len() && sql[pos] != 0 && !(sql[pos] == b'*' && sql.get(pos + 1) == Some(&b'/')) {
                    pos += 1;
                }
                if pos >= sql.len() || sql[pos] == 0 {
                    return None;
                }
                pos += 2;
            }
            _ => return Some(pos),
        }
    }
    None
}

/// A prepared statement; finalized when dropped.
pub struct Statement {
    /// Keeps the `Db` (not the connection: `sqlite3_close_v2` waits for the statement).
    db: Rc<Db>,
    raw: *mut ffi::sqlite3_stmt,
    /// `SQLITE_STMTSTATUS_REPREPARE` when the columns were last reported.
    reprepared: Cell<c_int>,
}

impl Statement {
    pub fn parameter_count(&self) -> u32 {
        unsafe { ffi::sqlite3_bind_parameter_count(self.raw) as u32 }
    }

    pub fn parameter_names(&self) -> Vec<Option<String>> {
        (1..=self.parameter_count() as c_int)
            .map(|i| unsafe {
                let name = ffi::sqlite3_bind_parameter_name(self.raw, i);
                (!name.is_null()).then(|| CStr::from_ptr(name).to_string_lossy().into_owned())
            })
            .collect()
    }

    pub fn columns(&self) -> Vec<Column> {
        let n = unsafe { ffi::sqlite3_column_count(self.raw) };
        (0..n)
            .map(|i| unsafe {
                let name = ffi::sqlite3_column_name(self.raw, i);
                let decl = ffi::sqlite3_column_decltype(self.raw, i);
                Column {
                    name: if name.is_null() { String::new() } else { CStr::from_ptr(name).to_string_lossy().into_owned() },
                    decltype: (!decl.is_null()).then(|| CStr::from_ptr(decl).to_string_lossy().into_owned()),
                }
            })
            .collect()
    }

    pub fn readonly(&self) -> bool {
        unsafe { ffi::sqlite3_stmt_readonly(self.raw) != 0 }
    }

    pub fn reset(&self) {
        unsafe { ffi::sqlite3_reset(self.raw) };
    }

    /// `BEGIN ...` when no transaction is open (CPython's legacy transaction control).
    fn begin(&self, db: *mut ffi::sqlite3, begin: Option<&str>) -> Result<()> {
        let Some(sql) = begin else { return Ok(()) };
        if unsafe { ffi::sqlite3_get_autocommit(db) } == 0 {
            return Ok(());
        }
        let sql = cstring(sql)?;
        let mut stmt = ptr::null_mut();
        let mut rc = unsafe { ffi::sqlite3_prepare_v2(db, sql.as_ptr(), -1, &mut stmt, ptr::null_mut()) };
        if rc == ffi::SQLITE_OK {
            unsafe { ffi::sqlite3_step(stmt) };
            rc = unsafe { ffi::sqlite3_finalize(stmt) };
        }
        if rc != ffi::SQLITE_OK { Err(db_error(db)) } else { Ok(()) }
    }

    fn bind(&self, db: *mut ffi::sqlite3, params: &[Value]) -> Result<()> {
        for (i, value) in params.iter().enumerate() {
            self.bind_value(db, (i + 1) as c_int, value)?;
        }
        Ok(())
    }

    fn bind_text(&self, pos: c_int, text: &[u8]) -> c_int {
        unsafe {
            ffi::sqlite3_bind_text64(self.raw, pos, text.as_ptr().cast(), text.len() as u64, ffi::SQLITE_TRANSIENT(), ffi::SQLITE_UTF8 as u8)
        }
    }

    fn bind_blob(&self, pos: c_int, blob: &[u8]) -> c_int {
        unsafe { ffi::sqlite3_bind_blob64(self.raw, pos, blob.as_ptr().cast(), blob.len() as u64, ffi::SQLITE_TRANSIENT()) }
    }

    fn bind_value(&self, db: *mut ffi::sqlite3, pos: c_int, value: &Value) -> Result<()> {
        let rc = match value {
            Value::Null => unsafe { ffi::sqlite3_bind_null(self.raw, pos) },
            Value::Integer(v) => unsafe { ffi::sqlite3_bind_int64(self.raw, pos, *v) },
            Value::Real(v) => unsafe { ffi::sqlite3_bind_double(self.raw, pos, *v) },
            Value::Text(s) => self.bind_text(pos, s.as_bytes()),
            Value::TextBytes(b) => self.bind_text(pos, b),
            Value::Blob(b) => self.bind_blob(pos, b),
        };
        if rc != ffi::SQLITE_OK { Err(db_error(db)) } else { Ok(()) }
    }

    /// Binds row `row` of every column to parameters 1..n.
    fn bind_row(&self, db: *mut ffi::sqlite3, columns: &[ParamColumn], row: usize) -> Result<()> {
        for (i, column) in columns.iter().enumerate() {
            let pos = (i + 1) as c_int;
            let rc = match column {
                ParamColumn::Integers(v) => unsafe { ffi::sqlite3_bind_int64(self.raw, pos, v[row]) },
                ParamColumn::Reals(v) => unsafe { ffi::sqlite3_bind_double(self.raw, pos, v[row]) },
                ParamColumn::Texts(v) => self.bind_text(pos, v[row].as_bytes()),
                ParamColumn::Blobs(v) => self.bind_blob(pos, &v[row]),
                ParamColumn::Values(v) => {
                    self.bind_value(db, pos, &v[row])?;
                    continue;
                }
            };
            if rc != ffi::SQLITE_OK {
                return Err(db_error(db));
            }
        }
        Ok(())
    }

    /// The connection, also once closed (a zombie until its last statement is finalized).
    fn db(&self) -> *mut ffi::sqlite3 {
        unsafe { ffi::sqlite3_db_handle(self.raw) }
    }

    /// The columns, if SQLite re-prepared the statement since they were last reported.
    fn changed_columns(&self) -> Option<Vec<Column>> {
        let now = unsafe { ffi::sqlite3_stmt_status(self.raw, ffi::SQLITE_STMTSTATUS_REPREPARE, 0) };
        (self.reprepared.replace(now) != now).then(|| self.columns())
    }

    pub fn run(&self, params: &[Value], begin: Option<&str>, options: &FetchOptions) -> Result<Page> {
        self.db.not_in_backup()?;
        let db = self.db();
        self.reset();
        self.begin(db, begin)?;
        self.bind(db, params)?;
        self.fetch(options)
    }

    pub fn fetch(&self, options: &FetchOptions) -> Result<Page> {
        self.db.not_in_backup()?;
        let db = self.db();
        let mut page = Page::default();
        let mut bytes = 0usize;
        loop {
            if options.max_rows != 0 && page.rows.len() >= options.max_rows as usize {
                break;
            }
            if bytes > PAGE_BYTES {
                break;
            }
            let rc = unsafe { ffi::sqlite3_step(self.raw) };
            match rc {
                ffi::SQLITE_ROW => {
                    let row = match self.row(options) {
                        Ok(row) if page.rows.try_reserve(1).is_ok() => row,
                        Ok(_) | Err(_) => {
                            self.reset();
                            return Err(Error::from_code(ffi::SQLITE_NOMEM));
                        }
                    };
                    if !options.text_as_bytes && row.iter().any(|v| matches!(v, Value::TextBytes(_))) {
                        page.undecodable = true;
                    }
                    bytes = bytes.saturating_add(row.iter().map(Value::size).sum::<usize>());
                    page.rows.push(row);
                }
                ffi::SQLITE_DONE => {
                    page.done = true;
                    break;
                }
                _ => {
                    let err = db_error(db);
                    self.reset();
                    return Err(err);
                }
            }
        }
        page.changes = unsafe { ffi::sqlite3_changes64(db) };
        page.last_insert_rowid = unsafe { ffi::sqlite3_last_insert_rowid(db) };
        page.columns = self.changed_columns();
        if page.done {
            self.reset();
        }
        Ok(page)
    }

    /// The current row; SQLITE_NOMEM if its values do not fit the instance's memory.
    fn row(&self, options: &FetchOptions) -> Result<Vec<Value>> {
        let n = unsafe { ffi::sqlite3_data_count(self.raw) };
        let mut row = Vec::new();
        row.try_reserve_exact(usize::try_from(n).unwrap_or(0)).map_err(|_| Error::from_code(ffi::SQLITE_NOMEM))?;
        for i in 0..n {
            row.push(self.column(i, options)?);
        }
        Ok(row)
    }

    /// `len` bytes at `ptr` (SQLite's column memory), or none when it is NULL.
    unsafe fn column_bytes(&self, ptr: *const u8, i: c_int) -> &[u8] {
        let len = usize::try_from(unsafe { ffi::sqlite3_column_bytes(self.raw, i) }).unwrap_or(0);
        if ptr.is_null() { &[] } else { unsafe { std::slice::from_raw_parts(ptr, len) } }
    }

    fn column(&self, i: c_int, options: &FetchOptions) -> Result<Value> {
        unsafe {
            if options.bytes_columns.contains(&(i as u32)) {
                let blob = ffi::sqlite3_column_blob(self.raw, i);
                if blob.is_null() {
                    return Ok(Value::Null);
                }
                return Ok(Value::Blob(copy_bytes(self.column_bytes(blob.cast(), i))?));
            }
            Ok(match ffi::sqlite3_column_type(self.raw, i) {
                ffi::SQLITE_INTEGER => Value::Integer(ffi::sqlite3_column_int64(self.raw, i)),
                ffi::SQLITE_FLOAT => Value::Real(ffi::sqlite3_column_double(self.raw, i)),
                ffi::SQLITE_TEXT => {
                    let bytes = self.column_bytes(ffi::sqlite3_column_text(self.raw, i), i);
                    if !options.text_as_bytes && std::str::from_utf8(bytes).is_ok() {
                        // SAFETY: just checked to be UTF-8.
                        Value::Text(String::from_utf8_unchecked(copy_bytes(bytes)?))
                    } else {
                        Value::TextBytes(copy_bytes(bytes)?)
                    }
                }
                ffi::SQLITE_BLOB => Value::Blob(copy_bytes(self.column_bytes(ffi::sqlite3_column_blob(self.raw, i).cast(), i))?),
                _ => Value::Null,
            })
        }
    }

    /// `rows` is the length of every column, and at most [`MAX_RUN_MANY_ROWS`]: a count the
    /// data does not back, or a batch too long for one call, is refused before anything runs.
    pub fn run_many(&self, columns: &[ParamColumn], rows: usize, begin: Option<&str>) -> Result<Page> {
        self.db.not_in_backup()?;
        let db = self.db();
        if let Some((i, other)) = columns.iter().enumerate().find(|(_, c)| c.len() != rows) {
            return Err(misuse_owned(format!(
                "run_many: parameter column {} holds {} values for {rows} rows (each column holds one value per row)",
                i + 1,
                other.len()
            )));
        }
        if rows > MAX_RUN_MANY_ROWS {
            return Err(misuse_owned(format!("run_many: {rows} rows; at most {MAX_RUN_MANY_ROWS} per call")));
        }
        self.reset();
        self.begin(db, begin)?;
        let mut page = Page { done: true, ..Page::default() };
        for row in 0..rows {
            self.bind_row(db, columns, row)?;
            let rc = unsafe { ffi::sqlite3_step(self.raw) };
            if rc != ffi::SQLITE_DONE && rc != ffi::SQLITE_ROW {
                let err = db_error(db);
                self.reset();
                return Err(err);
            }
            if rc == ffi::SQLITE_DONE {
                page.changes += unsafe { ffi::sqlite3_changes64(db) };
            }
            self.reset();
        }
        page.last_insert_rowid = unsafe { ffi::sqlite3_last_insert_rowid(db) };
        page.columns = self.changed_columns();
        Ok(page)
    }
}

impl Drop for Statement {
    fn drop(&mut self) {
        unsafe { ffi::sqlite3_finalize(self.raw) };
    }
}

/// An open BLOB; closed when dropped.
pub struct Blob {
    db: Rc<Db>,
    raw: *mut ffi::sqlite3_blob,
}

impl Blob {
    pub fn length(&self) -> i32 {
        unsafe { ffi::sqlite3_blob_bytes(self.raw) }
    }

    /// `length` bytes at `offset`, which must lie within the blob: checked before the
    /// buffer is allocated, so a huge `length` is an error, not an allocation.
    pub fn read(&self, offset: i32, length: i32) -> Result<Vec<u8>> {
        let db = self.db.get()?;
        let size = self.length();
        if offset < 0 || length < 0 || i64::from(offset) + i64::from(length) > i64::from(size) {
            return Err(Error {
                code: ffi::SQLITE_ERROR,
                extended_code: ffi::SQLITE_ERROR,
                message: format!("blob read of {length} bytes at offset {offset} is outside the blob ({size} bytes)"),
            });
        }
        let mut buf = Vec::new();
        buf.try_reserve_exact(length as usize).map_err(|_| Error::from_code(ffi::SQLITE_NOMEM))?;
        buf.resize(length as usize, 0);
        let rc = unsafe { ffi::sqlite3_blob_read(self.raw, buf.as_mut_ptr().cast::<c_void>(), length, offset) };
        if rc != ffi::SQLITE_OK { Err(db_error(db)) } else { Ok(buf) }
    }

    pub fn write(&self, offset: i32, data: &[u8]) -> Result<()> {
        let db = self.db.get()?;
        let len = c_int::try_from(data.len()).map_err(|_| Error::from_code(ffi::SQLITE_TOOBIG))?;
        let rc = unsafe { ffi::sqlite3_blob_write(self.raw, data.as_ptr().cast::<c_void>(), len, offset) };
        if rc != ffi::SQLITE_OK { Err(db_error(db)) } else { Ok(()) }
    }
}

impl Drop for Blob {
    fn drop(&mut self) {
        unsafe { ffi::sqlite3_blob_close(self.raw) };
    }
}

/// An online backup; finished when dropped.
pub struct Backup {
    target: Rc<Db>,
    _source: Rc<Db>,
    /// Null once finished, by `finish` or by the target's `close`.
    raw: Rc<Cell<*mut ffi::sqlite3_backup>>,
}

/// One backup step's status and counters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Progress {
    pub status: i32,
    pub remaining: i32,
    pub pagecount: i32,
}

impl Backup {
    pub fn new(target: &Connection, target_name: &str, source: &Connection, source_name: &str) -> Result<Backup> {
        let (t, s) = (target.db.get()?, source.db.get()?);
        let (tn, sn) = (cstring(target_name)?, cstring(source_name)?);
        let raw = unsafe { ffi::sqlite3_backup_init(t, tn.as_ptr(), s, sn.as_ptr()) };
        if raw.is_null() {
            return Err(db_error(t));
        }
        let raw = Rc::new(Cell::new(raw));
        enlist(&target.db.backups_into, &raw);
        enlist(&source.db.backups_from, &raw);
        Ok(Backup { target: target.db.clone(), _source: source.db.clone(), raw })
    }

    pub fn step(&self, pages: i32) -> Result<Progress> {
        self.target.open()?;
        let raw = self.raw.get();
        if raw.is_null() {
            return Err(Error::misuse("backup is finished"));
        }
        unsafe {
            let status = ffi::sqlite3_backup_step(raw, pages);
            Ok(Progress { status, remaining: ffi::sqlite3_backup_remaining(raw), pagecount: ffi::sqlite3_backup_pagecount(raw) })
        }
    }

    pub fn finish(&self) -> Result<()> {
        let raw = self.raw.replace(ptr::null_mut());
        if raw.is_null() {
            return Ok(());
        }
        let rc = unsafe { ffi::sqlite3_backup_finish(raw) };
        if rc == ffi::SQLITE_OK {
            return Ok(());
        }
        match self.target.open() {
            Ok(db) => Err(db_error(db)),
            Err(_) => Err(Error::from_code(rc)),
        }
    }
}

impl Drop for Backup {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mem() -> Connection {
        Connection::open(":memory:", ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_CREATE, None).unwrap()
    }

    fn all() -> FetchOptions {
        FetchOptions::default()
    }

    #[test]
    fn rows_in_batches() {
        let c = mem();
        c.execute_script("create table t(a integer, b text, c real, d blob)").unwrap();
        let (ins, tail) = c.prepare("insert into t values (?, ?, ?, ?)").unwrap();
        assert!(!tail);
        let ins = ins.unwrap();
        let rows: Vec<Vec<Value>> = (0..10)
            .map(|i| vec![Value::Integer(i), Value::Text(format!("r{i}")), Value::Real(i as f64 / 2.0), Value::Blob(vec![i as u8])])
            .collect();
        let columns = vec![
            ParamColumn::Integers((0..10).collect()),
            ParamColumn::Texts((0..10).map(|i| format!("r{i}")).collect()),
            ParamColumn::Values((0..10).map(|i| Value::Real(i as f64 / 2.0)).collect()),
            ParamColumn::Blobs((0..10).map(|i| vec![i as u8]).collect()),
        ];
        assert_eq!(ins.run_many(&columns, 11, None).unwrap_err().code, ffi::SQLITE_MISUSE);
        let page = ins.run_many(&columns, 10, Some("BEGIN")).unwrap();
        assert_eq!((page.changes, page.last_insert_rowid), (10, 10));
        assert!(!c.autocommit());
        c.execute_script("COMMIT").unwrap();
        let sel = c.prepare("select * from t order by a").unwrap().0.unwrap();
        let first = sel.run(&[], None, &FetchOptions { max_rows: 3, ..all() }).unwrap();
        assert_eq!(first.rows.len(), 3);
        assert!(!first.done);
        assert_eq!(first.rows[1], rows[1]);
        let rest = sel.fetch(&all()).unwrap();
        assert_eq!(rest.rows.len(), 7);
        assert!(rest.done);
        assert_eq!(sel.columns()[1], Column { name: "b".into(), decltype: Some("TEXT".into()) });
    }

    #[test]
    fn errors_carry_codes() {
        let c = mem();
        c.execute_script("create table t(a unique)").unwrap();
        let ins = c.prepare("insert into t values (?)").unwrap().0.unwrap();
        ins.run(&[Value::Integer(1)], None, &all()).unwrap();
        let err = ins.run(&[Value::Integer(1)], None, &all()).unwrap_err();
        assert_eq!((err.code, err.extended_code), (ffi::SQLITE_CONSTRAINT, ffi::SQLITE_CONSTRAINT_UNIQUE));
        assert!(err.message.contains("UNIQUE constraint failed"), "{}", err.message);
        let err = c.prepare("selec 1").err().unwrap();
        assert_eq!(err.code, ffi::SQLITE_ERROR);
    }

    #[test]
    fn tails_comments_and_empty_statements() {
        let c = mem();
        assert!(c.prepare("select 1; select 2").unwrap().1);
        assert!(!c.prepare("select 1; -- done\n /* really */ ").unwrap().1);
        assert!(c.prepare("-- nothing").unwrap().0.is_none());
        assert_eq!(lstrip_sql(b"  /* a */ x"), Some(10));
    }

    #[test]
    fn text_modes_and_converter_columns() {
        let c = mem();
        let s = c.prepare("select 'é', cast(x'ff' as text), 7, 1.5, null").unwrap().0.unwrap();
        let row = s.run(&[], None, &all()).unwrap().rows.remove(0);
        assert_eq!(row[0], Value::Text("é".into()));
        assert_eq!(row[1], Value::TextBytes(vec![0xff]));
        let opts = FetchOptions { text_as_bytes: true, bytes_columns: vec![2, 3, 4], ..all() };
        let row = s.run(&[], None, &opts).unwrap().rows.remove(0);
        assert_eq!(row[0], Value::TextBytes("é".as_bytes().to_vec()));
        assert_eq!(&row[2..], &[Value::Blob(b"7".to_vec()), Value::Blob(b"1.5".to_vec()), Value::Null]);
    }

    #[test]
    fn statements_outlive_their_connection() {
        let c = mem();
        c.execute_script("create table t(a); insert into t values (1), (2)").unwrap();
        let s = c.prepare("select a from t").unwrap().0.unwrap();
        let b = c.blob_open("main", "t", "a", 1, true);
        drop(c);
        assert_eq!(s.run(&[], None, &all()).unwrap().rows, vec![vec![Value::Integer(1)], vec![Value::Integer(2)]]);
        if let Ok(b) = b {
            assert_eq!(b.read(0, 1).unwrap_err().code, ffi::SQLITE_MISUSE);
        }
    }

    #[test]
    fn statements_are_traced() {
        let c = mem();
        c.set_trace(true);
        c.execute_script("create table t(a)").unwrap();
        let s = c.prepare("insert into t values (?)").unwrap().0.unwrap();
        s.run(&[Value::Text("it's".into())], Some("BEGIN "), &all()).unwrap();
        let sql: Vec<String> = c.take_trace().into_iter().map(|t| t.sql).collect();
        assert_eq!(sql, ["create table t(a)", "BEGIN ", "insert into t values ('it''s')"]);
        c.set_trace(false);
        c.execute_script("select 1").unwrap();
        assert!(c.take_trace().is_empty());
    }

    #[test]
    fn schema_changes_report_columns() {
        let c = mem();
        c.execute_script("create table t(a)").unwrap();
        let s = c.prepare("select * from t").unwrap().0.unwrap();
        assert_eq!(s.run(&[], None, &all()).unwrap().columns, None);
        c.execute_script("alter table t add b").unwrap();
        let cols = s.run(&[], None, &all()).unwrap().columns.unwrap();
        assert_eq!(cols.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(s.run(&[], None, &all()).unwrap().columns, None);
    }

    /// Only the boolean `(int, int*)` ops reach the variadic `sqlite3_db_config`; the
    /// others (1000 takes a string, 1001 a buffer: an int there was read as a pointer and
    /// trapped) are refused by name, and the connection stays usable.
    #[test]
    fn db_config_takes_boolean_ops_only() {
        let c = mem();
        for op in BOOLEAN_DBCONFIG_OPS {
            c.db_config(op, -1).unwrap();
        }
        assert!(c.db_config(ffi::SQLITE_DBCONFIG_ENABLE_TRIGGER, 0).map(|on| !on).unwrap());
        for (op, name) in [(1000, "MAINDBNAME"), (1001, "LOOKASIDE"), (1023, "FP_DIGITS"), (-1, ""), (0, ""), (1024, ""), (i32::MAX, "")] {
            let err = c.db_config(op, -1).unwrap_err();
            assert_eq!(err.code, ffi::SQLITE_MISUSE);
            assert!(err.message.contains(&format!("op {op}")) && err.message.contains(name), "{}", err.message);
        }
        let image = c.serialize("main").unwrap();
        c.deserialize("main", &image).unwrap();
        let s = c.prepare("select 1").unwrap().0.unwrap();
        assert_eq!(s.run(&[], None, &all()).unwrap().rows, vec![vec![Value::Integer(1)]]);
    }

    #[test]
    fn blob_ranges_are_checked_before_allocating() {
        let c = mem();
        c.execute_script("create table t(b blob); insert into t values (zeroblob(8))").unwrap();
        let b = c.blob_open("main", "t", "b", 1, false).unwrap();
        for (offset, length) in [(0, i32::MAX), (0, 9), (8, 1), (-1, 1), (0, -1), (i32::MAX, i32::MAX), (i32::MIN, 0)] {
            let err = b.read(offset, length).unwrap_err();
            assert_eq!(err.code, ffi::SQLITE_ERROR, "read({offset}, {length})");
            assert!(err.message.contains("outside the blob (8 bytes)"), "{}", err.message);
        }
        assert_eq!(b.read(8, 0).unwrap(), b"");
        assert_eq!(b.read(6, 2).unwrap(), b"\0\0");
        assert_eq!(b.write(i32::MAX, b"x").unwrap_err().code, ffi::SQLITE_ERROR);
    }

    /// A count the columns do not back, or too many rows for one call, is refused before
    /// anything runs (`run_many([], 2**32 - 1, None)` used to step 4 billion times).
    #[test]
    fn run_many_counts_are_bounded() {
        let c = mem();
        c.execute_script("create table t(a)").unwrap();
        let ins = c.prepare("insert into t values (?)").unwrap().0.unwrap();
        let ints = |n: i64| vec![ParamColumn::Integers((0..n).collect())];
        let many = MAX_RUN_MANY_ROWS as i64 + 1;
        for (columns, rows) in [(vec![], u32::MAX as usize), (vec![], MAX_RUN_MANY_ROWS + 1), (ints(3), 2), (ints(3), 4), (ints(0), 1), (ints(many), many as usize)] {
            let err = ins.run_many(&columns, rows, None).unwrap_err();
            assert_eq!(err.code, ffi::SQLITE_MISUSE, "{rows} rows");
            assert!(err.message.starts_with("run_many: "), "{}", err.message);
        }
        assert_eq!(ins.run_many(&ints(3), 3, None).unwrap().changes, 3);
        let default = c.prepare("insert into t default values").unwrap().0.unwrap();
        assert_eq!(default.run_many(&[], 5, None).unwrap().changes, 5);
        assert_eq!(default.run_many(&[], MAX_RUN_MANY_ROWS, None).unwrap().changes, MAX_RUN_MANY_ROWS as i64);
    }

    /// A query that never ends fills pages of at most about PAGE_BYTES, not the memory.
    #[test]
    fn pages_are_bounded_in_bytes() {
        let c = mem();
        let sql = "with recursive c(x) as (select 1 union all select x + 1 from c) select x, zeroblob(1048576) from c";
        let s = c.prepare(sql).unwrap().0.unwrap();
        let page = s.run(&[], None, &all()).unwrap();
        assert!(!page.done);
        assert_eq!(page.rows.len(), PAGE_BYTES >> 20);
        let next = s.fetch(&FetchOptions { max_rows: 2, ..all() }).unwrap();
        assert_eq!(next.rows[1][0], Value::Integer(page.rows.len() as i64 + 2));
    }

    /// Blobs and backups whose connections were closed fail cleanly, in any order.
    #[test]
    fn closed_connections_under_blobs_and_backups() {
        let (a, b) = (mem(), mem());
        a.execute_script("create table t(b blob); insert into t values (zeroblob(4))").unwrap();
        let blob = a.blob_open("main", "t", "b", 1, false).unwrap();
        let backup = Backup::new(&b, "main", &a, "main").unwrap();
        drop(a);
        assert_eq!(blob.read(0, 4).unwrap_err().code, ffi::SQLITE_MISUSE);
        assert_eq!(blob.write(0, b"x").unwrap_err().code, ffi::SQLITE_MISUSE);
        let _ = blob.length();
        let _ = backup.step(-1);
        drop(b);
        assert_eq!(backup.step(1).unwrap_err().code, ffi::SQLITE_MISUSE);
        backup.finish().unwrap();
        backup.finish().unwrap();
        drop((blob, backup));
    }

    /// SQLite frees a closed *destination* under its backups (it keeps only sources alive):
    /// closing it finishes them first, so they never touch freed memory (this trapped in
    /// the backup's drop, found by `cargo xtask fuzz-caps`).
    #[test]
    fn closing_a_backup_target_finishes_its_backups() {
        let (source, target) = (mem(), mem());
        source.execute_script("create table t(x); insert into t values (randomblob(100000))").unwrap();
        let backup = Backup::new(&target, "main", &source, "main").unwrap();
        assert_eq!(backup.step(1).unwrap().status, ffi::SQLITE_OK);
        assert_eq!(target.db.backups_into.borrow().len(), 1);
        drop(target);
        assert!(backup.raw.get().is_null());
        assert_eq!(backup.step(1).unwrap_err().code, ffi::SQLITE_MISUSE);
        backup.finish().unwrap();
        drop(backup);
        let s = source.prepare("select length(x) from t").unwrap().0.unwrap();
        assert_eq!(s.run(&[], None, &all()).unwrap().rows, vec![vec![Value::Integer(100000)]]);
        // A finished backup leaves no entry behind on a target that lives on.
        let target = mem();
        drop(Backup::new(&target, "main", &source, "main").unwrap());
        let _again = Backup::new(&target, "main", &source, "main").unwrap();
        assert_eq!(target.db.backups_into.borrow().len(), 1);
    }

    /// Writing to (or deserializing into) a backup's destination between its steps made
    /// `sqlite3_backup_step` dereference NULL: the destination refuses to run until the
    /// backup is finished; its counters stay readable, the source stays usable.
    #[test]
    fn a_backup_destination_is_locked_until_finished() {
        let (source, target) = (mem(), mem());
        source.execute_script("create table t(x); insert into t values (randomblob(100000))").unwrap();
        target.execute_script("create table u(y); insert into u values (1)").unwrap();
        let on_target = target.prepare("select * from u").unwrap().0.unwrap();
        let image = target.serialize("main").unwrap();
        let backup = Backup::new(&target, "main", &source, "main").unwrap();
        assert_eq!(backup.step(2).unwrap().status, ffi::SQLITE_OK);
        let busy = |r: Result<()>| assert_eq!(r.unwrap_err().code, ffi::SQLITE_BUSY);
        busy(target.execute_script("insert into u values (2)"));
        busy(target.deserialize("main", &image));
        busy(target.prepare("select 1").map(|_| ()));
        busy(on_target.run(&[], None, &FetchOptions::default()).map(|_| ()));
        busy(on_target.fetch(&FetchOptions::default()).map(|_| ()));
        busy(on_target.run_many(&[], 1, None).map(|_| ()));
        busy(Backup::new(&target, "main", &source, "main").map(|_| ()));
        busy(Backup::new(&source, "main", &target, "main").map(|_| ()));
        assert!(target.autocommit());
        let _ = target.changes();
        source.execute_script("insert into t values (randomblob(100000))").unwrap();
        assert_eq!(backup.step(-1).unwrap().status, ffi::SQLITE_DONE);
        busy(target.execute_script("select 1"));
        backup.finish().unwrap();
        let copied = target.prepare("select count(*) from t").unwrap().0.unwrap();
        assert_eq!(copied.run(&[], None, &FetchOptions::default()).unwrap().rows, vec![vec![Value::Integer(2)]]);
        target.execute_script("create table v(z)").unwrap();
    }

    /// Changing `temp_store` closes the TEMP database, also under a backup that reads it
    /// (freed memory, found by `cargo xtask fuzz-caps`): refused while a backup reads from
    /// the connection, allowed again once it is finished.
    #[test]
    fn temp_store_stays_while_a_backup_reads() {
        let (source, target) = (mem(), mem());
        source.execute_script("create temp table t(x); insert into t values (randomblob(100000))").unwrap();
        let backup = Backup::new(&target, "main", &source, "temp").unwrap();
        assert_eq!(backup.step(1).unwrap().status, ffi::SQLITE_OK);
        for sql in ["pragma temp_store = file", "PRAGMA Temp_Store = 1", "pragma temp.temp_store = default", "pragma temp_store_directory = '/tmp'"] {
            assert_eq!(source.execute_script(sql).unwrap_err().code, ffi::SQLITE_AUTH, "{sql}");
        }
        source.execute_script("pragma temp_store").unwrap();
        source.execute_script("insert into t values (1)").unwrap();
        assert_eq!(backup.step(-1).unwrap().status, ffi::SQLITE_DONE);
        backup.finish().unwrap();
        source.execute_script("pragma temp_store = file").unwrap();
    }

    #[test]
    fn blob_backup_serialize() {
        let c = mem();
        c.execute_script("create table t(b blob); insert into t values (zeroblob(8))").unwrap();
        let b = c.blob_open("main", "t", "b", 1, false).unwrap();
        b.write(2, b"hi").unwrap();
        assert_eq!(b.read(0, 8).unwrap(), b"\0\0hi\0\0\0\0");
        assert_eq!(b.length(), 8);
        drop(b);
        let copy = mem();
        let bk = Backup::new(&copy, "main", &c, "main").unwrap();
        assert_eq!(bk.step(-1).unwrap().status, ffi::SQLITE_DONE);
        bk.finish().unwrap();
        let image = copy.serialize("main").unwrap();
        let third = mem();
        third.deserialize("main", &image).unwrap();
        let s = third.prepare("select length(b) from t").unwrap().0.unwrap();
        assert_eq!(s.run(&[], None, &all()).unwrap().rows, vec![vec![Value::Integer(8)]]);
    }
}

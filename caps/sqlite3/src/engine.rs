//! SQLite's C API behind a small safe layer. A [`Connection`] shares its handle with its
//! statements, blobs and backups through an `Rc<Db>`. Closing the connection
//! (`sqlite3_close_v2`) leaves them valid: statements keep working on the closed ("zombie")
//! connection until they are finalized, as CPython's re-initialised connections rely on;
//! blobs and backups fail with `SQLITE_MISUSE`.

use core::ffi::{c_char, c_int, c_void};
use std::cell::{Cell, RefCell};
use std::ffi::{CStr, CString};
use std::ptr;
use std::rc::Rc;

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
    fn get(&self) -> Result<*mut ffi::sqlite3> {
        let db = self.raw.get();
        if db.is_null() { Err(Error::misuse("Cannot operate on a closed database.")) } else { Ok(db) }
    }

    fn close(&self) {
        let db = self.raw.replace(ptr::null_mut());
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
        let conn = Connection { db: Rc::new(Db { raw: Cell::new(db), trace: RefCell::new(Vec::new()) }) };
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
        let stmt = (!stmt.is_null()).then(|| Statement { _db: self.db.clone(), raw: stmt, reprepared: Cell::new(0) });
        Ok((stmt, has_tail))
    }

    pub fn execute_script(&self, sql: &str) -> Result<()> {
        let db = self.db.get()?;
        let sql = cstring(sql)?;
        let rc = unsafe { ffi::sqlite3_exec(db, sql.as_ptr(), None, ptr::null_mut(), ptr::null_mut()) };
        if rc != ffi::SQLITE_OK { Err(db_error(db)) } else { Ok(()) }
    }

    fn with_db<T>(&self, f: impl FnOnce(*mut ffi::sqlite3) -> T, closed: T) -> T {
        match self.db.get() {
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

    pub fn busy_timeout(&self, ms: i32) -> Result<()> {
        let db = self.db.get()?;
        let rc = unsafe { ffi::sqlite3_busy_timeout(db, ms) };
        if rc != ffi::SQLITE_OK { Err(db_error(db)) } else { Ok(()) }
    }

    pub fn interrupt(&self) {
        self.with_db(|db| unsafe { ffi::sqlite3_interrupt(db) }, ());
    }

    pub fn limit(&self, category: i32, value: i32) -> i32 {
        self.with_db(|db| unsafe { ffi::sqlite3_limit(db, category, value) }, -1)
    }

    pub fn db_config(&self, op: i32, value: i32) -> Result<bool> {
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
        let bytes = unsafe { std::slice::from_raw_parts(data, size as usize).to_vec() };
        unsafe { ffi::sqlite3_free(data.cast()) };
        Ok(bytes)
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
    _db: Rc<Db>,
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
        let db = self.db();
        self.reset();
        self.begin(db, begin)?;
        self.bind(db, params)?;
        self.fetch(options)
    }

    pub fn fetch(&self, options: &FetchOptions) -> Result<Page> {
        let db = self.db();
        let mut page = Page::default();
        loop {
            if options.max_rows != 0 && page.rows.len() >= options.max_rows as usize {
                break;
            }
            let rc = unsafe { ffi::sqlite3_step(self.raw) };
            match rc {
                ffi::SQLITE_ROW => {
                    let row = self.row(options);
                    if !options.text_as_bytes && row.iter().any(|v| matches!(v, Value::TextBytes(_))) {
                        page.undecodable = true;
                    }
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

    fn row(&self, options: &FetchOptions) -> Vec<Value> {
        let n = unsafe { ffi::sqlite3_data_count(self.raw) };
        (0..n)
            .map(|i| unsafe {
                if options.bytes_columns.contains(&(i as u32)) {
                    let blob = ffi::sqlite3_column_blob(self.raw, i);
                    if blob.is_null() {
                        return Value::Null;
                    }
                    let len = ffi::sqlite3_column_bytes(self.raw, i) as usize;
                    return Value::Blob(std::slice::from_raw_parts(blob.cast::<u8>(), len).to_vec());
                }
                match ffi::sqlite3_column_type(self.raw, i) {
                    ffi::SQLITE_INTEGER => Value::Integer(ffi::sqlite3_column_int64(self.raw, i)),
                    ffi::SQLITE_FLOAT => Value::Real(ffi::sqlite3_column_double(self.raw, i)),
                    ffi::SQLITE_TEXT => {
                        let text = ffi::sqlite3_column_text(self.raw, i);
                        let len = ffi::sqlite3_column_bytes(self.raw, i) as usize;
                        let bytes = if text.is_null() { &[][..] } else { std::slice::from_raw_parts(text, len) };
                        if options.text_as_bytes {
                            Value::TextBytes(bytes.to_vec())
                        } else {
                            match std::str::from_utf8(bytes) {
                                Ok(s) => Value::Text(s.to_owned()),
                                Err(_) => Value::TextBytes(bytes.to_vec()),
                            }
                        }
                    }
                    ffi::SQLITE_BLOB => {
                        let blob = ffi::sqlite3_column_blob(self.raw, i);
                        let len = ffi::sqlite3_column_bytes(self.raw, i) as usize;
                        let bytes = if blob.is_null() { &[][..] } else { std::slice::from_raw_parts(blob.cast::<u8>(), len) };
                        Value::Blob(bytes.to_vec())
                    }
                    _ => Value::Null,
                }
            })
            .collect()
    }

    pub fn run_many(&self, columns: &[ParamColumn], rows: usize, begin: Option<&str>) -> Result<Page> {
        let db = self.db();
        if let Some(short) = columns.iter().find(|c| c.len() < rows) {
            return Err(Error::misuse(&format!("a parameter column holds {} values for {rows} rows", short.len())));
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

    pub fn read(&self, offset: i32, length: i32) -> Result<Vec<u8>> {
        let db = self.db.get()?;
        let mut buf = vec![0u8; length.max(0) as usize];
        let rc = unsafe { ffi::sqlite3_blob_read(self.raw, buf.as_mut_ptr().cast::<c_void>(), length, offset) };
        if rc != ffi::SQLITE_OK { Err(db_error(db)) } else { Ok(buf) }
    }

    pub fn write(&self, offset: i32, data: &[u8]) -> Result<()> {
        let db = self.db.get()?;
        let rc = unsafe { ffi::sqlite3_blob_write(self.raw, data.as_ptr().cast::<c_void>(), data.len() as c_int, offset) };
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
    raw: Cell<*mut ffi::sqlite3_backup>,
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
        Ok(Backup { target: target.db.clone(), _source: source.db.clone(), raw: Cell::new(raw) })
    }

    pub fn step(&self, pages: i32) -> Result<Progress> {
        let raw = self.raw.get();
        if raw.is_null() {
            return Err(Error::misuse("backup is finished"));
        }
        self.target.get()?;
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
        match self.target.get() {
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

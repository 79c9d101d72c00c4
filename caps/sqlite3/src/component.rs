//! The WIT glue: a thin wrapper around [`crate::engine`]. A component instance is
//! single-threaded and never re-entered while a call runs.

use crate::engine;

wit_bindgen::generate!({ path: "wit", world: "sqlite3-cap" });

use exports::pylon::sqlite3::sqlite3::{
    Backup, BackupProgress, Blob, Column, Connection, ConnectionBorrow, FetchOptions, Guest, GuestBackup,
    GuestBlob, GuestConnection, GuestStatement, Page, ParamColumn, Prepared, SqliteError, Statement, Traced, Value,
};

struct Cap;

export!(Cap);

fn err(e: engine::Error) -> SqliteError {
    SqliteError { code: e.code, extended_code: e.extended_code, message: e.message }
}

fn value_in(v: Value) -> engine::Value {
    match v {
        Value::Null => engine::Value::Null,
        Value::Integer(i) => engine::Value::Integer(i),
        Value::Real(f) => engine::Value::Real(f),
        Value::Text(s) => engine::Value::Text(s),
        Value::TextBytes(b) => engine::Value::TextBytes(b),
        Value::Blob(b) => engine::Value::Blob(b),
    }
}

fn value_out(v: engine::Value) -> Value {
    match v {
        engine::Value::Null => Value::Null,
        engine::Value::Integer(i) => Value::Integer(i),
        engine::Value::Real(f) => Value::Real(f),
        engine::Value::Text(s) => Value::Text(s),
        engine::Value::TextBytes(b) => Value::TextBytes(b),
        engine::Value::Blob(b) => Value::Blob(b),
    }
}

fn page_out(p: engine::Page) -> Page {
    Page {
        rows: p.rows.into_iter().map(|r| r.into_iter().map(value_out).collect()).collect(),
        done: p.done,
        changes: p.changes,
        last_insert_rowid: p.last_insert_rowid,
        undecodable: p.undecodable,
        columns: p.columns.map(|cols| cols.into_iter().map(|c| Column { name: c.name, decltype: c.decltype }).collect()),
    }
}

fn options_in(o: FetchOptions) -> engine::FetchOptions {
    engine::FetchOptions { max_rows: o.max_rows, text_as_bytes: o.text_as_bytes, bytes_columns: o.bytes_columns }
}

fn params_in(params: Vec<Value>) -> Vec<engine::Value> {
    params.into_iter().map(value_in).collect()
}

impl Guest for Cap {
    type Connection = engine::Connection;
    type Statement = engine::Statement;
    type Blob = engine::Blob;
    type Backup = engine::Backup;

    fn version() -> String {
        engine::version()
    }

    fn version_number() -> i32 {
        engine::version_number()
    }

    fn threadsafe() -> i32 {
        engine::threadsafe()
    }

    fn complete(sql: String) -> bool {
        engine::complete(&sql)
    }

    fn errstr(code: i32) -> String {
        engine::errstr(code)
    }
}

impl GuestConnection for engine::Connection {
    fn open(path: String, open_flags: i32, vfs: Option<String>) -> Result<Connection, SqliteError> {
        engine::Connection::open(&path, open_flags, vfs.as_deref()).map(Connection::new).map_err(err)
    }

    fn prepare(&self, sql: String) -> Result<Prepared, SqliteError> {
        let (stmt, has_tail) = engine::Connection::prepare(self, &sql).map_err(err)?;
        let (parameter_names, columns, readonly) = match &stmt {
            Some(s) => (
                s.parameter_names(),
                s.columns().into_iter().map(|c| Column { name: c.name, decltype: c.decltype }).collect(),
                s.readonly(),
            ),
            None => (Vec::new(), Vec::new(), true),
        };
        Ok(Prepared { statement: stmt.map(Statement::new), has_tail, parameter_names, columns, readonly })
    }

    fn execute_script(&self, sql: String) -> Result<(), SqliteError> {
        engine::Connection::execute_script(self, &sql).map_err(err)
    }

    fn changes(&self) -> i64 {
        engine::Connection::changes(self)
    }

    fn total_changes(&self) -> i64 {
        engine::Connection::total_changes(self)
    }

    fn last_insert_rowid(&self) -> i64 {
        engine::Connection::last_insert_rowid(self)
    }

    fn autocommit(&self) -> bool {
        engine::Connection::autocommit(self)
    }

    fn busy_timeout(&self, ms: i32) -> Result<(), SqliteError> {
        engine::Connection::busy_timeout(self, ms).map_err(err)
    }

    fn interrupt(&self) {
        engine::Connection::interrupt(self)
    }

    fn limit(&self, category: i32, value: i32) -> i32 {
        engine::Connection::limit(self, category, value)
    }

    fn db_config(&self, op: i32, value: i32) -> Result<bool, SqliteError> {
        engine::Connection::db_config(self, op, value).map_err(err)
    }

    fn serialize(&self, name: String) -> Result<Vec<u8>, SqliteError> {
        engine::Connection::serialize(self, &name).map_err(err)
    }

    fn deserialize(&self, name: String, data: Vec<u8>) -> Result<(), SqliteError> {
        engine::Connection::deserialize(self, &name, &data).map_err(err)
    }

    fn set_trace(&self, enabled: bool) {
        engine::Connection::set_trace(self, enabled)
    }

    fn take_trace(&self) -> Vec<Traced> {
        engine::Connection::take_trace(self).into_iter().map(|t| Traced { sql: t.sql, expanded: t.expanded }).collect()
    }

    fn blob_open(&self, schema: String, table: String, column: String, row: i64, readonly: bool) -> Result<Blob, SqliteError> {
        engine::Connection::blob_open(self, &schema, &table, &column, row, readonly).map(Blob::new).map_err(err)
    }
}

impl GuestStatement for engine::Statement {
    fn run(&self, params: Vec<Value>, begin: Option<String>, options: FetchOptions) -> Result<Page, SqliteError> {
        engine::Statement::run(self, &params_in(params), begin.as_deref(), &options_in(options)).map(page_out).map_err(err)
    }

    fn fetch(&self, options: FetchOptions) -> Result<Page, SqliteError> {
        engine::Statement::fetch(self, &options_in(options)).map(page_out).map_err(err)
    }

    fn reset(&self) {
        engine::Statement::reset(self)
    }

    fn run_many(&self, columns: Vec<ParamColumn>, rows: u32, begin: Option<String>) -> Result<Page, SqliteError> {
        let columns: Vec<engine::ParamColumn> = columns
            .into_iter()
            .map(|c| match c {
                ParamColumn::Integers(v) => engine::ParamColumn::Integers(v),
                ParamColumn::Reals(v) => engine::ParamColumn::Reals(v),
                ParamColumn::Texts(v) => engine::ParamColumn::Texts(v),
                ParamColumn::Blobs(v) => engine::ParamColumn::Blobs(v),
                ParamColumn::Values(v) => engine::ParamColumn::Values(params_in(v)),
            })
            .collect();
        engine::Statement::run_many(self, &columns, rows as usize, begin.as_deref()).map(page_out).map_err(err)
    }
}

impl GuestBlob for engine::Blob {
    fn length(&self) -> i32 {
        engine::Blob::length(self)
    }

    fn read(&self, offset: i32, length: i32) -> Result<Vec<u8>, SqliteError> {
        engine::Blob::read(self, offset, length).map_err(err)
    }

    fn write(&self, offset: i32, data: Vec<u8>) -> Result<(), SqliteError> {
        engine::Blob::write(self, offset, &data).map_err(err)
    }
}

impl GuestBackup for engine::Backup {
    fn create(
        target: ConnectionBorrow<'_>,
        target_name: String,
        source: ConnectionBorrow<'_>,
        source_name: String,
    ) -> Result<Backup, SqliteError> {
        let (t, s) = (target.get::<engine::Connection>(), source.get::<engine::Connection>());
        engine::Backup::new(t, &target_name, s, &source_name).map(Backup::new).map_err(err)
    }

    fn step(&self, pages: i32) -> Result<BackupProgress, SqliteError> {
        let p = engine::Backup::step(self, pages).map_err(err)?;
        Ok(BackupProgress { status: p.status, remaining: p.remaining, pagecount: p.pagecount })
    }

    fn finish(&self) -> Result<(), SqliteError> {
        engine::Backup::finish(self).map_err(err)
    }
}

//! The ids cap: unique identifiers of several schemes behind one interface
//! (`pylon:ids/ids@0.1.0`), the scheme picked by name — a "mux" cap.
//!
//! The logic is plain Rust, testable on the host ([`Scheme`], [`generate`], [`parse`]...);
//! the WIT glue, built only for Wasm, is a thin wrapper. State (the monotonic ULID
//! generator, uuid's v7 context, the thread RNG) lives in the component instance.
//! Randomness and time come from WASI through std and getrandom (`wasi:random`,
//! `wasi:clocks/wall-clock`).

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;
use svix_ksuid::KsuidLike;

#[cfg(target_arch = "wasm32")]
mod component;

/// The schemes served, sorted; `[package.metadata.pylon] schemes` lists the same (tested).
pub const SCHEMES: [&str; 4] = ["ksuid", "nanoid", "ulid", "uuid7"];

/// Most identifiers one `generate_many` call makes.
pub const MAX_MANY: u32 = 1_000_000;

/// NanoID's default length and the range of lengths accepted.
pub const NANOID_DEFAULT_SIZE: u32 = 21;
pub const NANOID_SIZES: std::ops::RangeInclusive<u32> = 2..=255;

/// NanoID's URL-safe alphabet, in base64url order (the values `parse` reports). 64
/// symbols: a random byte masked to 6 bits picks one without bias.
const NANOID_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// KSUID timestamps count seconds from this Unix time (2014-05-13T16:53:20Z).
pub const KSUID_EPOCH: u64 = 1_400_000_000;
/// The largest KSUID (all 20 bytes 0xff); base62 strings above it do not fit 20 bytes.
const KSUID_MAX: &str = "aWgEPTl1tmebfsQzFP4bxwgy80V";
const KSUID_LEN: usize = 27;
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Ksuid,
    Nanoid,
    Ulid,
    Uuid7,
}

impl Scheme {
    pub const ALL: [Scheme; 4] = [Scheme::Ksuid, Scheme::Nanoid, Scheme::Ulid, Scheme::Uuid7];

    pub fn name(self) -> &'static str {
        match self {
            Scheme::Ksuid => "ksuid",
            Scheme::Nanoid => "nanoid",
            Scheme::Ulid => "ulid",
            Scheme::Uuid7 => "uuid7",
        }
    }

    /// The scheme named `name` (exactly, lower case).
    pub fn from_name(name: &str) -> Result<Scheme, Error> {
        Scheme::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| Error::UnknownScheme { scheme: name.to_owned(), known: schemes() })
    }
}

/// Why a call failed; mirrors the WIT `error` variant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    UnknownScheme { scheme: String, known: Vec<String> },
    Invalid(String),
    BadArgument(String),
    Exhausted(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::UnknownScheme { scheme, known } => {
                write!(f, "unknown id scheme {scheme:?} (known: {})", known.join(", "))
            }
            Error::Invalid(m) | Error::BadArgument(m) | Error::Exhausted(m) => f.write_str(m),
        }
    }
}

/// A parsed identifier; mirrors the WIT `parsed` record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    pub scheme: &'static str,
    pub canonical: String,
    pub bytes: Vec<u8>,
    pub timestamp_ms: Option<u64>,
}

pub fn schemes() -> Vec<String> {
    SCHEMES.iter().map(|s| (*s).to_owned()).collect()
}

/// The NanoID length for `size`; the fixed-size schemes refuse one.
fn size_for(scheme: Scheme, size: Option<u32>) -> Result<usize, Error> {
    match (scheme, size) {
        (Scheme::Nanoid, None) => Ok(NANOID_DEFAULT_SIZE as usize),
        (Scheme::Nanoid, Some(n)) if NANOID_SIZES.contains(&n) => Ok(n as usize),
        (Scheme::Nanoid, Some(n)) => Err(Error::BadArgument(format!(
            "nanoid size must be between {} and {}, not {n}",
            NANOID_SIZES.start(),
            NANOID_SIZES.end()
        ))),
        (_, None) => Ok(0),
        (s, Some(_)) => Err(Error::BadArgument(format!("{} ids have a fixed size; size applies to nanoid only", s.name()))),
    }
}

/// The instance's ULID generator: one for all calls, so that ULIDs are monotonic.
static ULIDS: Mutex<ulid::Generator> = Mutex::new(ulid::Generator::new());

fn new_ulids(n: usize) -> Result<Vec<String>, Error> {
    // A panic while holding the lock cannot leave the generator half-updated.
    let mut generator = ULIDS.lock().unwrap_or_else(|e| e.into_inner());
    let mut rng = rand::rng();
    (0..n)
        .map(|_| {
            generator.generate_with_source(&mut rng).map(|u| u.to_string()).map_err(|_| {
                Error::Exhausted("ulid: the random part overflowed within this millisecond; try again in the next one".into())
            })
        })
        .collect()
}

fn new_uuid7() -> String {
    uuid::Uuid::now_v7().hyphenated().to_string()
}

fn now_unix_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn new_ksuid(rng: &mut impl Rng) -> Result<String, Error> {
    let secs = now_unix_secs();
    let raw = secs
        .checked_sub(KSUID_EPOCH)
        .and_then(|s| u32::try_from(s).ok())
        .ok_or_else(|| Error::Exhausted(format!("ksuid: the clock ({secs} s since 1970) is outside KSUID's range")))?;
    let mut payload = [0u8; 16];
    rng.fill_bytes(&mut payload);
    Ok(svix_ksuid::Ksuid::new_raw(raw, Some(&payload)).to_string())
}

fn new_nanoid(rng: &mut impl Rng, size: usize) -> String {
    let mut bytes = vec![0u8; size];
    rng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| NANOID_ALPHABET[usize::from(b & 63)] as char).collect()
}

/// One new identifier of `scheme`.
pub fn generate(scheme: &str, size: Option<u32>) -> Result<String, Error> {
    generate_many(scheme, 1, size).map(|mut v| v.pop().expect("one id"))
}

/// `n` new identifiers of `scheme`, in generation order.
pub fn generate_many(scheme: &str, n: u32, size: Option<u32>) -> Result<Vec<String>, Error> {
    let scheme = Scheme::from_name(scheme)?;
    let size = size_for(scheme, size)?;
    if n > MAX_MANY {
        return Err(Error::BadArgument(format!("at most {MAX_MANY} ids per call, not {n}")));
    }
    let n = n as usize;
    let mut rng = rand::rng();
    match scheme {
        Scheme::Ulid => new_ulids(n),
        Scheme::Uuid7 => Ok((0..n).map(|_| new_uuid7()).collect()),
        Scheme::Ksuid => (0..n).map(|_| new_ksuid(&mut rng)).collect(),
        Scheme::Nanoid => Ok((0..n).map(|_| new_nanoid(&mut rng, size)).collect()),
    }
}

/// `text` quoted for a message, in single quotes like Python's repr, and shortened so
/// that a huge argument does not make a huge error.
fn quoted(text: &str) -> String {
    const MAX: usize = 60;
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("'{}'...", text[..i].escape_debug()),
        None => format!("'{}'", text.escape_debug()),
    }
}

fn invalid(scheme: Scheme, text: &str, why: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("invalid {} {}: {why}", scheme.name(), quoted(text)))
}

fn parse_ulid(text: &str) -> Result<Parsed, Error> {
    let s = Scheme::Ulid;
    if text.len() != ulid::ULID_LEN {
        return Err(invalid(s, text, format_args!("a ULID has {} characters, not {}", ulid::ULID_LEN, text.chars().count())));
    }
    // 26 base32 digits hold 130 bits: the first digit must leave the top 2 at zero.
    if !matches!(text.as_bytes()[0], b'0'..=b'7') {
        return Err(invalid(s, text, "the first character must be 0-7 (a ULID is 128 bits)"));
    }
    let id = ulid::Ulid::from_string(text).map_err(|e| {
        invalid(s, text, format_args!("{e} (Crockford base32: 0-9 and A-Z without I, L, O, U)"))
    })?;
    Ok(Parsed {
        scheme: s.name(),
        canonical: id.to_string(),
        bytes: id.to_bytes().to_vec(),
        timestamp_ms: Some(id.timestamp_ms()),
    })
}

fn parse_uuid7(text: &str) -> Result<Parsed, Error> {
    let s = Scheme::Uuid7;
    let id = uuid::Uuid::try_parse(text).map_err(|e| invalid(s, text, e))?;
    if id.get_variant() != uuid::Variant::RFC4122 {
        return Err(invalid(s, text, format_args!("not an RFC 9562 UUID (variant {:?})", id.get_variant())));
    }
    if id.get_version_num() != 7 {
        return Err(invalid(s, text, format_args!("a version {} UUID, not version 7", id.get_version_num())));
    }
    let b = id.as_bytes();
    let ms = b[..6].iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x));
    Ok(Parsed { scheme: s.name(), canonical: id.hyphenated().to_string(), bytes: b.to_vec(), timestamp_ms: Some(ms) })
}

fn parse_ksuid(text: &str) -> Result<Parsed, Error> {
    let s = Scheme::Ksuid;
    if text.len() != KSUID_LEN {
        return Err(invalid(s, text, format_args!("a KSUID has {KSUID_LEN} characters, not {}", text.chars().count())));
    }
    if let Some(c) = text.chars().find(|c| !c.is_ascii() || !BASE62.contains(&(*c as u8))) {
        return Err(invalid(s, text, format_args!("{c:?} is not a base62 character (0-9, A-Z, a-z)")));
    }
    // Same length, and base62's digits are in ASCII order: comparing strings compares values.
    if text > KSUID_MAX {
        return Err(invalid(s, text, format_args!("larger than the largest KSUID, {KSUID_MAX}")));
    }
    let id: svix_ksuid::Ksuid = text.parse().map_err(|e: svix_ksuid::Error| invalid(s, text, e))?;
    let secs = u64::from(id.timestamp_raw()) + KSUID_EPOCH;
    Ok(Parsed { scheme: s.name(), canonical: id.to_string(), bytes: id.bytes().to_vec(), timestamp_ms: Some(secs * 1000) })
}

fn parse_nanoid(text: &str, size: usize) -> Result<Parsed, Error> {
    let s = Scheme::Nanoid;
    let len = text.chars().count();
    if len != size {
        return Err(invalid(s, text, format_args!("expected {size} characters, not {len}")));
    }
    let bytes = text
        .chars()
        .map(|c| {
            NANOID_ALPHABET
                .iter()
                .position(|&a| c.is_ascii() && a == c as u8)
                .map(|i| i as u8)
                .ok_or_else(|| invalid(s, text, format_args!("{c:?} is not in the alphabet A-Z a-z 0-9 - _")))
        })
        .collect::<Result<Vec<u8>, Error>>()?;
    Ok(Parsed { scheme: s.name(), canonical: text.to_owned(), bytes, timestamp_ms: None })
}

/// Parses `text` as an identifier of `scheme`.
pub fn parse(scheme: &str, text: &str, size: Option<u32>) -> Result<Parsed, Error> {
    let scheme = Scheme::from_name(scheme)?;
    let size = size_for(scheme, size)?;
    match scheme {
        Scheme::Ulid => parse_ulid(text),
        Scheme::Uuid7 => parse_uuid7(text),
        Scheme::Ksuid => parse_ksuid(text),
        Scheme::Nanoid => parse_nanoid(text, size),
    }
}

/// Whether `text` is an identifier of `scheme`; unknown schemes and bad sizes are errors.
pub fn validate(scheme: &str, text: &str, size: Option<u32>) -> Result<bool, Error> {
    match parse(scheme, text, size) {
        Ok(_) => Ok(true),
        Err(Error::Invalid(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests;

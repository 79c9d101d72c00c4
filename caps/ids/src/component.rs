//! The WIT glue: a thin wrapper around the crate's functions.

wit_bindgen::generate!({ path: "wit", world: "ids-cap" });

use exports::pylon::ids::ids::{Error, Guest, Parsed, UnknownScheme};

struct Cap;

export!(Cap);

fn err(e: crate::Error) -> Error {
    match e {
        crate::Error::UnknownScheme { scheme, known } => Error::UnknownScheme(UnknownScheme { scheme, known }),
        crate::Error::Invalid(m) => Error::Invalid(m),
        crate::Error::BadArgument(m) => Error::BadArgument(m),
        crate::Error::Exhausted(m) => Error::Exhausted(m),
    }
}

impl Guest for Cap {
    fn schemes() -> Vec<String> {
        crate::schemes()
    }

    fn generate(scheme: String, size: Option<u32>) -> Result<String, Error> {
        crate::generate(&scheme, size).map_err(err)
    }

    fn generate_many(scheme: String, n: u32, size: Option<u32>) -> Result<Vec<String>, Error> {
        crate::generate_many(&scheme, n, size).map_err(err)
    }

    fn parse(scheme: String, text: String, size: Option<u32>) -> Result<Parsed, Error> {
        crate::parse(&scheme, &text, size)
            .map(|p| Parsed { scheme: p.scheme.to_owned(), canonical: p.canonical, bytes: p.bytes, timestamp_ms: p.timestamp_ms })
            .map_err(err)
    }

    fn validate(scheme: String, text: String, size: Option<u32>) -> Result<bool, Error> {
        crate::validate(&scheme, &text, size).map_err(err)
    }
}

//! The WIT glue: exports [`crate::invoke`] as `pylon:dynlink/endpoint@0.1.0`.

wit_bindgen::generate!({ path: "../dynlink/wit", world: "provider" });

use exports::pylon::dynlink::endpoint::Guest;

struct Provider;

export!(Provider);

impl Guest for Provider {
    fn invoke(function: String, input: Vec<u8>) -> Result<Vec<u8>, String> {
        crate::invoke(&function, &input)
    }
}

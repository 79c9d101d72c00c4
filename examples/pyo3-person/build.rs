//! A dependency's `rustc-link-arg` never reaches the final link: the stack size and initial
//! memory of pylon's core come through pylon-libpy's exported `DEP_PYLON_LIBPY_LINK_ARGS`.

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_PYLON_LIBPY_LINK_ARGS");
    if let Ok(args) = std::env::var("DEP_PYLON_LIBPY_LINK_ARGS") {
        for arg in args.split_whitespace() {
            println!("cargo:rustc-link-arg-bins={arg}");
        }
    }
}

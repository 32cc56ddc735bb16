//! Rebuilds the server when the committed web assets change: they are embedded (`src/web.rs`),
//! and a file added to `web/dist/` would otherwise go unnoticed until the next code change.

fn main() {
    println!("cargo:rerun-if-changed=../web/dist");
}

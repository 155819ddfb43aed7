fn main() {
    // The migrations are embedded at compile time: edits there must rebuild this crate.
    println!("cargo:rerun-if-changed=../../migrations/postgres");
    println!("cargo:rerun-if-changed=../../migrations/sqlite");
}

//! With the `dppo` feature, let test and bench binaries find libtorch
//! without LD_LIBRARY_PATH (rpath to `$LIBTORCH/lib`).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    if std::env::var_os("CARGO_FEATURE_DPPO").is_some() {
        if let Ok(dir) = std::env::var("LIBTORCH") {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}/lib");
        }
    }
}

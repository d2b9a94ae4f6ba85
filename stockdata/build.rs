//! Compiles `proto/stockdata.proto` with the `protoc` binary shipped inside the
//! `protoc-bin-vendored` crate, so a fresh machine needs no system protoc.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc);
    tonic_prost_build::configure()
        .build_transport(false)
        .compile_with_config(config, &["proto/stockdata.proto"], &["proto"])?;
    println!("cargo:rerun-if-changed=proto/stockdata.proto");
    Ok(())
}

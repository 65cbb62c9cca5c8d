//! What the platform layer changes on Linux: `serve --key-file` (the path
//! the Windows service passes) and `service`, which is Windows only here.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use oilmat_testkit::*;

#[test]
fn serve_keeps_the_key_where_key_file_says_outside_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("workshop_logs");
    let key = dir.path().join("secret.key");
    let config = dir.path().join("oilmat.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n[management]\nlisten = \"127.0.0.1:0\"\n",
            data.to_str().unwrap()
        ),
    )
    .unwrap();
    let mut host = Proc::oilmat(
        &[
            "serve",
            "--config",
            config.to_str().unwrap(),
            "--key-file",
            key.to_str().unwrap(),
        ],
        &[("RUST_LOG", TEST_LOG), ("OILMAT_ADMIN_TOKEN", TOKEN)],
        "key-file",
    );
    let mode = std::fs::metadata(&key).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the key file is the owner's only");
    assert_eq!(std::fs::read_to_string(&key).unwrap().trim().len(), 64);
    assert!(!data.join(".oilmat-secret.key").exists());
    host.stop(Duration::from_secs(10));
}

#[test]
fn service_is_windows_only_and_points_to_systemd() {
    let out = std::process::Command::new(bin())
        .args(["service", "install"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("Windows only") && said.contains("systemd"),
        "{said}"
    );
}

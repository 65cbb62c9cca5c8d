//! The synthetic check: `oilmat-erp check` against both sandbox ERPs (a good
//! login, a wrong password, an unknown probe case; nothing ever added), and a
//! workshop's periodic probe as the `oilmat_probe_success` metric, which
//! drops to 0 once the ERP password changes.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use oilmat_testkit::*;

const CASE: &str = "0558";

/// `oilmat-erp check ARGS` with `env`: (exit code, stdout, stderr).
fn check(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(bin());
    cmd.arg("check").args(args).env_remove("OILMAT_WEBDRIVER");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run oilmat-erp check");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The check of `erp`: good, wrong password, unknown case; the case gets no line.
fn check_flow(erp: &str, steps: &[&str]) {
    let sandbox = Sandbox::start(erp);
    sandbox.case(CASE, "open");
    let flags = |case: &'static str| {
        vec![
            "w".to_string(),
            "--erp-type".into(),
            erp.into(),
            "--erp-url".into(),
            sandbox.url().into(),
            "--username".into(),
            USER.into(),
            "--password-env".into(),
            "CHECK_PW".into(),
            "--case".into(),
            case.into(),
        ]
    };
    let run = |case: &'static str, password: &str| {
        let args = flags(case);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        check(&args, &[("CHECK_PW", password)])
    };

    let (code, out, err) = run(CASE, PASSWORD);
    assert_eq!(code, 0, "{out}\n{err}");
    for step in steps {
        let line = out.lines().find(|l| l.contains(step));
        let line = line.unwrap_or_else(|| panic!("no step {step:?} in\n{out}"));
        assert!(line.contains("ok") && line.contains(" ms"), "{line}");
    }
    assert!(out.contains("OK: "), "{out}");

    let (code, out, err) = run(CASE, "wrong-password");
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.contains("FAILED") && out.contains("login failed"),
        "{out}"
    );
    assert!(!out.contains("wrong-password") && !err.contains("wrong-password"));

    let (code, out, err) = run("404404", PASSWORD);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.contains("probe case \"404404\" does not exist"),
        "{out}"
    );

    assert_eq!(sandbox.lines(CASE), Vec::<serde_json::Value>::new());
}

#[test]
fn check_au2office() {
    check_flow("au2office", &["start browser", "login", "open case"]);
}

#[test]
fn check_admanager() {
    check_flow(
        "admanager",
        &["start browser", "login", "open case", "open lines"],
    );
}

/// The workshop from the host config; a flag overrides the config's password.
#[test]
fn check_reads_the_host_config() {
    let sandbox = Sandbox::start("au2office");
    sandbox.case(CASE, "open");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("oilmat.toml");
    let data_dir = dir.path().join("data");
    let toml = format!(
        "data_dir = {data:?}\n[workshops.hosses]\nerp_type = \"au2office\"\nerp_url = {url:?}\n\
         port = 5999\nusername = {USER:?}\npassword_env = \"HOSSES_PW\"\nprobe_case = {CASE:?}\n",
        data = data_dir.to_str().unwrap(),
        url = sandbox.url(),
    );
    std::fs::write(&config, toml).unwrap();
    let config = config.to_str().unwrap();

    let env = [("HOSSES_PW", PASSWORD), ("OTHER_PW", "not-it")];
    let (code, out, err) = check(&["hosses", "--config", config], &env);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains(&format!("case {CASE}")), "{out}");
    let args = ["hosses", "--config", config, "--password-env", "OTHER_PW"];
    let (code, out, _) = check(&args, &env);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("login failed"), "{out}");
    let (code, _, err) = check(&["other", "--config", config], &env);
    assert_eq!(code, 1);
    assert!(err.contains("\"other\" is not in"), "{err}");
    assert!(!data_dir.exists(), "a check writes nothing");
}

/// The value of `oilmat_probe_success` for `workshop` in a scrape, if exported.
fn probe_success(scrape: &str, workshop: &str) -> Option<f64> {
    let series = format!("oilmat_probe_success{{workshop=\"{workshop}\"}} ");
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(&series))
        .and_then(|v| v.trim().parse().ok())
}

#[test]
fn the_periodic_probe_is_a_metric() {
    let sandbox = Sandbox::start("au2office");
    sandbox.case(CASE, "open");
    let data = tempfile::tempdir().unwrap();
    let args = [
        "workshop",
        "0",
        "probed",
        "au2office",
        "--erp-url",
        sandbox.url(),
        "--data-dir",
        data.path().to_str().unwrap(),
        "--host",
        "127.0.0.1",
        "--probe-case",
        CASE,
        "--probe-interval-secs",
        "1",
        "--probe-username",
        USER,
    ];
    let ws = Proc::oilmat(
        &args,
        &[("RUST_LOG", TEST_LOG), ("OILMAT_PROBE_PASSWORD", PASSWORD)],
        "workshop-probed",
    );
    let http = client();
    let scrape = || {
        http.get(format!("{}/metrics", ws.url))
            .send()
            .and_then(|r| r.text())
            .unwrap_or_default()
    };
    let wait_for = |want: f64| {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = scrape();
            if probe_success(&text, "probed") == Some(want) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "no oilmat_probe_success {want} in time:\n{text}\n{}",
                ws.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };

    let text = wait_for(1.0);
    for name in [
        "oilmat_probe_last_run_timestamp_seconds{workshop=\"probed\"}",
        "oilmat_probe_duration_seconds{workshop=\"probed\"}",
    ] {
        assert!(text.contains(name), "{name} missing:\n{text}");
    }

    sandbox.post(
        "users",
        json!({"username": USER, "password": "changed-by-the-erp-admin"}),
    );
    wait_for(0.0);
    assert!(ws.log().contains("login failed"), "{}", ws.log());
    assert!(!ws.log().contains(PASSWORD), "the password was logged");

    // The probe is no order: the case got no line, the log no order event.
    assert_eq!(sandbox.lines(CASE), Vec::<serde_json::Value>::new());
    let out = Command::new(bin())
        .args(["events", "probed", "--json", "--data-dir"])
        .arg(data.path())
        .output()
        .unwrap();
    let events = String::from_utf8_lossy(&out.stdout);
    assert!(
        events.lines().all(|l| !l.contains("\"unique_id\":\"")),
        "{events}"
    );
}

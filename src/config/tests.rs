//! The config file's parsing, merging and checks.

use super::*;
use proptest::prelude::*;

#[test]
fn the_example_parses() {
    let config = HostConfig::parse(EXAMPLE).unwrap();
    let hosses = &config.workshops["hosses"];
    assert_eq!(hosses.erp_type.as_deref(), Some("admanager"));
    assert_eq!(hosses.port, Some(5000));
    assert_eq!(config.management.listen, "127.0.0.1:8080");
}

#[test]
fn unknown_keys_are_named() {
    let err = HostConfig::parse("data_dir = \"x\"\nbogus = 1\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("bogus"), "{err}");
    let err = HostConfig::parse("[workshops.a]\nprot = 1\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("prot"), "{err}");
}

#[test]
fn a_change_keeps_what_it_leaves_out() {
    let base = IntegrationConfig {
        erp_type: Some("au2office".into()),
        password: Some(Secret::new("pw")),
        port: Some(5000),
        ..Default::default()
    };
    let change = IntegrationConfig {
        port: Some(5001),
        ..Default::default()
    };
    let merged = base.merged(&change);
    assert_eq!(merged.port, Some(5001));
    assert_eq!(merged.password.unwrap().expose(), "pw");
}

#[test]
fn probe_settings_parse_and_merge() {
    let config =
        HostConfig::parse("[workshops.a]\nprobe_case = \"0558\"\nprobe_interval_secs = 60\n")
            .unwrap();
    let a = &config.workshops["a"];
    assert_eq!(a.probe_case.as_deref(), Some("0558"));
    assert_eq!(a.probe_interval_secs, Some(60));
    let off = IntegrationConfig {
        probe_interval_secs: Some(0),
        ..Default::default()
    };
    let merged = a.merged(&off);
    assert_eq!(merged.probe_case.as_deref(), Some("0558"));
    assert_eq!(merged.probe_interval_secs, Some(0));
}

#[test]
fn tuning_tables_parse_into_typed_settings() {
    let config = HostConfig::parse(
        "[workshops.x]\nerp_url = \"http://erp.example/base/\"\n\
         [workshops.x.retry]\nmax_attempts = 2\ninitial_backoff_ms = 10\ncrash_limit = 5\nmax_unique_id_len = 40\n\
         [workshops.x.timeouts]\nstep_secs = 7\nsettle_secs = 30\n\
         [workshops.x.browser]\nidle_close_secs = 9\n\
         [workshops.x.evidence]\nmax_files = 5\n",
    )
    .unwrap();
    let x = &config.workshops["x"];
    assert_eq!(x.erp_url.as_ref().unwrap().host_str(), Some("erp.example"));
    let tuning = x.tuning();
    assert_eq!(
        tuning.retry,
        RetryPolicy {
            max_attempts: 2,
            initial_backoff_ms: 10,
            max_backoff_ms: RetryPolicy::DEFAULT.max_backoff_ms,
            crash_limit: 5,
            max_unique_id_len: 40,
            ..RetryPolicy::DEFAULT
        }
    );
    assert_eq!(tuning.retry.policy(tuning.timeouts.settle()).crash_limit, 5);
    assert_eq!(
        tuning.timeouts,
        Timeouts {
            step_secs: 7,
            attempt_secs: 120,
            settle_secs: 30
        }
    );
    assert_eq!(tuning.browser.idle_close_secs, 9);
    assert_eq!(tuning.evidence.max_files, 5);
    assert_eq!(tuning.evidence.max_age_days, 30);
    // Tables left out take their defaults.
    let plain = HostConfig::parse("[workshops.y]\nport = 1\n").unwrap();
    assert_eq!(plain.workshops["y"].tuning(), Tuning::default());
}

#[test]
fn unknown_keys_in_tuning_tables_are_named() {
    for (table, key) in [
        ("retry", "max_attempt"),
        ("timeouts", "step_timeout_secs"),
        ("browser", "idle_close"),
        ("evidence", "max_age"),
    ] {
        let text = format!("[workshops.x.{table}]\n{key} = 1\n");
        let err = HostConfig::parse(&text).unwrap_err().to_string();
        assert!(err.contains(key), "{table}: {err}");
    }
}

#[test]
fn the_management_api_takes_the_same_objects() {
    let change: IntegrationConfig =
        serde_json::from_str(r#"{"retry": {"max_attempts": 1}, "timeouts": {"step_secs": 5}}"#)
            .unwrap();
    let base = IntegrationConfig {
        browser: Some(BrowserSettings { idle_close_secs: 1 }),
        retry: Some(RetryPolicy::default()),
        ..Default::default()
    };
    let tuning = base.merged(&change).tuning();
    assert_eq!(tuning.retry.max_attempts, 1);
    assert_eq!(tuning.timeouts.step_secs, 5);
    assert_eq!(tuning.browser.idle_close_secs, 1);
    let err = serde_json::from_str::<IntegrationConfig>(r#"{"retry": {"attempts": 1}}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("attempts"), "{err}");
    // What the host keeps reads back the same.
    let kept = serde_json::to_string(&base.merged(&change)).unwrap();
    let back: IntegrationConfig = serde_json::from_str(&kept).unwrap();
    assert_eq!(back, base.merged(&change));
}

#[test]
fn erp_urls_are_checked_and_the_field_named() {
    for (text, says) in [
        ("ftp://erp.example", "http://"),
        ("erp.example", "not a URL"),
        ("http://", "not a URL"),
        ("mailto:someone@erp.example", "http://"),
    ] {
        let err = HostConfig::parse(&format!("[workshops.x]\nerp_url = {text:?}\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("erp_url") && err.contains(says),
            "{text}: {err}"
        );
    }
    assert!(parse_url("--erp-url", "https://erp.example:8443/x").is_ok());
    let err = parse_url("--erp-url", "file:///etc").unwrap_err();
    assert!(err.starts_with("--erp-url"), "{err}");
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        let _ = HostConfig::parse(&text);
    }

    #[test]
    fn arbitrary_toml_like_text_never_panics(
        keys in prop::collection::vec("[a-z_]{1,12}", 0..6),
        values in prop::collection::vec(prop_oneof!["\"[^\"]{0,10}\"", "[0-9]{1,6}", Just("true".to_string()), Just("[1,2]".to_string())], 0..6)
    ) {
        let mut text = String::from("[workshops.w]\n");
        for (k, v) in keys.iter().zip(values.iter()) {
            text.push_str(&format!("{k} = {v}\n"));
        }
        let _ = HostConfig::parse(&text);
    }
}

#[test]
fn the_example_works_under_the_access_rules_and_holds_no_password() {
    let config = HostConfig::parse(EXAMPLE).unwrap();
    let hosses = &config.workshops["hosses"];
    assert!(hosses.listen.unwrap().is_loopback());
    assert!(hosses.password.is_none());
    assert_eq!(hosses.password_env.as_deref(), Some("HOSSES_ERP_PASSWORD"));
    assert!(!EXAMPLE.contains("password = \"demo"));
}

#[cfg(unix)]
#[test]
fn the_example_is_written_for_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oilmat.toml");
    let (_, created) = HostConfig::load_or_create(&path).unwrap();
    assert!(created);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let (_, created) = HostConfig::load_or_create(&path).unwrap();
    assert!(!created);
}

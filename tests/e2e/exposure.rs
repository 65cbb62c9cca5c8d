//! What is exposed, through the real binary (issue 12, "Tests"): the
//! start-up summary of insecure settings, the bound on kept bad requests,
//! the environment of every browser process, evidence file modes, and
//! order logins deleted once their order is completed (design.md rule 5).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use oilmat_erp::event_log::commands::credentials_key;
use oilmat_erp::event_log::store::Store;
use oilmat_testkit::*;

const KEY_HEX: &str = "5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7";

/// The start-up summary line of a process's log.
fn summary_of(proc: &Proc) -> String {
    let mut line = None;
    wait_until("the security summary", Duration::from_secs(10), || {
        line = proc
            .log()
            .lines()
            .find(|l| l.contains("security summary:"))
            .map(str::to_string);
        line.is_some()
    });
    line.unwrap_or_default()
}

/// What is insecure here whatever the configuration says: running as root
/// (Chromium needs --no-sandbox), a key in this test's own environment.
fn always_in_force() -> Vec<&'static str> {
    let mut items = Vec::new();
    if unsafe { libc::geteuid() } == 0 {
        items.push("--no-sandbox");
    }
    if std::env::var_os("OILMAT_SECRET_KEY").is_some() {
        items.push("OILMAT_SECRET_KEY");
    }
    items
}

/// A summary that names `items` and nothing else.
fn assert_names_only(summary: &str, items: &[&str]) {
    if items.is_empty() {
        assert!(
            summary.contains("no insecure setting in force"),
            "{summary}"
        );
        return;
    }
    assert!(
        summary.contains(&format!("{} insecure setting(s) in force", items.len())),
        "{items:?}: {summary}"
    );
    for item in items {
        assert!(summary.contains(item), "{item}: {summary}");
    }
}

fn workshop_args<'a>(dir: &'a str, erp_url: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "workshop",
        "0",
        "sum",
        "au2office",
        "--erp-url",
        erp_url,
        "--data-dir",
        dir,
        "--host",
        "127.0.0.1",
    ];
    args.extend_from_slice(extra);
    args
}

#[test]
fn the_start_up_summary_names_every_insecure_setting_in_force() {
    let always = always_in_force();

    // workshop: anonymous /create, no admin token, an ERP and a grid over
    // plain HTTP elsewhere, the key from the environment.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("open");
    let args = workshop_args(
        data.to_str().unwrap(),
        "http://192.0.2.10:8000",
        &["--webdriver", "http://192.0.2.11:4444"],
    );
    let open = Proc::oilmat(
        &args,
        &[
            ("RUST_LOG", TEST_LOG),
            ("OILMAT_ADMIN_TOKEN", ""),
            ("OILMAT_SECRET_KEY", KEY_HEX),
        ],
        "summary-open",
    );
    let summary = summary_of(&open);
    let mut items = vec![
        "anonymous /create accepted on 127.0.0.1:",
        "no OILMAT_ADMIN_TOKEN",
        "erp_url http://192.0.2.10:8000",
        "webdriver http://192.0.2.11:4444",
        "OILMAT_SECRET_KEY",
    ];
    items.extend(always.iter().filter(|i| **i != "OILMAT_SECRET_KEY"));
    assert_names_only(&summary, &items);
    assert!(!summary.contains(KEY_HEX));
    drop(open);

    // workshop, configured safely: a key for /create, a token, HTTPS.
    let data = dir.path().join("safe");
    let args = workshop_args(
        data.to_str().unwrap(),
        "https://127.0.0.1:9",
        &["--api-key-env", "SUMMARY_API_KEY"],
    );
    let safe = Proc::oilmat(
        &args,
        &[
            ("RUST_LOG", TEST_LOG),
            ("OILMAT_ADMIN_TOKEN", TOKEN),
            ("SUMMARY_API_KEY", "k-summary"),
        ],
        "summary-safe",
    );
    assert_names_only(&summary_of(&safe), &always);
    drop(safe);

    // serve: a management API on every address, the console's cookie not
    // Secure, an anonymous integration with a password in the file and an
    // ERP over plain HTTP elsewhere; a keyed one beside it is fine.
    let table = |name: &str, body: &str| {
        format!(
            "[workshops.{name}]\nerp_type = \"au2office\"\nport = {}\nusername = \"{USER}\"\n{body}\n",
            free_port()
        )
    };
    let config = dir.path().join("open.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n[management]\nlisten = \"0.0.0.0:0\"\n{}{}",
            dir.path().join("host-open").display(),
            table(
                "anon",
                &format!("erp_url = \"http://192.0.2.10:8000\"\nallow_anonymous_create = true\npassword = \"{PASSWORD}\"")
            ),
            table(
                "keyed",
                "erp_url = \"https://127.0.0.1:9\"\nlisten = \"127.0.0.1\"\napi_key = \"k-1\"\npassword_env = \"SUMMARY_PW\""
            ),
        ),
    )
    .unwrap();
    let env = [
        ("RUST_LOG", TEST_LOG),
        ("OILMAT_ADMIN_TOKEN", TOKEN),
        ("SUMMARY_PW", PASSWORD),
    ];
    let host = Proc::oilmat(
        &["serve", "--config", config.to_str().unwrap()],
        &env,
        "summary-host-open",
    );
    let summary = summary_of(&host);
    let mut items = vec![
        "the management API listens on 0.0.0.0:",
        "session cookie is not marked Secure",
        "anon: anonymous /create accepted on 0.0.0.0:",
        "anon: the ERP password is in plain text in the config file",
        "anon: erp_url http://192.0.2.10:8000",
    ];
    items.extend(&always);
    assert_names_only(&summary, &items);
    assert!(!summary.contains("keyed:"), "{summary}");
    assert!(!summary.contains(PASSWORD));
    drop(host);

    // serve, configured safely.
    let config = dir.path().join("safe.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n[management]\nlisten = \"127.0.0.1:0\"\n[console]\nsecure_cookie = true\n{}",
            dir.path().join("host-safe").display(),
            table(
                "keyed",
                "erp_url = \"https://127.0.0.1:9\"\nlisten = \"127.0.0.1\"\napi_key = \"k-1\"\npassword_env = \"SUMMARY_PW\""
            ),
        ),
    )
    .unwrap();
    let host = Proc::oilmat(
        &["serve", "--config", config.to_str().unwrap()],
        &env,
        "summary-host-safe",
    );
    assert_names_only(&summary_of(&host), &always);
}

/// The value of an unlabelled-but-for-workshop series in a scrape.
fn metric(scrape: &str, series: &str) -> Option<f64> {
    scrape
        .lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[test]
fn a_flood_of_bad_requests_leaves_the_bound_retained() {
    let sandbox = Sandbox::start("au2office");
    let data = tempfile::tempdir().unwrap();
    let args = ["--bad-requests-kept", "5"];
    let mut ws = Workshop::start("flood", "au2office", &sandbox, data.path(), &args);
    for i in 0..12 {
        let mut bad = order(&format!("bad-{i}"), "100", "10", "1");
        bad.as_object_mut().unwrap().remove("case_id");
        assert_eq!(ws.create(&bad).0, 400);
    }
    let check = |ws: &Workshop| {
        for i in 0..7 {
            assert_eq!(ws.status(&format!("bad-{i}")).0, 404, "bad-{i} forgotten");
        }
        for i in 7..12 {
            let (code, status) = ws.status(&format!("bad-{i}"));
            assert_eq!(
                (code, status["status"].as_str()),
                (200, Some("bad request"))
            );
        }
        let scrape = ws.get_text("/metrics");
        let series = "oilmat_bad_requests_retained{workshop=\"flood\"}";
        assert_eq!(metric(&scrape, series), Some(5.0), "{scrape}");
        let total = "oilmat_orders_bad_request_total{workshop=\"flood\"}";
        assert_eq!(metric(&scrape, total), Some(12.0), "the counter counts all");
    };
    check(&ws);
    // A forgotten id may be posted again, corrected (no browser needed).
    assert_eq!(ws.put("/stop_worker").0, 200);
    assert_eq!(ws.create(&order("bad-0", "100", "10", "1")).0, 200);
    assert_eq!(ws.status("bad-0").1["status"], "received");

    // The same after a restart: the bound is a fold of the log.
    ws.proc.stop(Duration::from_secs(10));
    drop(ws);
    let ws = Workshop::start("flood", "au2office", &sandbox, data.path(), &args);
    for i in 1..7 {
        assert_eq!(ws.status(&format!("bad-{i}")).0, 404, "bad-{i} forgotten");
    }
    assert_eq!(ws.status("bad-11").1["status"], "bad request");
}

/// Every process below `root` (children, grandchildren, ...).
fn descendants(root: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let ppid = stat.rsplit_once(") ")?.1.split_whitespace().nth(1)?;
            Some((pid, ppid.parse().ok()?))
        })
        .collect();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    found.remove(0);
    found
}

fn assert_private_tree(dir: &Path, files: &mut usize) {
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(dir), 0o700, "{}", dir.display());
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            assert_private_tree(&path, files);
        } else {
            assert_eq!(mode(&path), 0o600, "{}", path.display());
            *files += 1;
        }
    }
}

#[test]
fn browsers_get_no_secret_evidence_is_private_and_order_logins_go_when_completed() {
    let sandbox = Sandbox::start("au2office");
    sandbox.case("558", "open");
    sandbox.item("10");
    let data = tempfile::tempdir().unwrap();
    let secrets = [
        ("OILMAT_SECRET_KEY", KEY_HEX),
        ("OILMAT_ADMIN_TOKEN", "admin-token-9f8e7d"),
        ("HOSSES_ERP_PASSWORD", "env-password-4d5e6f"),
    ];
    let mut env = secrets.to_vec();
    env.push(("OILMAT_SUPPORT_TOKEN", "support-token-1a2b3c"));
    let mut ws = Workshop::start_env("envs", "au2office", &sandbox, data.path(), FAST, &env);
    assert_eq!(ws.create(&order("e-good", "558", "10", "1")).0, 200);
    assert_eq!(ws.create(&order("e-item", "558", "999", "1")).0, 200);
    let done = ws.wait_final(
        &["e-good".to_string(), "e-item".to_string()],
        Duration::from_secs(180),
    );
    assert_eq!(done[0].1["status"], "completed", "{done:?}");
    assert_eq!(done[1].1["status"], "failed", "{done:?}");

    // The browser still runs (it closes when idle): every process the
    // workshop started, as the OS reports its environment.
    let below = descendants(ws.proc.pid());
    let mut browsers = 0;
    for pid in &below {
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        browsers += usize::from(comm.contains("chrom"));
        let text = String::from_utf8_lossy(&environ);
        for value in env.iter().map(|(_, v)| *v).chain([PASSWORD]) {
            assert!(!text.contains(value), "{}: {comm} holds a secret", pid);
        }
        assert!(!text.contains("OILMAT_"), "{pid} ({comm}): {text}");
    }
    assert!(browsers >= 2, "chromedriver and Chromium seen: {below:?}");

    // Evidence of the failed attempt: folders 0700, files 0600.
    let mut files = 0;
    assert_private_tree(&data.path().join("envs").join("evidence"), &mut files);
    assert!(files > 0, "the failed attempt kept evidence");

    // design.md rule 5: the completed order's login is gone, the failed
    // one's (it may be requeued) is kept, encrypted.
    ws.proc.stop(Duration::from_secs(10));
    let store = Store::open(&data.path().join("envs").join("log")).unwrap();
    assert_eq!(store.secret(&credentials_key("e-good")).unwrap(), None);
    let kept = store.secret(&credentials_key("e-item")).unwrap();
    let kept: Vec<u8> = kept.expect("the failed order's login is kept");
    assert!(!kept
        .windows(PASSWORD.len())
        .any(|w| w == PASSWORD.as_bytes()));
}

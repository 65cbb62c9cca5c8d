//! No way in by default (issue 12), through the real binary: who counts as
//! local, what `serve` refuses to open, the ERP origin rule, hostile
//! `RUST_LOG` values, trickled bodies and `/queue` paging.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use oilmat_testkit::*;

/// Sends `head` (and no body) over a fresh connection; the answer's status.
fn raw_status(addr: SocketAddr, head: &str) -> u16 {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

/// A request head as a proxy (or a foreign page) would send it.
fn head(method: &str, path: &str, host: &str, extra: &str) -> String {
    format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n")
}

const PROXIED: [&str; 5] = [
    "X-Forwarded-For: 203.0.113.9\r\n",
    "X-Forwarded-Host: oilmat.example\r\n",
    "Forwarded: for=203.0.113.9\r\n",
    "X-Real-IP: 203.0.113.9\r\n",
    "",
];

#[test]
fn only_callers_local_in_every_way_control_a_workshop_without_a_token() {
    let sandbox = Sandbox::start("au2office");
    let dir = tempfile::tempdir().unwrap();
    let ws = Workshop::start("sec", "au2office", &sandbox, dir.path(), FAST);
    let addr = ws.proc.addr();
    for extra in &PROXIED[..4] {
        let code = raw_status(addr, &head("PUT", "/stop_worker", "127.0.0.1", extra));
        assert_eq!(code, 401, "{extra}");
    }
    for host in ["oilmat.example", "10.1.2.3:5000", "localhost.example"] {
        assert_eq!(
            raw_status(addr, &head("PUT", "/kill", host, "")),
            401,
            "{host}"
        );
    }
    let (_, alive) = ws.get("/alive");
    assert_eq!(
        alive["API is alive, worker running"], true,
        "nothing changed"
    );
    // A plain local call works.
    assert_eq!(
        raw_status(addr, &head("PUT", "/stop_worker", "localhost", "")),
        200
    );

    // /queue pages; length is always the whole queue.
    for i in 0..3 {
        assert_eq!(
            ws.create(&order(&format!("q-{i}"), "100", "10", "1")).0,
            200
        );
    }
    let (code, page) = ws.get("/queue?type=task&limit=1&offset=1");
    assert_eq!(code, 200);
    assert_eq!(page["length"], 3);
    let entries = page["queue"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["unique_id"], "q-1");
    assert_eq!(entries[0]["password"], "***");
    let (_, all) = ws.get("/queue?type=task");
    assert_eq!(
        all["queue"].as_array().unwrap().len(),
        3,
        "the default is the whole queue"
    );

    // A trickled body is cut off, while a normal /create is answered.
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.write_all(b"POST /create HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 400\r\n\r\n{")
        .unwrap();
    let trickler = {
        let mut slow = slow.try_clone().unwrap();
        std::thread::spawn(move || {
            for _ in 0..40 {
                std::thread::sleep(Duration::from_millis(1000));
                if slow.write_all(b" ").is_err() {
                    return;
                }
            }
        })
    };
    assert_eq!(ws.create(&order("normal", "100", "10", "1")).0, 200);
    let started = Instant::now();
    slow.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut answer = Vec::new();
    let _ = slow.read_to_end(&mut answer);
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(20),
        "the trickled body was not cut off within 20 s ({took:?})"
    );
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    trickler.join().unwrap();
}

#[test]
fn a_hostile_rust_log_prints_no_password() {
    let sandbox = Sandbox::start("au2office");
    sandbox.case("100", "open");
    sandbox.item("10");
    let dir = tempfile::tempdir().unwrap();
    let hostile = "trace,[login]=trace,[book_line]=trace,thirtyfour=trace,reqwest=trace";
    let ws = Workshop::start_env(
        "loud",
        "au2office",
        &sandbox,
        dir.path(),
        FAST,
        &[("RUST_LOG", hostile)],
    );
    assert_eq!(ws.create(&order("loud-1", "100", "10", "1")).0, 200);
    let done = ws.wait_final(&["loud-1".to_string()], Duration::from_secs(120));
    assert_eq!(done[0].1["status"], "completed", "{done:?}");
    let log = ws.proc.log();
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "the filter was hostile indeed"
    );
    assert!(!log.contains(PASSWORD), "the password reached the log");
}

/// A listener that counts who connects (an ERP address nobody must call).
fn nobody_calls() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

#[test]
fn serve_opens_nothing_it_was_not_told_to() {
    let sandbox = Sandbox::start("au2office");
    sandbox.case("100", "open");
    sandbox.item("10");
    let dir = tempfile::tempdir().unwrap();
    let (port_local, port_open, port_anon) = (free_port(), free_port(), free_port());
    let table = |name: &str, port: u16, extra: &str| {
        format!(
            "[workshops.{name}]\nerp_type = \"au2office\"\nerp_url = \"{}\"\nport = {port}\nusername = \"{USER}\"\npassword = \"{PASSWORD}\"\n{extra}",
            sandbox.url()
        )
    };
    let config = dir.path().join("oilmat.toml");
    let text = format!(
        "data_dir = \"{}\"\n[management]\nlisten = \"127.0.0.1:0\"\n{}{}{}",
        dir.path().join("data").display(),
        table("local", port_local, "listen = \"127.0.0.1\"\n"),
        table("open", port_open, ""),
        table("anon", port_anon, "allow_anonymous_create = true\n"),
    );
    std::fs::write(&config, text).unwrap();
    let host = HostUnderTest::start(&config);

    // No key and no allow_anonymous_create on 0.0.0.0: reported and skipped.
    let open = host.integration("open");
    assert_eq!(open["api"], "stopped", "{open}");
    let reason = open["last_error"].as_str().unwrap();
    assert!(
        reason.contains("api_key") && reason.contains("allow_anonymous_create"),
        "{reason}"
    );
    assert!(client()
        .post(format!("http://127.0.0.1:{port_open}/create"))
        .body("{}")
        .send()
        .is_err());
    // Said in so many words: it runs, flagged and warned about.
    let anon = host.integration("anon");
    assert_eq!(
        (anon["api"].as_str(), anon["anonymous_create"].as_bool()),
        (Some("running"), Some(true))
    );
    assert_eq!(host.integration("local")["anonymous_create"], false);
    assert!(host.proc.log().contains("allow_anonymous_create = true"));

    // Over the API: the same rule, 400 with the reason.
    let new = |extra: Value| {
        let mut body = json!({"erp_type": "au2office", "erp_url": sandbox.url(), "port": free_port(),
                              "username": USER, "password": PASSWORD});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let (code, answer) = host.put("/integrations/public", Some(new(json!({}))));
    assert_eq!(code, 400, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("api_key"),
        "{answer}"
    );
    assert_eq!(host.get("/integrations/public").0, 404);
    let (code, answer) = host.put(
        "/integrations/keyed",
        Some(new(json!({"api_key": "k-123"}))),
    );
    assert_eq!(code, 201, "{answer}");
    // password_env over the API: 400.
    let (code, answer) = host.put(
        "/integrations/local",
        Some(json!({"password_env": "OILMAT_SECRET_KEY"})),
    );
    assert_eq!(code, 400, "{answer}");
    assert!(answer["error"]
        .as_str()
        .unwrap()
        .contains("config file only"));

    // A new ERP origin without the password: 400, and the new address is never called.
    let (listener, elsewhere) = nobody_calls();
    for path in ["/integrations/local", "/integrations/local?verify=true"] {
        let (code, answer) = host.put(path, Some(json!({"erp_url": elsewhere})));
        assert_eq!(code, 400, "{path}: {answer}");
        assert!(
            answer["error"]
                .as_str()
                .unwrap()
                .contains("needs the password again"),
            "{answer}"
        );
    }
    assert!(listener.accept().is_err(), "the new address was called");
    let (_, described) = host.get("/integrations/local");
    assert_eq!(
        described["config"]["erp_url"]
            .as_str()
            .map(|u| u.trim_end_matches('/')),
        Some(sandbox.url().trim_end_matches('/'))
    );

    // The local integration books as before.
    assert_eq!(post_order(port_local, "l-1", "100").0, 200);
    wait_completed(port_local, "l-1");
}

#[test]
fn the_management_api_without_a_token_admits_only_local_callers() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("oilmat.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n[management]\nlisten = \"127.0.0.1:0\"\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let proc = Proc::oilmat(
        &["serve", "--config", config.to_str().unwrap()],
        &[("RUST_LOG", TEST_LOG), ("OILMAT_ADMIN_TOKEN", "")],
        "host-no-token",
    );
    let addr = proc.addr();
    let body = r#"{"erp_type":"au2office","erp_url":"http://127.0.0.1:9","port":1,"listen":"127.0.0.1","username":"u","password":"p","active":false}"#;
    for extra in &PROXIED[..4] {
        let request = format!(
            "PUT /integrations/x HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        assert_eq!(raw_status(addr, &request), 401, "{extra}");
    }
    assert_eq!(
        raw_status(addr, &head("GET", "/integrations", "oilmat.example", "")),
        401
    );
    assert_eq!(
        raw_status(addr, &head("GET", "/integrations/x", "localhost", "")),
        404,
        "nothing was created"
    );
    assert_eq!(
        raw_status(addr, &head("GET", "/integrations", "localhost", "")),
        200
    );
    assert!(proc.log().contains("local in every way"));
}

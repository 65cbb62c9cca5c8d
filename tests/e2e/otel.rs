//! One trace per order: an OTLP/HTTP receiver run by the test gets the spans
//! of an order (request, attempt, browser steps) under the trace id of the
//! request's `traceparent`, the same id the order's events carry; the last
//! spans arrive even though the workshop stops right after the order.
//! JSON log lines inside an order's spans name its workshop and unique id;
//! the password appears nowhere.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oilmat_testkit::*;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message;
use serde_json::Value;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// One exported span, as the receiver decoded it.
#[derive(Debug, Clone)]
struct Span {
    trace_id: String,
    parent_span_id: String,
    name: String,
    attributes: HashMap<String, String>,
}

/// A tiny OTLP/HTTP collector: accepts `POST /v1/traces` (protobuf) and keeps
/// the bodies.
struct Receiver {
    url: String,
    bodies: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let store = bodies.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let store = store.clone();
                std::thread::spawn(move || serve_connection(stream, &store));
            }
        });
        Receiver { url, bodies }
    }

    /// Every span received so far.
    fn spans(&self) -> Vec<Span> {
        let bodies = self.bodies.lock().unwrap().clone();
        bodies.iter().flat_map(|b| decode(b)).collect()
    }
}

/// Answers the HTTP/1.1 requests of one (keep-alive) connection.
fn serve_connection(stream: TcpStream, store: &Mutex<Vec<Vec<u8>>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        if request_line.starts_with("POST /v1/traces ") {
            store.lock().unwrap().push(body);
        }
        let answer =
            "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n";
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode(body: &[u8]) -> Vec<Span> {
    let request = ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf body");
    let mut spans = Vec::new();
    for resource in request.resource_spans {
        for scope in resource.scope_spans {
            for span in scope.spans {
                let attributes = span
                    .attributes
                    .iter()
                    .map(|kv| {
                        let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                            Some(AnyValue::StringValue(s)) => s.clone(),
                            Some(AnyValue::IntValue(i)) => i.to_string(),
                            Some(AnyValue::BoolValue(b)) => b.to_string(),
                            Some(AnyValue::DoubleValue(d)) => d.to_string(),
                            other => format!("{other:?}"),
                        };
                        (kv.key.clone(), value)
                    })
                    .collect();
                spans.push(Span {
                    trace_id: hex(&span.trace_id),
                    parent_span_id: hex(&span.parent_span_id),
                    name: span.name,
                    attributes,
                });
            }
        }
    }
    spans
}

#[test]
fn an_orders_spans_carry_the_trace_id_of_its_events() {
    let receiver = Receiver::start();
    let sandbox = seeded_sandbox();
    let data = tempfile::tempdir().unwrap();
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url.as_str()),
        ("OILMAT_LOG_FORMAT", "json"),
        // Even when asked for WebDriver debug lines, no password may show.
        ("RUST_LOG", "info,oilmat_erp=debug,thirtyfour=debug"),
    ];
    let mut ws = Workshop::start_env("traced", "au2office", &sandbox, data.path(), FAST, &env);
    let traceparent = format!("00-{TRACE_ID}-{CALLER_SPAN}-01");
    let (code, body) = ws.create_with(
        &order("otel-1", "558", "10", "4.5"),
        &[("traceparent", &traceparent)],
    );
    assert_eq!(code, 200, "{body}");
    let statuses = ws.wait_final(&["otel-1".to_string()], Duration::from_secs(120));
    assert_eq!(statuses[0].1["status"], "completed", "{statuses:?}");

    // The trace id support reads in the events is the one of the trace.
    let events = ws.events("otel-1");
    assert!(events.len() >= 3, "{events:?}");
    for event in &events {
        assert_eq!(event["trace_id"], TRACE_ID, "{event}");
    }

    // Stopping right away still delivers the last spans (flushed at exit).
    ws.kill_and_wait();
    let spans = receiver.spans();
    let ours: Vec<&Span> = spans.iter().filter(|s| s.trace_id == TRACE_ID).collect();
    let names: Vec<&str> = ours.iter().map(|s| s.name.as_str()).collect();
    for expected in [
        "POST /create",
        "create order",
        "attempt",
        "login",
        "open case",
    ] {
        assert!(
            names.contains(&expected),
            "no {expected:?} span in the order's trace: {names:?}\nall: {spans:#?}"
        );
    }
    check_request_span(&ours);
    check_attempt_span(&ours);
    for span in &spans {
        for value in span.attributes.values() {
            assert!(!value.contains(PASSWORD), "password in span {span:?}");
        }
    }
    check_json_logs(&ws.proc.log());
}

/// The server span: semantic-convention name and attributes, child of the caller's span.
fn check_request_span(spans: &[&Span]) {
    let request = spans
        .iter()
        .find(|s| s.name == "POST /create")
        .expect("request span");
    assert_eq!(request.parent_span_id, CALLER_SPAN, "{request:?}");
    let attr = |k: &str| request.attributes.get(k).map(String::as_str);
    assert_eq!(attr("http.request.method"), Some("POST"), "{request:?}");
    assert_eq!(attr("http.route"), Some("/create"), "{request:?}");
    assert_eq!(
        attr("http.response.status_code"),
        Some("200"),
        "{request:?}"
    );
}

fn check_attempt_span(spans: &[&Span]) {
    let attempt = spans
        .iter()
        .find(|s| s.name == "attempt")
        .expect("attempt span");
    let attr = |k: &str| attempt.attributes.get(k).map(String::as_str);
    assert_eq!(attr("unique_id"), Some("otel-1"), "{attempt:?}");
    assert_eq!(attr("workshop"), Some("traced"), "{attempt:?}");
    assert_eq!(attr("attempt"), Some("1"), "{attempt:?}");
}

/// Every JSON line logged inside the order's spans names the workshop and the
/// order; no line shows the password.
fn check_json_logs(log: &str) {
    assert!(!log.contains(PASSWORD), "password in the log:\n{log}");
    let lines: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(!lines.is_empty(), "no JSON log lines:\n{log}");
    let in_order: Vec<&Value> = lines
        .iter()
        .filter(|l| {
            l["spans"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| s["name"] == "attempt"))
        })
        .collect();
    assert!(!in_order.is_empty(), "no line inside an attempt:\n{log}");
    for line in in_order {
        let spans = line["spans"].as_array().unwrap();
        let field = |k: &str| spans.iter().find_map(|s| s[k].as_str());
        assert_eq!(field("workshop"), Some("traced"), "{line}");
        assert_eq!(field("unique_id"), Some("otel-1"), "{line}");
    }
}

//! End-to-end tests: the real binary, the sandbox ERP over real HTTP, real
//! headless Chromium through real chromedriver, a real fjall log on disk.

mod check;
mod console;
mod console_a11y;
mod core_flow;
mod dashboards;
mod durability;
mod erp_quirks;
mod exposure;
mod faults;
mod grid;
mod host;
mod hygiene;
mod kill_loop;
mod legacy_log;
mod logins;
mod otel;
mod outage;
mod platform;
mod security;
mod settle;
mod switch;
